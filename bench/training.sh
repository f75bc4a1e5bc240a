#!/usr/bin/env bash
# The "Training" figures of bench/RESULTS.md, from a dataset measured with
# experiments/cpu-train.yaml and cpu-train-full.yaml (the commands are in cpu-train.yaml):
#   - grouped k-fold and leave-one-family-out over cpu-train's architectures, every estimator
#     THOR included, on the same split;
#   - the standard models of cpu-train-full (held out, whole steps only): each one's error;
#   - the layer-sum table: per family, a training step's measured layers (its loss and its
#     optimiser's update included) against the whole step measured.
#
#   [FIT_FLAGS=--include-flagged] bench/training.sh DB [build-dir] [target]
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:?usage: bench/training.sh DB [build-dir] [target]}
build=${2:-build}
target=${3:-time}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
copy="$out/train.db"
# On a copy: fit stores its models in the dataset.
sqlite3 "$db" ".backup '$copy'"
sqlite3 -separator ' ' "$copy" "SELECT DISTINCT name, family FROM architectures" > "$out/families"
if [ "$(sqlite3 "$copy" "SELECT COUNT(*) FROM campaigns WHERE name = 'cpu-train-full'")" = 0 ]; then
  echo "bench/training.sh: $db holds no campaign cpu-train-full (the held-out standard models)" >&2
  exit 2
fi
estimators=macs,pre,thor,wattlayer-paper,wattlayer,measured-layers
if ! "$build/controller/wattfleet" fit --db "$copy" --target "$target" --split both \
    --holdout-campaign cpu-train-full --estimator "$estimators" --json ${FIT_FLAGS:-} \
    > "$out/fit.json" 2> "$out/fit.err"; then
  cat "$out/fit.err" >&2
  exit 1
fi
/usr/bin/python3 - "$out/fit.json" "$out/families" "$target" "$copy" <<'PY'
import json, sqlite3, statistics, sys
doc = json.load(open(sys.argv[1]))
family = dict(line.split() for line in open(sys.argv[2]) if line.strip())
target = sys.argv[3]
unit, scale = ("ms", 1e3) if target == "time" else ("J", 1.0)
order = ["macs", "pre", "thor", "wattlayer-paper", "wattlayer", "measured-layers"]
rows = {(r["split"], r["estimator"]): r for r in doc["results"]
        if r["mode"] == "training" and r["level"] == "architecture"}
def pct(x): return f"{100 * x:.1f} %"
def cell(r):
    if not r: return "-"
    if r["n"] == 0: return "- (" + r["error"][:60] + ")"
    return f"{pct(r['median_ape'])} / {pct(r['p90_ape'])} (n {r['n']})"
print(f"training, target: {target} per step, median APE / p90 APE (n)")
print("| estimator | k-fold | leave-one-family-out | held out (cpu-train-full) |")
print("|---|---|---|---|")
for e in order:
    print(f"| {e} | {cell(rows.get(('kfold', e)))} | {cell(rows.get(('lofo', e)))} | "
          f"{cell(rows.get(('campaign', e)))} |")
print()
print("Held-out standard models, predicted against measured (whole training steps):")
print("| model | batch | measured | " + " | ".join(order[::-1]) + " |")
print("|---|---|---|" + "---|" * len(order))
base = (rows.get(("campaign", "measured-layers")) or {}).get("points", [])
for p in base:
    cells = []
    for e in order[::-1]:
        q = [x for x in (rows.get(("campaign", e)) or {}).get("points", [])
             if x["architecture"] == p["architecture"] and x["batch"] == p["batch"]]
        cells.append("-" if not q else
                     f"{scale * q[0]['predicted']:.1f} ({100 * (q[0]['predicted'] / p['measured'] - 1):+.0f} %)")
    print(f"| {p['architecture']} | {p['batch']} | {scale * p['measured']:.1f} {unit} | "
          + " | ".join(cells) + " |")

# Layer sums: every layer of a measured whole step, its loss and update included, measured
# alone at the step's batch, against the step.
db = sqlite3.connect(sys.argv[4])
q = """
SELECT a.name, a.family, j.batch, m.time_per_iter_s,
  (SELECT SUM(lm.time_per_iter_s) FROM arch_layers al
     JOIN jobs lj ON lj.subject = al.layer_key AND lj.kind = 'layer' AND lj.batch = j.batch
                  AND lj.campaign_id = j.campaign_id
     JOIN measurements lm ON lm.job_id = lj.id
   WHERE al.architecture_id = a.id),
  (SELECT COUNT(*) FROM arch_layers al WHERE al.architecture_id = a.id),
  (SELECT COUNT(*) FROM arch_layers al
     JOIN jobs lj ON lj.subject = al.layer_key AND lj.kind = 'layer' AND lj.batch = j.batch
                  AND lj.campaign_id = j.campaign_id
     JOIN measurements lm ON lm.job_id = lj.id
   WHERE al.architecture_id = a.id)
FROM jobs j JOIN measurements m ON m.job_id = j.id
JOIN campaigns c ON c.id = j.campaign_id
JOIN architectures a ON a.campaign_id = j.campaign_id AND a.name = j.subject
WHERE j.kind = 'model' AND c.mode = 'training'"""
ratios = {}
for name, fam, batch, whole, layers, n, measured in db.execute(q):
    if not layers or n != measured: continue
    ratios.setdefault(fam, []).append(layers / whole)
print()
print("Layer sums in training (the step's measured layers, loss and update included, over the "
      "whole step measured):")
print("| family | steps | min | median | max |")
print("|---|---|---|---|---|")
for fam in sorted(ratios):
    r = ratios[fam]
    print(f"| {fam} | {len(r)} | {min(r):.2f} | {statistics.median(r):.2f} | {max(r):.2f} |")
every = [x for r in ratios.values() for x in r]
if every:
    print(f"| all | {len(every)} | {min(every):.2f} | {statistics.median(every):.2f} | {max(every):.2f} |")

# The step's parts: the update per parameter, the loss, and their share of the step.
print()
print("Training step parts measured (per step):")
print("| part | jobs | cost range | median per parameter (a loss: per logit) |")
print("|---|---|---|---|")
parts = """
SELECT l.type, l.input_elements, l.params, j.batch, m.time_per_iter_s, l.params_json
FROM jobs j JOIN measurements m ON m.job_id = j.id JOIN layers l ON l.key = j.subject
WHERE j.kind = 'layer' AND l.type IN ('SGDStep', 'SGDMomentumStep', 'AdamStep', 'AdamWStep',
                                       'CrossEntropyLoss', 'MSELoss')"""
by = {}
for typ, inp, params, batch, t, pj in db.execute(parts):
    work = params if params > 0 else inp * batch
    by.setdefault(typ, []).append((t, work))
for typ, v in sorted(by.items()):
    ts = [t for t, _ in v]
    per = statistics.median(t / w for t, w in v if w > 0)
    print(f"| {typ} | {len(v)} | {scale * min(ts):.3g}-{scale * max(ts):.3g} {unit} | "
          f"{per * 1e9:.2f} ns |")
PY
