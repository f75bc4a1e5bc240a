#!/usr/bin/env bash
# One self-contained check of wattfleet on an NVIDIA GPU (docs/operations.md, "Checking a GPU
# machine"): builds the controller and the agent against the libtorch of the PyTorch that
# python3 imports, runs a short campaign on the GPU with the nvml sensor (GEMM-heavy Linear
# and Conv2d layers, one ResNet-18), and checks what the measurements rest on:
#
#   1. NVML's energy counter against its own power readings x time, over 20 s of a steady
#      GEMM load entered 3 s before (power readings are 1 s averages on recent GPUs): 5 %;
#   2. every measurement's repeat CI within 5 %;
#   3. time per iteration of a 4096 x 4096 Linear layer within 10 % of torch.cuda.Event
#      timing of the same layer in Python;
#   4. the layer-sum / whole-model ratio of each model, reported (and flagged outside 1/3-3x).
#
# It prints one verdict line, "gpu-check: PASS ..." or "gpu-check: FAIL ...", and leaves the
# dataset, its CSV export, an HTML report and every log under --out.
#
# A GPU machine may have no package registry: `--fetch-debs DIR` (on a Debian 12 machine that
# has one) downloads the build's library dependencies as .deb files, and `--debs DIR` (on the
# GPU machine, which brings cmake, a C++17 compiler and make) unpacks them into a prefix under
# --out that the build and the binaries then use.
#
# `--device cpu` runs the same steps on the CPU with the modeled sensor and Debian's libtorch
# (smaller layers; check 1 does not apply, check 3 times with perf_counter): the path the
# project's tests take on machines without a GPU.
#
# Exit status: 0 PASS, 1 FAIL (or a step that failed), 2 bad arguments.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/gpu-check.sh [--device cuda:N|cpu] [--out DIR] [--python PYTHON]
                            [--build-dir DIR] [--skip-build] [--debs DIR] [--unpack-only]
                            [--fetch-debs DIR] [--jobs N]

  --device       cuda:N (default cuda:0), as the CUDA runtime numbers GPUs; or cpu
  --out          where the dataset, export, report and logs go (default out/gpu-check)
  --python       the python3 whose PyTorch is built against and times the layer (default python3)
  --build-dir    build folder (default build-gpu-check under --out)
  --skip-build   use the binaries already in --build-dir
  --debs         unpack the .deb files of DIR into a prefix and build with it
  --unpack-only  with --debs: unpack, write the prefix's environment, stop
  --fetch-debs   download the build's dependencies as .deb files into DIR and stop
  --jobs         parallel build jobs (default: every core)
EOF
}

die_usage() { echo "gpu-check: $*" >&2; usage >&2; exit 2; }
die() { echo "gpu-check: FAIL: $*"; exit 1; }

here=$(cd "$(dirname "$0")/.." && pwd)
device=cuda:0 out=out/gpu-check python=python3 build_dir="" skip_build=0
debs="" unpack_only=0 fetch_debs="" jobs=$(nproc)
while [ $# -gt 0 ]; do
  case $1 in
    --device|--out|--python|--build-dir|--debs|--fetch-debs|--jobs)
      [ $# -ge 2 ] || die_usage "$1 needs a value"
      case $1 in
        --device) device=$2 ;; --out) out=$2 ;; --python) python=$2 ;;
        --build-dir) build_dir=$2 ;; --debs) debs=$2 ;; --fetch-debs) fetch_debs=$2 ;;
        --jobs) jobs=$2 ;;
      esac
      shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --unpack-only) unpack_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
done
[[ $device =~ ^(cpu|cuda:[0-9]+)$ ]] || die_usage "--device must be cuda:N or cpu, got '$device'"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die_usage "--jobs must be a positive integer, got '$jobs'"
[ "$unpack_only" = 0 ] || [ -n "$debs" ] || die_usage "--unpack-only goes with --debs"

# The libraries the controller and the agent build against (scripts/bootstrap.sh installs the
# same with apt-get); libtorch comes from the PyTorch instead. The toolchain (cmake >= 3.20,
# a C++17 compiler, make) is the GPU machine's own: a compiler does not run from a prefix.
packages="pkgconf libpkgconf3 cppzmq-dev libzmq3-dev libzmq5 libmsgpack-cxx-dev
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libcli11-dev nlohmann-json3-dev libsodium-dev
  libsodium23 libyaml-cpp-dev libyaml-cpp0.7 libsqlite3-dev libsqlite3-0 libpq-dev libpq5
  libeigen3-dev libmicrohttpd-dev libmicrohttpd12 libzip-dev libzip4 libcpp-httplib-dev libcpp-httplib0.11 libssl-dev libssl3 libbrotli-dev
  libbrotli1 zlib1g-dev"

if [ -n "$fetch_debs" ]; then
  mkdir -p "$fetch_debs"
  # shellcheck disable=SC2086
  (cd "$fetch_debs" && apt-get download $packages) || die "apt-get download failed"
  echo "gpu-check: $(ls "$fetch_debs"/*.deb | wc -l) packages in $fetch_debs; copy them to the GPU machine and pass --debs"
  exit 0
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
build_dir=${build_dir:-$out/build}

# Debian packages unpacked into a prefix: found by CMake and pkg-config at build time and by
# the loader at run time, without installing anything.
if [ -n "$debs" ]; then
  [ -d "$debs" ] || die_usage "--debs: no folder $debs"
  prefix=$out/prefix
  mkdir -p "$prefix"
  n=0
  for deb in "$debs"/*.deb; do
    [ -e "$deb" ] || die "--debs: no .deb file in $debs"
    dpkg-deb -x "$deb" "$prefix" || die "cannot unpack $deb"
    n=$((n + 1))
  done
  multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  cat > "$out/prefix.env" <<EOF
export CMAKE_PREFIX_PATH="$prefix/usr\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
# Only the prefix's .pc files: the sysroot below would misplace the system's own.
export PKG_CONFIG_LIBDIR="$prefix/usr/lib/$multiarch/pkgconfig:$prefix/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$prefix"
# The packages' .pc files say /usr/include and /usr/lib, which pkg-config would drop as the
# system's own: kept, they come out under the prefix.
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
export LD_LIBRARY_PATH="$prefix/usr/lib/$multiarch\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export LIBRARY_PATH="$prefix/usr/lib/$multiarch\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
export PATH="$prefix/usr/bin:\$PATH"
export CPATH="$prefix/usr/include\${CPATH:+:\$CPATH}"
EOF
  echo "gpu-check: unpacked $n packages into $prefix (environment: $out/prefix.env)"
  [ "$unpack_only" = 1 ] && exit 0
  # shellcheck disable=SC1091
  . "$out/prefix.env"
fi

if [ "$device" = cpu ]; then
  sensor=modeled class=cpu
else
  sensor=nvml class=cuda
  # One numbering for the agent, NVML and the Python check below: NVML's, by PCI bus.
  [ -z "${CUDA_VISIBLE_DEVICES:-}" ] ||
    die_usage "unset CUDA_VISIBLE_DEVICES and pick the GPU with --device cuda:N (PCI bus order)"
  export CUDA_DEVICE_ORDER=PCI_BUS_ID
fi

if [ "$skip_build" = 0 ]; then
  cmake_args=(-DWATTFLEET_BUILD_TESTS=OFF -DWATTFLEET_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Release)
  [ "$device" = cpu ] || cmake_args+=(-DWATTFLEET_TORCH_FROM_PYTHON=ON "-DPython3_EXECUTABLE=$(command -v "$python")")
  cmake -S "$here" -B "$build_dir" "${cmake_args[@]}" > "$out/configure.log" 2>&1 ||
    die "configure failed (see $out/configure.log)"
  cmake --build "$build_dir" -j "$jobs" --target wattfleet wattfleet-agent > "$out/build.log" 2>&1 ||
    die "build failed (see $out/build.log)"
fi
wattfleet=$build_dir/controller/wattfleet
agent=$build_dir/agent/wattfleet-agent
[ -x "$wattfleet" ] && [ -x "$agent" ] || die "no binaries in $build_dir (build first, or drop --skip-build)"

# The campaign: GEMM-heavy Linear layers, Conv2d layers, one ResNet-sized model. The CPU path
# keeps the same shape of campaign at sizes a small machine measures in a minute.
if [ "$device" = cpu ]; then
  width=512 batch=4 window=200 repeats=6 model=lenet5 cnn_input="[3, 32, 32]" cnn_width=8
  threads=1
else
  width=4096 batch=64 window=1000 repeats=20 model=resnet18 cnn_input="[3, 224, 224]"
  cnn_width=64 threads=0
fi
cat > "$out/campaign.yaml" <<EOF
name: gpu-check
mode: inference
dtype: float32
batch_size: $batch
devices:
  - class: $class
measurement:
  warmup_ms: 200
  min_window_ms: $window
  target_rel_ci: 0.05
  min_repeats: 3
  max_repeats: $repeats
  cooldown_ms: 50
architectures:
  - family: mlp
    sweep: {depth: [2], width: [$width], input: [$width]}
  - family: cnn
    sweep: {depth: [3], width: [$cnn_width], input: [$cnn_input]}
  - zoo: $model
plan:
  layers: distinct
  whole_models: true
estimators: [macs]
EOF

db=$out/gpu-check.db
rm -f "$db" "$db-wal" "$db-shm"
ready=$out/ready.json
rm -f "$ready"
"$wattfleet" serve --db "$db" --bind tcp://127.0.0.1:* --admin "ipc://$out/admin/socket" \
  --ready-file "$ready" > "$out/serve.log" 2>&1 &
serve_pid=$!
agent_pid=""
cleanup() {
  [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null || true
  kill "$serve_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  [ -s "$ready" ] && break
  kill -0 "$serve_pid" 2>/dev/null || die "the controller did not start (see $out/serve.log)"
  sleep 0.1
done
[ -s "$ready" ] || die "the controller never listened (see $out/serve.log)"
endpoint=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$ready") ||
  die "$python cannot read $ready"
admin=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$ready") ||
  die "$python cannot read $ready"

"$agent" --controller "$endpoint" --name gpu-check-agent --device "$device" \
  --device-class "$class" --sensor "$sensor" --threads "$threads" \
  --spool "$out/spool" > "$out/agent.log" 2>&1 &
agent_pid=$!
# Bounded: an agent that dies at start-up leaves the campaign waiting forever.
timeout 7200 "$wattfleet" submit "$out/campaign.yaml" --admin "$admin" --wait \
  > "$out/submit.log" 2>&1 ||
  die "the campaign did not finish within 2 h (see $out/submit.log, $out/agent.log)"
kill -0 "$agent_pid" 2>/dev/null || die "the agent exited (see $out/agent.log)"
"$wattfleet" export --db "$db" --format csv --out "$out/gpu-check.csv" > "$out/export.log" 2>&1 ||
  die "export failed (see $out/export.log)"
"$wattfleet" report --db "$db" --out "$out/report.html" > "$out/report.log" 2>&1 ||
  die "report failed (see $out/report.log)"

# The checks, in Python: the reference timing needs PyTorch, the NVML check ctypes.
"$python" - "$device" "$db" "$out/gpu-check.csv" "$width" "$batch" "$threads" <<'PY'
import csv, ctypes, sqlite3, sys, threading, time

device, db, export, width, batch, threads = sys.argv[1:7]
width, batch, threads = int(width), int(batch), int(threads)
on_gpu = device != "cpu"
problems, figures = [], []

rows = list(csv.DictReader(open(export)))
if not rows:
    print("gpu-check: FAIL: the campaign stored no measurement")
    sys.exit(1)

# 2. Repeat CI.
met = [r for r in rows if r["rel_ci"] and float(r["rel_ci"]) <= 0.05]
figures.append(f"CI within 5 % for {len(met)}/{len(rows)} measurements")
if len(met) < len(rows):
    worst = max(float(r["rel_ci"] or "inf") for r in rows)
    problems.append(f"{len(rows) - len(met)} measurements missed the 5 % CI (worst {worst:.3f})")

# 3. The width x width Linear layer against PyTorch's own timing of it.
macs = batch * width * width
linear = [r for r in rows if r["layer_type"] == "Linear" and int(r["macs"]) == macs]
try:
    import torch
except ImportError:
    torch = None
if not linear:
    problems.append(f"no Linear layer of {macs} MACs measured")
elif torch is None:
    problems.append(f"{sys.executable} cannot import torch: no reference timing")
else:
    dev = torch.device(device)
    if not on_gpu and threads > 0:
        torch.set_num_threads(threads)
    layer = torch.nn.Linear(width, width).to(dev).eval()
    x = torch.randn(batch, width, device=dev)
    with torch.inference_mode():
        for _ in range(20):
            layer(x)
        n = 200 if on_gpu else 50
        if on_gpu:
            torch.cuda.synchronize(dev)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(n):
                layer(x)
            end.record()
            torch.cuda.synchronize(dev)
            ref = start.elapsed_time(end) / 1000 / n
        else:
            t0 = time.perf_counter()
            for _ in range(n):
                layer(x)
            ref = (time.perf_counter() - t0) / n
    ours = float(linear[0]["time_s"])
    off = abs(ours - ref) / ref
    clock = "torch.cuda.Event" if on_gpu else "perf_counter"
    figures.append(f"Linear {width}x{width} {ours * 1e3:.3f} ms vs {clock} {ref * 1e3:.3f} ms ({off:.1%})")
    if off > 0.10:
        problems.append(f"Linear time {off:.1%} off the {clock} timing")

# 4. Layer sum vs whole model, per model.
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
layer_time = {r[0]: r[1] for r in con.execute(
    "SELECT j.subject, m.time_per_iter_s FROM measurements m JOIN jobs j ON j.id = m.job_id "
    "WHERE j.kind = 'layer'")}
for name, t, arch_id in con.execute(
        "SELECT j.subject, m.time_per_iter_s, a.id FROM measurements m JOIN jobs j "
        "ON j.id = m.job_id JOIN architectures a ON a.campaign_id = j.campaign_id "
        "AND a.name = j.subject WHERE j.kind = 'model'"):
    keys = [k for (k,) in con.execute(
        "SELECT layer_key FROM arch_layers WHERE architecture_id = ? ORDER BY position", (arch_id,))]
    if t <= 0 or any(k not in layer_time for k in keys):
        continue
    ratio = sum(layer_time[k] for k in keys) / t
    figures.append(f"layer-sum {name} {ratio:.2f}" + (" (flagged)" if not 1 / 3 <= ratio <= 3 else ""))

# 1. NVML's counter against its power readings over a GEMM load.
if on_gpu:
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
        assert nvml.nvmlInit_v2() == 0, "nvmlInit_v2 failed"
        handle = ctypes.c_void_p()
        index = int(device.split(":")[1])
        assert nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) == 0
        energy = ctypes.c_ulonglong()
        power = ctypes.c_uint()
        samples, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                if nvml.nvmlDeviceGetPowerUsage(handle, ctypes.byref(power)) == 0:
                    samples.append((time.monotonic(), power.value / 1000))
                time.sleep(0.01)

        dev = torch.device(device)
        a = torch.randn(8192, 8192, device=dev)

        def load(seconds):
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                a @ a
                torch.cuda.synchronize(dev)

        # Steady first: from Ampere on a power reading averages the last second, so a load
        # entered during the comparison would read low for its first second.
        load(3)
        sampler = threading.Thread(target=sample)
        sampler.start()
        time.sleep(0.05)  # a first power sample before the counter's first read
        assert nvml.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(energy)) == 0
        e0, start = energy.value, time.monotonic()
        load(20)
        assert nvml.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(energy)) == 0
        end = time.monotonic()
        stop.set()
        sampler.join()
        counter = (energy.value - e0) / 1000
        # The power readings over the same span as the counter's two reads.
        inside = [(t, p) for t, p in samples if start <= t <= end]
        integral = sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in zip(inside, inside[1:]))
        integral *= (end - start) / max(inside[-1][0] - inside[0][0], 1e-9)
        off = abs(counter - integral) / integral
        figures.insert(0, f"NVML counter {counter:.1f} J vs power x time {integral:.1f} J ({off:.1%})")
        if off > 0.05:
            problems.append(f"NVML counter {off:.1%} off power x time")
    except Exception as e:  # noqa: BLE001 - any failure here is the check's verdict
        problems.append(f"NVML check could not run: {e}")
else:
    figures.insert(0, "NVML check n/a on cpu")

path = " (cpu path)" if not on_gpu else ""
verdict = "FAIL" if problems else "PASS"
print(f"gpu-check{path}: {verdict}: " + "; ".join(problems + figures))
sys.exit(1 if problems else 0)
PY
