#!/usr/bin/env bash
# The quickstart's wall time and jobs/s, from a fresh dataset each time.
#   bench/quickstart.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
"$build/controller/wattfleet" run experiments/quickstart.yaml --agents 2 --db "$out/q.db" \
  --log-level warn > "$out/run.txt"
end=$(date +%s.%N)
grep -E "measurements in|export:" "$out/run.txt"
echo "wall (command, including agent start-up): $(echo "$end - $start" | bc) s"
