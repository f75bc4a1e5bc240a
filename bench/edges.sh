#!/usr/bin/env bash
# The "Architectures unlike the ones measured" figures of bench/RESULTS.md, from a dataset
# measured with experiments/cpu-modern.yaml, cpu-modern-b8.yaml, cpu-edges.yaml,
# cpu-edges-b8.yaml and cpu-edges-full.yaml (the commands are in cpu-edges.yaml):
#   - grouped k-fold and leave-one-family-out over the small architectures of the others;
#   - the standard models at their own size (campaign cpu-edges-full, held out): each one's
#     error, the share within +-10 %, and the worst error per family.
#
#   [FIT_FLAGS=--include-flagged] bench/edges.sh DB [build-dir] [target]
#       target: time (default) | energy; FIT_FLAGS: extra flags for `wattfleet fit` (the
#       figures in bench/RESULTS.md train on flagged measurements too)
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:?usage: bench/edges.sh DB [build-dir] [target]}
build=${2:-build}
target=${3:-time}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
copy="$out/edges.db"
# On a copy: fit stores its models in the dataset.
sqlite3 "$db" ".backup '$copy'"
sqlite3 -separator ' ' "$copy" "SELECT DISTINCT name, family FROM architectures" > "$out/families"
if [ "$(sqlite3 "$copy" "SELECT COUNT(*) FROM campaigns WHERE name = 'cpu-edges-full'")" = 0 ]; then
  echo "bench/edges.sh: $db holds no campaign cpu-edges-full (the held-out standard models)" >&2
  exit 2
fi
estimators=macs,wattlayer,measured-layers,pre
if ! "$build/controller/wattfleet" fit --db "$copy" --target "$target" --split both \
    --holdout-campaign cpu-edges-full --estimator "$estimators" --json ${FIT_FLAGS:-} \
    > "$out/fit.json" 2> "$out/fit.err"; then
  cat "$out/fit.err" >&2
  exit 1
fi
/usr/bin/python3 - "$out/fit.json" "$out/families" "$target" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
family = dict(line.split() for line in open(sys.argv[2]) if line.strip())
unit, scale = ("ms", 1e3) if sys.argv[3] == "time" else ("J", 1.0)
order = ["macs", "pre", "wattlayer", "measured-layers"]
rows = {(r["split"], r["estimator"]): r for r in doc["results"]}
def pct(x): return f"{100 * x:.1f} %"
print(f"target: {sys.argv[3]} per iteration, median APE (p90)")
print("| estimator | k-fold | leave-one-family-out | held out: median APE | within +-10 % | worst family (its worst error) | held out in the 90 % interval: conformal / small-data |")
print("|---|---|---|---|---|---|---|")
for e in order:
    k, l, c = rows.get(("kfold", e)), rows.get(("lofo", e)), rows.get(("campaign", e))
    def cell(r):
        return "-" if not r or r["n"] == 0 else f"{pct(r['median_ape'])} ({pct(r['p90_ape'])})"
    pts = (c or {}).get("points", [])
    errs = [p["predicted"] / p["measured"] - 1 for p in pts]
    within = sum(abs(x) <= 0.10 for x in errs)
    worst = {}
    for p, x in zip(pts, errs):
        f = family.get(p["architecture"], "?")
        if abs(x) > abs(worst.get(f, 0)): worst[f] = x
    wf = max(worst.items(), key=lambda kv: abs(kv[1])) if worst else ("-", 0)
    def cover(key):
        i = (c or {}).get(key)
        return "-" if not i or i.get("coverage") is None else f"{100 * i['coverage']:.0f} %"
    print(f"| {e} | {cell(k)} | {cell(l)} | {cell(c)} | {within}/{len(errs)} | "
          f"{wf[0]} ({100 * wf[1]:+.0f} %) | {cover('interval')} / {cover('small_data_interval')} |")
print()
print("Standard models at their own size, batch 1 (held out), predicted against measured:")
print("| model | family | measured | " + " | ".join(order[::-1]) + " |")
print("|---|---|---|" + "---|" * len(order))
base = (rows.get(("campaign", "measured-layers")) or {}).get("points", [])
for p in base:
    cells = []
    for e in order[::-1]:
        q = [x for x in (rows.get(("campaign", e)) or {}).get("points", [])
             if x["architecture"] == p["architecture"] and x["batch"] == p["batch"]]
        cells.append("-" if not q else
                     f"{scale * q[0]['predicted']:.1f} {unit} ({100 * (q[0]['predicted'] / p['measured'] - 1):+.0f} %)")
    print(f"| {p['architecture']} | {family.get(p['architecture'], '?')} | "
          f"{scale * p['measured']:.1f} {unit} | " + " | ".join(cells) + " |")
PY
