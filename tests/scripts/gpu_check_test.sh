#!/bin/sh
# scripts/gpu-check.sh as far as a machine without a GPU allows: its argument handling (exit 2
# with the reason), its packaging step (.deb files unpacked into a prefix whose environment
# pkg-config then finds them through), and its CPU path run for real against the built
# binaries (a verdict line with every figure, and the dataset, export and report on disk; the
# verdict itself may be FAIL on a busy machine, whose CPU timing is not the check's subject).
set -eu
src=$1
build=$2
script=$src/scripts/gpu-check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. Arguments.
refused() {  # EXPECTED-REASON ARGS...
  reason=$1
  shift
  set +e
  "$script" "$@" > "$work/args.log" 2>&1
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "'$*' exited $rc, not 2"
  grep -q -- "$reason" "$work/args.log" || { cat "$work/args.log"; fail "'$*' did not say '$reason'"; }
}
refused "must be cuda:N or cpu" --device gpu0
refused "unknown argument '--bogus'" --bogus
refused "positive integer" --jobs 0
refused "goes with --debs" --unpack-only
refused "needs a value" --out
refused "no folder" --debs "$work/missing" --out "$work/o"

# 2. Packaging: two packages, one with a pkg-config file, unpacked into the prefix.
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for name in fakedep fakelib; do
  root=$work/pkg-$name
  mkdir -p "$root/DEBIAN" "$root/usr/lib/$multiarch/pkgconfig" "$root/usr/include"
  printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n' \
    "$name" > "$root/DEBIAN/control"
  printf 'prefix=/usr\nincludedir=${prefix}/include\nName: %s\nDescription: t\nVersion: 1.0\nCflags: -I${includedir}\n' \
    "$name" > "$root/usr/lib/$multiarch/pkgconfig/$name.pc"
  echo "/* $name */" > "$root/usr/include/$name.h"
  mkdir -p "$work/debs"
  dpkg-deb --build "$root" "$work/debs/$name.deb" > /dev/null
done
"$script" --debs "$work/debs" --unpack-only --out "$work/unpacked" > "$work/unpack.log" 2>&1 ||
  { cat "$work/unpack.log"; fail "unpacking failed"; }
grep -q "unpacked 2 packages" "$work/unpack.log" || fail "unpack count: $(cat "$work/unpack.log")"
[ -f "$work/unpacked/prefix/usr/include/fakedep.h" ] || fail "fakedep.h not unpacked"
[ ! -e "$work/unpacked/gpu-check.db" ] || fail "--unpack-only went on"
(
  . "$work/unpacked/prefix.env"
  flags=$(pkg-config --cflags fakelib) || fail "pkg-config does not find the unpacked fakelib"
  flags=$(echo $flags)  # trailing blanks trimmed
  [ "$flags" = "-I$work/unpacked/prefix/usr/include" ] || fail "cflags: '$flags'"
)

# 3. The CPU path, for real.
set +e
"$script" --device cpu --skip-build --build-dir "$build" --out "$work/cpu" \
  --python /usr/bin/python3 > "$work/cpu.log" 2>&1
rc=$?
set -e
cat "$work/cpu.log"
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "the CPU path exited $rc"
verdict=$(grep "^gpu-check (cpu path): \(PASS\|FAIL\): " "$work/cpu.log") || fail "no verdict line"
for figure in "NVML check n/a on cpu" "CI within 5 % for" "Linear 512x512" "vs perf_counter" \
              "layer-sum lenet5"; do
  echo "$verdict" | grep -q "$figure" || fail "the verdict lacks '$figure'"
done
for f in gpu-check.db gpu-check.csv report.html campaign.yaml agent.log serve.log; do
  [ -s "$work/cpu/$f" ] || fail "no $f"
done
rows=$(($(wc -l < "$work/cpu/gpu-check.csv") - 1))
[ "$rows" -ge 20 ] || fail "only $rows measurements exported"
echo "ok"
