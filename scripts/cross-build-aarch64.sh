#!/usr/bin/env bash
# Cross-compiles wattfleet-agent for 64-bit ARM Linux (aarch64) on a Debian (amd64) machine,
# without libtorch: the agent core (transport, meters, spool, probe) for a board such as a
# Jetson or a Raspberry Pi. Installs what it needs when missing: Debian's cross compiler and
# the target's -dev packages as multiarch packages (pkg:arm64), then builds into
# build-aarch64/ and checks that the result is an aarch64 executable.
#
#   scripts/cross-build-aarch64.sh [--qemu-check] [BUILD_DIR]
#
#   --qemu-check  also run the binary (--help, probe --json) under qemu-user
#                 (installs qemu-user-static when missing)
#   JOBS=N        parallel compile jobs (default: all cores)
#
# Debian only: Ubuntu serves arm64 packages from another mirror (ports.ubuntu.com), which
# its sources would have to name first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

qemu_check=0
build_dir=build-aarch64
for arg in "$@"; do
  case "$arg" in
    --qemu-check) qemu_check=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "cross-build: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) build_dir=$arg ;;
  esac
done
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
arch=arm64
triplet=aarch64-linux-gnu

# Build machine: the cross compiler and the tools. Target: what the agent core links with
# WATTFLEET_AGENT_ONLY=ON (common/ and agent/): ZeroMQ and cppzmq, msgpack-cxx, spdlog (and
# fmt, its dependency). CLI11 and nlohmann-json are architecture-independent headers
# (Multi-Arch: foreign): the build machine's copy serves the target too.
host_packages=("g++-${triplet}" cmake make pkg-config file libcli11-dev nlohmann-json3-dev)
target_packages=(libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libspdlog-dev)
if (( qemu_check )); then host_packages+=(qemu-user-static); fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg run holds the lock: wait for it rather than fail.
apt_opts=(-o DPkg::Lock::Timeout=900 -y -qq --no-install-recommends)

missing=()
for p in "${host_packages[@]}"; do
  installed "$p" || missing+=("$p")
done
for p in "${target_packages[@]}"; do
  installed "$p:$arch" && continue
  # A Multi-Arch: same package must have the same version for both architectures; asking for
  # the build machine's version keeps apt from upgrading (or removing) the amd64 copy.
  if v=$(version_of "$p:amd64") && [ -n "$v" ]; then
    missing+=("$p:$arch=$v")
  else
    missing+=("$p:$arch")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    echo "cross-build: dpkg --add-architecture $arch" >&2
    $sudo dpkg --add-architecture "$arch"
  fi
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq >/dev/null
  # Dry run first: packages of the build machine that the main build needs must stay.
  plan=$(apt-get -s --no-install-recommends install "${missing[@]}" 2>&1) || {
    echo "$plan" >&2
    echo "cross-build: apt cannot install ${missing[*]}" >&2
    exit 1
  }
  if grep -q '^Remv ' <<<"$plan"; then
    echo "cross-build: installing ${missing[*]} would remove:" >&2
    grep '^Remv ' <<<"$plan" >&2
    echo "cross-build: refusing; the amd64 and $arch versions of these packages differ" >&2
    exit 1
  fi
  # "Inst NAME [OLD] (NEW ...)": an installed package upgraded, typically the amd64 copy of a
  # library that the arm64 packages need at the archive's newer version.
  if grep -qE '^Inst [^ ]+ \[' <<<"$plan"; then
    echo "cross-build: note: upgrades to keep both architectures at one version:" >&2
    grep -E '^Inst [^ ]+ \[' <<<"$plan" >&2
  fi
  echo "cross-build: installing ${missing[*]}" >&2
  $sudo apt-get "${apt_opts[@]}" install "${missing[@]}" >/dev/null
  grep '^Inst ' <<<"$plan" | awk '{print "cross-build: installed " $2}' >&2
fi

cmake -S "$root" -B "$build_dir" \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/${triplet}.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DWATTFLEET_WITH_TORCH=OFF -DWATTFLEET_AGENT_ONLY=ON >/dev/null
cmake --build "$build_dir" -j "$jobs" --target wattfleet-agent

bin="$build_dir/agent/wattfleet-agent"
if [ ! -f "$bin" ]; then
  echo "cross-build: $bin was not built" >&2
  exit 1
fi
desc=$(file -b "$bin")
echo "$bin: $desc"
case "$desc" in
  "ELF 64-bit LSB "*"executable, ARM aarch64"*) ;;
  *) echo "cross-build: $bin is not an aarch64 executable" >&2; exit 1 ;;
esac

if (( qemu_check )); then
  # The target's loader and libraries are the multiarch ones (/lib/ld-linux-aarch64.so.1,
  # /usr/lib/aarch64-linux-gnu); the cross toolchain's root serves as qemu's fallback prefix.
  # Only single-threaded commands: qemu-user 7.2 (Debian 12) hangs creating threads on some
  # hosts, which would stall the agent's daemon mode (its ZeroMQ context starts threads).
  qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64)
  LD_LIBRARY_PATH=/usr/lib/${triplet}:/lib/${triplet} "$qemu" -L /usr/${triplet} "$bin" --help >/dev/null
  LD_LIBRARY_PATH=/usr/lib/${triplet}:/lib/${triplet} "$qemu" -L /usr/${triplet} "$bin" probe --json
  echo "cross-build: $bin runs under $(basename "$qemu")"
fi
