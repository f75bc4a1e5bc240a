#!/usr/bin/env bash
# Runs the test suite with every core kept busy, RUNS times (default 3): the tests must not
# depend on an idle machine. Uses stress-ng when it is installed, busy shell loops otherwise.
# Usage: scripts/test-under-load.sh [RUNS]   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
cores="$(nproc)"
hogs=()
cleanup() { for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$cores" --quiet &
  hogs+=("$!")
else
  for _ in $(seq "$cores"); do
    (while :; do :; done) &
    hogs+=("$!")
  done
fi
for run in $(seq "$runs"); do
  echo "test-under-load: run $run of $runs, $cores cores busy" >&2
  ctest --test-dir build --output-on-failure -j 2
done
