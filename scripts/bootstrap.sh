#!/usr/bin/env bash
# Installs the Debian packages wattfleet builds against, only when one is missing.
# Idempotent and quiet: runs `apt-get update` at most once, and not at all when
# everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libzmq3-dev libsodium-dev cppzmq-dev libmsgpack-cxx-dev libyaml-cpp-dev libspdlog-dev
  libsqlite3-dev libeigen3-dev libcli11-dev nlohmann-json3-dev
  libpq-dev postgresql
  libmicrohttpd-dev libcpp-httplib-dev libzip-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtorch-dev python3-torchvision sqlite3
  libonnx-dev libprotobuf-dev python3-onnx
  python3-dev pybind11-dev python3-pytest python3-pandas python3-pyld
  clang libclang-rt-14-dev
  chromium libpng-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
