#!/bin/sh
# Installs the Debian packages named in runtime package lists (deploy/runtime-packages-*.txt:
# one package a line, `#` starts a comment). deploy/Containerfile and
# scripts/check-runtime-image.sh both run this script on the same lists, so the root file
# system that is checked gets exactly what the image gets.
# POSIX sh: it runs inside debian:bookworm-slim and a debootstrap minbase root, before
# anything but the essential packages is there.
set -eu

if [ $# -eq 0 ]; then
  echo "usage: $0 LIST..." >&2
  exit 2
fi
# Comments and blank lines out; the rest, split on white space, are package names.
packages=$(sed -e 's/#.*//' "$@" | tr -s ' \t\n' ' ')
if [ -z "$(printf '%s' "$packages" | tr -d ' ')" ]; then
  echo "$0: no package named in $*" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: Depends are what the libraries need to load; Recommends would add
# tools and documentation nobody runs in the image.
# shellcheck disable=SC2086  # one word per package, by design
apt-get install -y -qq --no-install-recommends $packages
