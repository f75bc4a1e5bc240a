#!/usr/bin/env bash
# A whole-model training job against the loop a PyTorch user writes, on this machine, one
# after the other: torchvision's ResNet-18 and MobileNetV2 (100 classes, 112 px) and a 2 x 256
# LSTM classifier, trained with Adam and cross-entropy at batch 2 and 8, one intra-op thread.
# wattfleet measures the zoo's architectures of the same shapes as whole-model jobs; the plain
# loop is zero_grad(set_to_none=True), forward, loss, backward, step over the framework's own
# modules, timed as the median of 5 windows of at least 0.5 s after 3 warm-up steps. The two
# alternate, ROUNDS times (default 3): each figure is the median over the rounds, so that a
# slow spell of the machine does not fall on one side only. bench/RESULTS.md "Training" has
# the table. The plain loop runs under glibc malloc's defaults, as a user's process does;
# LOOP_ALLOCATOR=pinned runs it in the regime the agent pins (docs/measurement.md), to tell
# the harness from the allocator.
#
#   [ROUNDS=3] [LOOP_ALLOCATOR=default|pinned] bench/training_loop.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat > "$out/loop.yaml" <<'YAML'
name: training-loop
mode: training
optimizer: adam
loss: cross-entropy
batch_size: [2, 8]
devices: [{class: cpu}]
measurement: {warmup_ms: 300, min_window_ms: 500, target_rel_ci: 0.03, min_repeats: 5,
              max_repeats: 8, cooldown_ms: 10}
architectures:
  - family: resnet
    sweep: {depth: [18], width: [100], resolution: [112], classes: [100]}
  - family: mobilenet_v2
    sweep: {width: [100], resolution: [112], classes: [100]}
  - family: lstm
    sweep: {layers: [2], hidden: [256], features: [64], seq: [64]}
plan:
  layers: none
  whole_models: true
YAML
rounds=${ROUNDS:-3}
loop_env=()
case ${LOOP_ALLOCATOR:-default} in
  default) ;;
  pinned) loop_env=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=67108864) ;;
  *) echo "bench/training_loop.sh: LOOP_ALLOCATOR must be default or pinned" >&2; exit 2 ;;
esac
for round in $(seq 1 "$rounds"); do
  "$build/controller/wattfleet" run "$out/loop.yaml" --agents 1 --threads 1 --fresh \
    --db "$out/loop-$round.db" > "$out/run.log" 2>&1 || { tail -20 "$out/run.log" >&2; exit 1; }
  sqlite3 -separator ' ' "$out/loop-$round.db" \
    "SELECT j.subject, j.batch, m.time_per_iter_s FROM jobs j JOIN measurements m ON m.job_id = j.id" \
    > "$out/wattfleet-$round.txt"
  env ${loop_env[@]+"${loop_env[@]}"} /usr/bin/python3 - "$out/wattfleet-$round.txt" \
    > "$out/plain-$round.txt" <<'PY'
import statistics, sys, time
import torch, torchvision
torch.set_num_threads(1)
torch.manual_seed(0)

class Lstm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(64, 256, 2, batch_first=True)
        self.head = torch.nn.Linear(256, 10)
    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])

models = {
    "resnet-d18-w100-r112-c100": (lambda: torchvision.models.resnet18(num_classes=100), (3, 112, 112), 100),
    "mobilenet_v2-w100-r112-c100": (lambda: torchvision.models.mobilenet_v2(num_classes=100), (3, 112, 112), 100),
    "lstm-l2-h256-i64-s64": (Lstm, (64, 64), 10),
}

def plain(make, shape, classes, batch):
    model = make().train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.randn(batch, *shape), torch.randint(0, classes, (batch,))
    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    for _ in range(3): step()
    windows = []
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - t0 < 0.5:
            step(); n += 1
        windows.append((time.perf_counter() - t0) / n)
    return statistics.median(windows)

for line in open(sys.argv[1]):
    name, batch, _ = line.split()
    make, shape, classes = models[name]
    print(name, batch, plain(make, shape, classes, int(batch)))
PY
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import statistics, sys
import torch, torchvision
out, rounds = sys.argv[1], int(sys.argv[2])
def read(kind):
    by = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{kind}-{r}.txt"):
            name, batch, t = line.split()
            by.setdefault((name, int(batch)), []).append(float(t))
    return by
ours, plain = read("wattfleet"), read("plain")
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, 1 thread, "
      f"{rounds} rounds, medians")
print("| model | batch | wattfleet whole-model job | plain PyTorch loop | ratio (per round) |")
print("|---|---|---|---|---|")
for key in sorted(ours):
    o, p = statistics.median(ours[key]), statistics.median(plain[key])
    per = ", ".join(f"{a / b:.2f}" for a, b in zip(ours[key], plain[key]))
    print(f"| {key[0]} | {key[1]} | {1e3 * o:.1f} ms | {1e3 * p:.1f} ms | {o / p:.3f} ({per}) |")
PY
