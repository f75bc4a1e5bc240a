#!/usr/bin/env bash
# Predicting from a small dataset, checked against measurements of the same session: the
# quickstart campaign (three small networks at batch 16), then resnet18, mobilenet_v2 and a
# small ViT (4 layers, width 192) predicted at batch 1 from it and measured whole at batch 1,
# on the same machine, one after the other.
#
#   bench/small_data.sh [OUT_DIR]        (default /tmp/wattfleet-small-data)
#
# Prints, per model: the estimate with its 90 % interval and reach, the measurement, their
# ratio, and whether the interval holds it.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/wattfleet-small-data}"
wf=build/controller/wattfleet
mkdir -p "$out"
rm -f "$out/quickstart.db" "$out/whole.db"

cat > "$out/whole.yaml" <<'EOF'
name: small-data-check
mode: inference
dtype: float32
batch_size: 1
devices:
  - class: cpu
measurement: {warmup_ms: 200, min_window_ms: 300, target_rel_ci: 0.05, min_repeats: 3,
              max_repeats: 10, cooldown_ms: 20}
architectures:
  - zoo: resnet18
  - zoo: mobilenet_v2
  - family: vit
    sweep: {layers: [4], hidden: [192], heads: [3], mlp: [768]}
plan:
  layers: none
  whole_models: true
EOF

"$wf" run experiments/quickstart.yaml --agents 1 --db "$out/quickstart.db" >"$out/quickstart.log" 2>&1
"$wf" run "$out/whole.yaml" --agents 1 --db "$out/whole.db" >"$out/whole.log" 2>&1
"$wf" export --db "$out/whole.db" --format jsonl --out "$out/whole.jsonl" 2>/dev/null

vit=vit-l4-d192-h3-m768-p16-r224
for arch in resnet18 mobilenet_v2 "$vit"; do
  extra=()
  [ "$arch" = "$vit" ] && extra=(--campaign-file "$out/whole.yaml")
  "$wf" predict --db "$out/quickstart.db" --device cpu --arch "$arch" "${extra[@]}" --batch 1 \
    --json >"$out/predict-$arch.json"
done

/usr/bin/env python3 - "$out" "$vit" <<'EOF'
import json, sys
out, vit = sys.argv[1], sys.argv[2]
measured = {}
for line in open(f"{out}/whole.jsonl"):
    row = json.loads(line)
    measured[row["architecture"]] = row
print(f'{"model":30} {"estimate ms":>11} {"90% interval ms":>19} {"measured ms":>11} '
      f'{"ratio":>6} {"inside":>6}  reach')
for arch in ("resnet18", "mobilenet_v2", vit):
    p = json.load(open(f"{out}/predict-{arch}.json"))
    m = measured[arch]["time_s"]
    lo, hi = p["time_s_interval"]
    inside = "yes" if lo <= m <= hi else "no"
    print(f'{arch:30} {1e3 * p["time_s"]:11.2f} {1e3 * lo:8.2f}-{1e3 * hi:<10.2f} '
          f'{1e3 * m:11.2f} {p["time_s"] / m:6.2f} {inside:>6}  {p["reach_text"]}')
EOF
