#!/usr/bin/env bash
# The "Modern architectures" figures of bench/RESULTS.md, from a dataset measured with
# experiments/cpu-modern.yaml, cpu-modern-b8.yaml, cpu-modern-b4.yaml and cpu-modern-full.yaml:
#   - grouped k-fold and leave-one-family-out on batches 1 and 8 (46 architectures each);
#   - size extrapolation: fitted on those, scored on the standard models at their own size
#     (campaign cpu-modern-full, held out);
#   - batch interpolation: the same fit scored on batch 4 (campaign cpu-modern-b4, held out).
#
#   bench/modern.sh DB [build-dir] [target]      target: time (default) | energy
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:?usage: bench/modern.sh DB [build-dir] [target]}
build=${2:-build}
target=${3:-time}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
copy="$out/modern.db"
# On a copy: fit stores its models in the dataset.
sqlite3 "$db" ".backup '$copy'"
estimators=macs,wattlayer,wattlayer-paper,measured-layers,pre
holdout=()
for c in cpu-modern-full cpu-modern-b4; do
  if [ "$(sqlite3 "$copy" "SELECT COUNT(*) FROM campaigns WHERE name = '$c'")" != 0 ]; then
    holdout+=(--holdout-campaign "$c")
  fi
done
# --include-flagged: the figures in bench/RESULTS.md were made before quality flags existed,
# on every measurement; without it, those that missed their CI target are left out.
if ! "$build/controller/wattfleet" fit --db "$copy" --target "$target" --split both \
    --include-flagged \
    "${holdout[@]}" --estimator "$estimators" --json > "$out/fit.json" 2> "$out/fit.err"; then
  cat "$out/fit.err" >&2
  exit 1
fi
/usr/bin/python3 - "$out/fit.json" "$target" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
target = sys.argv[2]
order = ["macs", "wattlayer-paper", "wattlayer", "measured-layers", "pre"]
rows = {}
for r in doc["results"]:
    rows[(r["split"], r["estimator"])] = r
def pct(x): return f"{100 * x:.1f} %"
def cov(r):
    i = r.get("interval")
    return "-" if not i or i.get("coverage") is None else f"{100 * i['coverage']:.0f} % (x/{i['factor']:.2f})"
print(f"target: {target} per iteration, median APE (p90) on held-out architectures")
print("| estimator | kfold | lofo | 224 px / full sequence (held out) | batch 4 (held out) | 90 % interval coverage, kfold |")
print("|---|---|---|---|---|---|")
for e in order:
    k, l, c = rows.get(("kfold", e)), rows.get(("lofo", e)), rows.get(("campaign", e))
    def cell(r):
        return "-" if not r or r["n"] == 0 else f"{pct(r['median_ape'])} ({pct(r['p90_ape'])}), n {r['n']}"
    def sub(batch):
        if not c or not c.get("points"): return "-"
        apes = sorted(abs(p["predicted"] / p["measured"] - 1) for p in c["points"] if (p["batch"] == 4) == (batch == 4))
        if not apes: return "-"
        med = apes[len(apes) // 2] if len(apes) % 2 else 0.5 * (apes[len(apes) // 2 - 1] + apes[len(apes) // 2])
        return f"{pct(med)}, n {len(apes)}"
    print(f"| {e} | {cell(k)} | {cell(l)} | {sub(1)} | {sub(4)} | {cov(k) if k else '-'} |")
print()
c = {e: rows.get(("campaign", e)) for e in order}
models = [p for p in (c["measured-layers"] or {}).get("points", []) if p["batch"] != 4]
if models and target == "time":
    print("Standard models at their own size, batch 1 (held out), predicted against measured:")
    print("| model | measured | " + " | ".join(order[::-1]) + " |")
    print("|---|---|" + "---|" * len(order))
    for p in models:
        cells = []
        for e in order[::-1]:
            q = [x for x in (c[e] or {}).get("points", []) if x["architecture"] == p["architecture"] and x["batch"] == p["batch"]]
            cells.append("-" if not q else f"{1e3 * q[0]['predicted']:.1f} ms ({100 * (q[0]['predicted'] / p['measured'] - 1):+.0f} %)")
        print(f"| {p['architecture']} | {1e3 * p['measured']:.1f} ms | " + " | ".join(cells) + " |")
EOF
