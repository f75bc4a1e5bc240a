#!/bin/sh
# WATTFLEET_TORCH_FROM_PYTHON against stand-in PyTorch packages on PYTHONPATH: one whose CMake
# files lead to this machine's libtorch (found, and named in the configure output), one built
# with the old C++ ABI and one without CMake files (each refused, saying why). Configures the
# agent alone in temporary build folders; builds nothing.
set -eu
src=$1
torch_config=$2  # this machine's TorchConfig.cmake
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A package named torch that answers what the configure step asks of it.
fake_torch() {  # DIR PREFIX CXX11_ABI
  mkdir -p "$1/torch"
  cat > "$1/torch/__init__.py" <<PY
class utils:
    cmake_prefix_path = "$2"
def compiled_with_cxx11_abi():
    return $3
PY
}

configure() {  # PYTHONPATH BUILD_DIR -> output in BUILD_DIR.log, status returned
  PYTHONPATH=$1 cmake -S "$src" -B "$2" -DWATTFLEET_AGENT_ONLY=ON -DWATTFLEET_WITH_TORCH=ON \
    -DWATTFLEET_TORCH_FROM_PYTHON=ON -DPython3_EXECUTABLE=/usr/bin/python3 > "$2.log" 2>&1
}

fail() { echo "FAIL: $*"; exit 1; }
# CMake wraps its messages: look for a phrase in the log with line breaks folded.
says() { tr -s ' \n' '  ' < "$1" | grep -q "$2"; }

# 1. A PyTorch whose CMake files lead to this machine's libtorch.
mkdir -p "$work/prefix/Torch"
echo "include(\"$torch_config\")" > "$work/prefix/Torch/TorchConfig.cmake"
fake_torch "$work/good" "$work/prefix" True
configure "$work/good" "$work/build-good" || { cat "$work/build-good.log"; fail "good PyTorch refused"; }
grep -q "libtorch from .*PyTorch: $work/prefix" "$work/build-good.log" || fail "prefix not named"
grep -q "Torch_DIR:PATH=$work/prefix/Torch" "$work/build-good/CMakeCache.txt" || fail "Torch_DIR not the PyTorch's"

# 2. The old C++ ABI.
fake_torch "$work/old" "$work/prefix" False
if configure "$work/old" "$work/build-old"; then fail "old-ABI PyTorch accepted"; fi
says "$work/build-old.log" "pre-C++11 ABI" || { cat "$work/build-old.log"; fail "no ABI reason"; }

# 3. No CMake files.
fake_torch "$work/bare" "$work/nowhere" True
if configure "$work/bare" "$work/build-bare"; then fail "PyTorch without CMake files accepted"; fi
says "$work/build-bare.log" "has no CMake files" || { cat "$work/build-bare.log"; fail "no reason"; }
echo "ok"
