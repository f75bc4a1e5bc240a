#!/usr/bin/env bash
# Builds the wire-protocol fuzzer with clang (libFuzzer + ASan + UBSan) and runs it briefly on
# a freshly generated seed corpus. ctest runs it as `protocol_fuzz_smoke`; see README.md.
#
# Usage: run_fuzz_smoke.sh SOURCE_DIR BUILD_DIR
#
# Environment (all optional):
#   FUZZ_CXX       the compiler (default: clang++; needs libclang-rt-<version>-dev)
#   FUZZ_RUNS      inputs to run (default 50000)
#   FUZZ_TIME      seconds at most for the fuzzing itself (default 30)
#   FUZZ_SEED      libFuzzer's -seed (default 1: smoke runs are reproducible)
#   FUZZ_ARGS      extra libFuzzer flags
# Nothing is written under SOURCE_DIR. Exits non-zero on a build failure, a crash, a leak, a
# sanitizer report or a property violation; the failing input is left in BUILD_DIR/artifacts/.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2
  exit 2
fi
cxx=${FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "run_fuzz_smoke: '$cxx' not found. The protocol fuzzer needs clang with libFuzzer:" >&2
  echo "run_fuzz_smoke: run scripts/bootstrap.sh (installs clang and libclang-rt-14-dev)." >&2
  exit 1
fi
src=$(cd "$1" && pwd)
out=$2
mkdir -p "$out"
out=$(cd "$out" && pwd)

# shellcheck disable=SC2054  # commas belong to -fsanitize=
flags=(-std=c++17 -O1 -gline-tables-only -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=all
       -Wall -Wextra -Wno-unused-parameter
       -DMSGPACK_DEFAULT_API_VERSION=3 -DWATTFLEET_VERSION=\"fuzz\"
       -I "$src/common/include" -I "$src/common/src")
# The common sources the decoder needs (protocol.cc and what it calls: enum names, layer types,
# Status). Compiled with coverage instrumentation but without libFuzzer's main, so the seed
# generator links against the same objects.
common_sources=(status.cc layer.cc layer_defs.cc layer_analyze.cc layer_family.cc job.cc protocol.cc)

# Rebuilds an object only when its source, a header it includes or the flags changed.
stamp="$out/flags.txt"
flag_line="$("$cxx" --version | head -n1) ${flags[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$flag_line" ]; then
  rm -rf "$out/obj"
fi
mkdir -p "$out/obj"
printf '%s' "$flag_line" >"$stamp"

stale() {  # stale OBJ DEPFILE
  [ -f "$1" ] && [ -f "$2" ] || return 0
  local f
  # shellcheck disable=SC2013  # a depfile is a list of words
  for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$2"); do
    [ "$f" -nt "$1" ] && return 0
  done
  return 1
}

compile() {  # compile SOURCE OBJ EXTRA_FLAGS...
  local source=$1 obj=$2
  shift 2
  if stale "$obj" "$obj.d"; then
    echo "run_fuzz_smoke: compiling ${source#"$src"/}"
    touch "$obj.start"
    "$cxx" "${flags[@]}" "$@" -MMD -MF "$obj.d" -c "$source" -o "$obj"
    # Dated from the start of the compile: a header edited meanwhile makes it stale next time.
    touch -r "$obj.start" "$obj"
    rm -f "$obj.start"
  fi
}

start=$(date +%s)
objs=()
for s in "${common_sources[@]}"; do
  compile "$src/common/src/$s" "$out/obj/${s%.cc}.o" -fsanitize=fuzzer-no-link
  objs+=("$out/obj/${s%.cc}.o")
done
compile "$src/tests/fuzz/protocol_fuzz.cc" "$out/obj/protocol_fuzz.o" -fsanitize=fuzzer-no-link
compile "$src/tests/fuzz/make_seeds.cc" "$out/obj/make_seeds.o"

if ! "$cxx" "${flags[@]}" -fsanitize=fuzzer "$out/obj/protocol_fuzz.o" "${objs[@]}" \
       -o "$out/protocol_fuzz"; then
  echo "run_fuzz_smoke: linking with -fsanitize=fuzzer failed; is libclang-rt-14-dev (the" >&2
  echo "run_fuzz_smoke: libFuzzer runtime matching '$cxx') installed? scripts/bootstrap.sh" >&2
  echo "run_fuzz_smoke: installs it." >&2
  exit 1
fi
"$cxx" "${flags[@]}" "$out/obj/make_seeds.o" "${objs[@]}" -o "$out/make_seeds"
built=$(date +%s)
echo "run_fuzz_smoke: built in $((built - start)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Seeds come from code (make_seeds.cc) on every run; tests/fuzz/corpus/, when present, holds
# committed inputs (e.g. past findings) and is copied, never written.
rm -rf "$out/seeds" "$out/corpus" "$out/artifacts"
mkdir -p "$out/seeds" "$out/corpus" "$out/artifacts"
"$out/make_seeds" "$out/seeds"
if [ -d "$src/tests/fuzz/corpus" ]; then
  cp -R "$src/tests/fuzz/corpus/." "$out/seeds/"
fi
echo "run_fuzz_smoke: $(find "$out/seeds" -type f | wc -l) seed inputs"

log="$out/fuzz.log"
status=0
# shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
"$out/protocol_fuzz" \
  -seed="${FUZZ_SEED:-1}" -runs="${FUZZ_RUNS:-50000}" -max_total_time="${FUZZ_TIME:-30}" \
  -rss_limit_mb=1024 -malloc_limit_mb=512 -max_len=4096 -timeout=10 -error_exitcode=77 \
  -print_final_stats=1 -artifact_prefix="$out/artifacts/" ${FUZZ_ARGS:-} \
  "$out/corpus" "$out/seeds" >"$log" 2>&1 || status=$?
end=$(date +%s)

grep -E '^(stat::|Done |INFO: seed corpus|#[0-9]+ +DONE)' "$log" || true
if [ $status -ne 0 ] || grep -qE 'runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer|property violated' "$log"; then
  echo "run_fuzz_smoke: FAILED (exit $status); the end of $log:" >&2
  tail -n 80 "$log" >&2
  ls -l "$out/artifacts" >&2 || true
  exit 1
fi
echo "run_fuzz_smoke: OK: fuzzed for $((end - built)) s, $((end - start)) s in all"
