#!/usr/bin/env bash
# Interference rejection, measured: the quickstart campaign on this machine (1 agent, 1
# thread) four times, and each job's time per iteration compared with the quiet run's:
#   quiet      nothing else running
#   rejecting  a bursty CPU hog beside it (every core busy 0.3 s of every 1.5 s), with the
#              default measurement.max_interference (0.25 cores)
#   accepting  the same hog, rejection off (max_interference 4096: every window kept)
#   steady     two busy loops per core all the time (a load of twice the core count)
# Each run must end with every job measured and exit 0, flagged or not: the table shows both.
# Usage: bench/interference.sh [OUTDIR]   (after scripts/build.sh; about 7 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/bench-interference}"
mkdir -p "$out"
rm -f "$out"/*.db "$out"/*.db-* "$out"/*.csv
rm -rf "$out"/*.spool
bin=./build/controller/wattfleet
accepting="$out/quickstart-accepting.yaml"
sed 's/^  cooldown_ms: 20 .*/  cooldown_ms: 20\n  max_interference: 4096/' experiments/quickstart.yaml > "$accepting"

hog() {  # bursts on every core until killed
  local cores
  cores="$(nproc)"
  while :; do
    for _ in $(seq "$cores"); do timeout 0.3 sh -c 'while :; do :; done' & done
    wait
    sleep 1.2
  done
}
run() {  # NAME CAMPAIGN: wall seconds and exit code into $out/NAME.wall
  local start end rc=0
  start=$(date +%s.%N)
  "$bin" run "$2" --agents 1 --threads 1 --db "$out/$1.db" --out "$out/$1.csv" \
    > "$out/$1.log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  echo "$start $end $rc" > "$out/$1.wall"
}

run quiet experiments/quickstart.yaml
hog & hog_pid=$!
trap 'kill $hog_pid 2>/dev/null; pkill -P $hog_pid 2>/dev/null || true' EXIT
run rejecting experiments/quickstart.yaml
run accepting "$accepting"
kill $hog_pid; pkill -P $hog_pid 2>/dev/null || true
# Two busy loops per core, each killed by its own pid (a loop orphaned by its parent's end
# would outlive the script).
steady_pids=()
for _ in $(seq $((2 * $(nproc)))); do
  sh -c 'while :; do :; done' &
  steady_pids+=("$!")
done
trap 'kill "${steady_pids[@]}" 2>/dev/null || true' EXIT
run steady experiments/quickstart.yaml
kill "${steady_pids[@]}" 2>/dev/null || true; trap - EXIT

/usr/bin/python3 - "$out" <<'PY'
import csv, statistics, sys
out = sys.argv[1]
def load(name):
    rows = {}
    with open(f"{out}/{name}.csv") as f:
        for r in csv.DictReader(f):
            rows[(r["kind"], r["layer_key"] or r["architecture"])] = r
    return rows
quiet = load("quiet")
print(f"{'run':10s} {'exit':>4s} {'jobs':>5s} {'time within 10%':>15s} {'median |dt|':>11s} {'max |dt|':>9s} "
      f"{'median |dE|':>11s} {'discarded':>9s} {'flagged':>8s} {'wall s':>7s}  flags")
for name in ("quiet", "rejecting", "accepting", "steady"):
    rows = load(name)
    dev, edev = [], []
    for k, r in rows.items():
        if k in quiet:
            dev.append(abs(float(r["time_s"]) / float(quiet[k]["time_s"]) - 1))
            edev.append(abs(float(r["energy_j"]) / float(quiet[k]["energy_j"]) - 1))
    within = sum(d <= 0.10 for d in dev)
    disc = sum(int(r["windows_discarded"] or 0) for r in rows.values())
    flagged = sum(1 for r in rows.values() if r["quality_flags"])
    kinds = {}
    for r in rows.values():
        for f in filter(None, r["quality_flags"].split(";")):
            kinds[f] = kinds.get(f, 0) + 1
    start, end, rc = open(f"{out}/{name}.wall").read().split()
    wall = float(end) - float(start)
    print(f"{name:10s} {rc:>4s} {len(rows):5d} {within:11d}/{len(dev):<3d} {100*statistics.median(dev):10.1f}% "
          f"{100*max(dev):8.1f}% {100*statistics.median(edev):10.1f}% {disc:9d} {flagged:8d} "
          f"{wall:7.1f}  {kinds}")
PY
