#!/usr/bin/env bash
# What a training step costs beyond its layers, per optimiser: four campaigns of the same four
# small networks (a ResNet-18, a BERT-like encoder with an 8 000-word vocabulary, a 2 x 128 LSTM
# and an MLP) at batch 8, one per optimiser (sgd, sgd-momentum, adam, adamw), every layer,
# the loss and the update measured alone and every whole step. Prints, per optimiser and
# network, the update's cost, its cost per parameter, its share of the step, and the
# step's measured layers over the whole step. bench/RESULTS.md "Training" has the table.
#
#   bench/optimizers.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for optimizer in sgd sgd-momentum adam adamw; do
  cat > "$out/$optimizer.yaml" <<YAML
name: step-$optimizer
mode: training
optimizer: $optimizer
loss: cross-entropy
batch_size: 8
devices: [{class: cpu}]
measurement: {warmup_ms: 50, min_window_ms: 100, target_rel_ci: 0.05, min_repeats: 3,
              max_repeats: 6, cooldown_ms: 10}
architectures:
  - family: resnet
    sweep: {depth: [18], width: [25], resolution: [32], classes: [10]}
  - family: bert
    sweep: {layers: [2], d_model: [128], heads: [4], seq: [16], vocab: [8000]}
  - family: lstm
    sweep: {layers: [2], hidden: [128], features: [32], seq: [16]}
  - family: mlp
    sweep: {depth: [2], width: [512], input: [[1, 28, 28]]}
plan:
  layers: distinct
  whole_models: true
YAML
  "$build/controller/wattfleet" run "$out/$optimizer.yaml" --agents 1 --threads 1 \
    --db "$out/steps.db" > "$out/$optimizer.log" 2>&1 || { tail -20 "$out/$optimizer.log" >&2; exit 1; }
done
/usr/bin/python3 - "$out/steps.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""
SELECT c.name, a.name, m.time_per_iter_s,
  (SELECT SUM(lm.time_per_iter_s) FROM arch_layers al
     JOIN jobs lj ON lj.subject = al.layer_key AND lj.kind = 'layer' AND lj.campaign_id = c.id
     JOIN measurements lm ON lm.job_id = lj.id WHERE al.architecture_id = a.id),
  (SELECT lm.time_per_iter_s FROM arch_layers al
     JOIN jobs lj ON lj.subject = al.layer_key AND lj.kind = 'layer' AND lj.campaign_id = c.id
     JOIN measurements lm ON lm.job_id = lj.id
   WHERE al.architecture_id = a.id AND al.node_name = 'optimizer'),
  (SELECT lm.time_per_iter_s FROM arch_layers al
     JOIN jobs lj ON lj.subject = al.layer_key AND lj.kind = 'layer' AND lj.campaign_id = c.id
     JOIN measurements lm ON lm.job_id = lj.id
   WHERE al.architecture_id = a.id AND al.node_name = 'loss'),
  a.params
FROM campaigns c JOIN architectures a ON a.campaign_id = c.id
JOIN jobs j ON j.campaign_id = c.id AND j.kind = 'model' AND j.subject = a.name
JOIN measurements m ON m.job_id = j.id ORDER BY c.id, a.id""").fetchall()
print("| optimiser | network | parameters | whole step | update | per parameter | update / step | loss | layers / step |")
print("|---|---|---|---|---|---|---|---|---|")
for camp, arch, whole, layers, update, loss, params in rows:
    print(f"| {camp[5:]} | {arch} | {params / 1e6:.2f} M | {1e3 * whole:.2f} ms | "
          f"{1e3 * update:.3f} ms | {1e9 * update / params:.2f} ns | {update / whole:.2f} | "
          f"{1e3 * loss:.3f} ms | {layers / whole:.2f} |")
PY
