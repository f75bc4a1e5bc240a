#!/usr/bin/env bash
# Checks the runtime images of deploy/Containerfile without a container engine or a
# registry: for each runtime target (controller, agent-cpu) it makes a Debian 12 root file
# system (debootstrap minbase, close to debian:bookworm-slim), installs that target's package
# list with deploy/install-runtime-packages.sh (the script the Containerfile runs), copies in
# the built binary, adds the image's user (uid 10001) and, as that user inside the root:
#   - `ldd` reports no library "not found";
#   - controller: `wattfleet --version`, and `wattfleet serve` opens a dataset in
#     /var/lib/wattfleet, binds, answers `wattfleet status` and drains on SIGTERM;
#   - agent: `wattfleet-agent --version` and `wattfleet-agent probe --json` (valid JSON).
# It also checks, first and without root, that every image deploy/ names (`image:` in its
# YAML files and kustomization's `images:`) is one that the build commands documented in
# deploy/Containerfile or deploy/Containerfile.gpu-agent produce, for a stage that exists,
# tagged with the project's version.
#
# Usage: scripts/check-runtime-image.sh [--build-dir DIR] [--cache DIR] [--names-only] [--keep]
#   --build-dir DIR  where the built binaries are, relative to the repository root (default:
#                    build; DIR/controller/wattfleet, DIR/agent/wattfleet-agent)
#   --cache DIR      debootstrap's root and downloaded .debs, kept between runs (default:
#                    $WATTFLEET_IMAGE_CACHE, else /var/tmp/wattfleet-image-check)
#   --names-only     only the image-name check (no root needed)
#   --keep           leave the two roots under the cache for inspection
# Environment: WATTFLEET_DEBIAN_MIRROR, WATTFLEET_DEBIAN_SECURITY_MIRROR (default: the ones
# apt uses on this machine, else deb.debian.org).
# Needs root (debootstrap, chroot, mount), debootstrap and network access to the mirror; a
# rerun reuses the cached root and .debs and downloads only package indexes.
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir=build
cache=${WATTFLEET_IMAGE_CACHE:-/var/tmp/wattfleet-image-check}
names_only=0
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --names-only) names_only=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-runtime-image: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done

# Fixed by the Containerfile and deploy/kubernetes (runAsUser/runAsGroup).
uid=10001
suite=bookworm

fail() { echo "check-runtime-image: FAIL: $*" >&2; exit 1; }
say() { echo "check-runtime-image: $*"; }
start=$SECONDS

# ---------------------------------------------------------------------------------------
# 1. Image names: what deploy/ runs against what the documented build commands build.
# ---------------------------------------------------------------------------------------
version=$(sed -n 's/^project(wattfleet VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || fail "no project version in CMakeLists.txt"

declare -A built=()  # image -> "Containerfile --target stage"
for cf in deploy/Containerfile deploy/Containerfile.gpu-agent; do
  [ -f "$cf" ] || fail "$cf is missing"
  stages=$(sed -n 's/^FROM[[:space:]].*[[:space:]][Aa][Ss][[:space:]]\+\([A-Za-z0-9._-]\+\)[[:space:]]*$/\1/p' "$cf")
  n=0
  # The documented commands are comment lines: `#   podman build -f FILE [--target T] -t IMG .`
  while read -r line; do
    read -ra words <<<"$line"
    file='' target='' image=''
    for ((i = 0; i < ${#words[@]}; i++)); do
      case "${words[i]}" in
        -f) file=${words[i+1]:-} ;;
        --target) target=${words[i+1]:-} ;;
        -t) image=${words[i+1]:-} ;;
      esac
    done
    [ "$file" = "$cf" ] || fail "$cf documents a build of '-f $file': $line"
    [ -n "$image" ] || fail "$cf documents a build without -t: $line"
    if [ -n "$target" ] && ! grep -qx "$target" <<<"$stages"; then
      fail "$cf documents --target $target, but has no stage of that name (stages: $(tr '\n' ' ' <<<"$stages"))"
    fi
    [ "${image##*:}" = "$version" ] ||
      fail "$cf builds $image, whose tag is not the project's version $version"
    built[$image]="$cf${target:+ --target $target}"
    n=$((n + 1))
  done < <(sed -n 's/^#[[:space:]]*\(\(podman\|docker\) build .*\)$/\1/p' "$cf")
  [ "$n" -gt 0 ] || fail "$cf documents no build command (# podman build -f $cf ... -t IMAGE .)"
done

used=0
while IFS= read -r -d '' y; do
  # `image: NAME:TAG` lines (quotes allowed).
  while IFS= read -r image; do
    [ -n "${built[$image]:-}" ] ||
      fail "$y runs image $image, which no documented build produces (built: ${!built[*]})"
    say "$y: $image <- ${built[$image]}"
    used=$((used + 1))
  done < <(sed -n 's/^[[:space:]-]*image:[[:space:]]*["'"'"']\{0,1\}\([^"'"'"' #]*\).*/\1/p' "$y")
  # kustomization images: each entry's default (newName:newTag) must be built too, and its
  # name must be one the manifests use, or the override would silently change nothing.
  if [ "$(basename "$y")" = kustomization.yaml ]; then
    while read -r name new_name new_tag; do
      image="$new_name:$new_tag"
      [ -n "${built[$image]:-}" ] ||
        fail "$y: images entry $name -> $image, which no documented build produces"
      grep -rqE "^[[:space:]-]*image:[[:space:]]*[\"']?$name(:|[\"']?[[:space:]]*$)" "$(dirname "$y")" ||
        fail "$y: images entry $name matches no image: in $(dirname "$y")"
    done < <(awk '
      /^images:/ { inside = 1; next }
      /^[^[:space:]#-]/ { inside = 0 }
      inside && /name:/ && !/newName:/ { if (name != "") print name, nn, nt; name = $NF; nn = ""; nt = "" }
      inside && /newName:/ { nn = $NF }
      inside && /newTag:/ { nt = $NF }
      END { if (name != "") print name, nn, nt }' "$y" | tr -d "\"'")
  fi
done < <(find deploy -name '*.yaml' -print0 -o -name '*.yml' -print0)
[ "$used" -gt 0 ] || fail "no image: found under deploy/"
say "image names: $used image: lines, each built by a documented command"
[ "$names_only" -eq 1 ] && exit 0

# ---------------------------------------------------------------------------------------
# 2. The runtime roots.
# ---------------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mount); --names-only does not"
command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
controller_bin=$build_dir/controller/wattfleet
agent_bin=$build_dir/agent/wattfleet-agent
for b in "$controller_bin" "$agent_bin"; do
  [ -x "$b" ] || fail "$b is missing: build first (scripts/build.sh)"
done

# The mirror apt uses here (deb822 or one-line sources), so that a machine behind a local
# mirror works as it does for apt.
apt_mirror() {  # $1: a regex the URI must match, $2: one it must not
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
           -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
    grep -E "$1" | grep -vE "$2" | head -n 1 || true
}
mirror=${WATTFLEET_DEBIAN_MIRROR:-$(apt_mirror '/debian/?$' 'security')}
mirror=${mirror:-http://deb.debian.org/debian}
security=${WATTFLEET_DEBIAN_SECURITY_MIRROR:-$(apt_mirror '/debian-security/?$' '^$')}
security=${security:-http://deb.debian.org/debian-security}

mkdir -p "$cache/debootstrap-debs" "$cache/apt-archives/partial"
base=$cache/base-$suite

mounts=()
serve_pid=''
cleanup() {
  local i
  # A serve left running by a failed check holds the root's files open.
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
  done
  mounts=()
  if [ "$keep" -eq 0 ]; then
    rm -rf "$cache/root-controller" "$cache/root-agent"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_in() {  # mount_in ROOT SUBDIR mount-args...
  local target=$1/$2
  shift 2
  mkdir -p "$target"
  mount "$@" "$target"
  mounts+=("$target")
}
unmount_all() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}"; done
  mounts=()
}

# The base root, made once: minbase is Debian's required packages and apt, which is what
# debian:bookworm-slim holds. The marker is written last, so an interrupted run starts over
# (its name changes when the way the base is made does).
if [ ! -f "$base/.wattfleet-base-v2" ]; then
  say "debootstrap --variant=minbase $suite $base ($mirror)"
  rm -rf "$base"
  t=$SECONDS
  debootstrap --variant=minbase --cache-dir="$cache/debootstrap-debs" "$suite" "$base" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 || {
    tail -n 20 "$cache/debootstrap.log" >&2
    fail "debootstrap failed (log: $cache/debootstrap.log)"
  }
  # The suites debian:bookworm-slim uses, so that security updates are installed as there.
  printf '%s\n' "deb $mirror $suite main" "deb $mirror $suite-updates main" \
    "deb $security $suite-security main" >"$base/etc/apt/sources.list"
  # Like debian:bookworm-slim: no package indexes or .debs (the install fetches indexes).
  rm -rf "$base"/var/lib/apt/lists/* "$base"/var/cache/apt/*.bin "$base"/var/cache/apt/archives/*.deb
  touch "$base/.wattfleet-base-v2"
  say "base root made in $((SECONDS - t)) s"
else
  say "base root cached: $base"
fi
base_size="$(du -sh "$base" | cut -f1) ($(du -sm "$base" | cut -f1) MiB)"

declare -A sizes=()
# The image's user, environment and working directory. Each step execs the next, so a
# command started in the background with these has the command's own pid in $!.
as_user=(--userspec="$uid:$uid" --groups="$uid")
user_env=(/usr/bin/env -i HOME=/var/lib/wattfleet PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
          LANG=C.UTF-8 sh -c 'cd /var/lib/wattfleet && exec "$@"' sh)
run_as_user() {  # run_as_user ROOT COMMAND...
  local root=$1
  shift
  chroot "${as_user[@]}" "$root" "${user_env[@]}" "$@"
}

make_root() {  # make_root NAME LIST BINARY
  local name=$1 list=$2 binary=$3
  local root=$cache/root-$name
  say "[$name] fresh root from the base, installing $list"
  rm -rf "$root"
  cp -a "$base" "$root"
  rm -f "$root/.wattfleet-base-v2"
  # Name resolution for apt inside the root; the image gets the runtime's.
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  mount_in "$root" proc -t proc proc
  mount_in "$root" dev --bind /dev
  # The downloaded .debs outlive the root, so reruns do not fetch them again.
  mount_in "$root" var/cache/apt/archives --bind "$cache/apt-archives"
  mkdir -p "$root/tmp/wattfleet-image"
  cp deploy/install-runtime-packages.sh "$list" "$root/tmp/wattfleet-image/"
  local t=$SECONDS before
  before=$(chroot "$root" dpkg-query -W -f '.\n' | wc -l)
  chroot "$root" sh /tmp/wattfleet-image/install-runtime-packages.sh \
    "/tmp/wattfleet-image/$(basename "$list")" >"$cache/install-$name.log" 2>&1 || {
    tail -n 30 "$cache/install-$name.log" >&2
    fail "[$name] installing $list failed (log: $cache/install-$name.log)"
  }
  say "[$name] installed in $((SECONDS - t)) s: $(($(chroot "$root" dpkg-query -W -f '.\n' | wc -l) - before)) packages"
  unmount_all
  # As the Containerfile leaves it: no package indexes, no installer files.
  rm -rf "$root/tmp/wattfleet-image" "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  sizes[$name]="$(du -sh "$root" | cut -f1) ($(du -sm "$root" | cut -f1) MiB)"
  say "[$name] root size with $(basename "$list"): ${sizes[$name]} (base: $base_size)"

  # The Containerfile's user and state directory.
  # useradd warns that 10001 is above the system range, which is intended: kept quiet
  # unless it fails.
  out=$(chroot "$root" groupadd --system --gid "$uid" wattfleet 2>&1 &&
        chroot "$root" useradd --system --uid "$uid" --gid wattfleet --home-dir /var/lib/wattfleet \
          --no-create-home --shell /usr/sbin/nologin wattfleet 2>&1) ||
    fail "[$name] adding user wattfleet: $out"
  chroot "$root" install -d -o wattfleet -g wattfleet -m 0750 /var/lib/wattfleet
  install -m 0755 "$binary" "$root/usr/local/bin/"
  mount_in "$root" proc -t proc proc
  [ "$(run_as_user "$root" id -un)" = wattfleet ] || fail "[$name] not running as user wattfleet"

  local out
  out=$(chroot "$root" ldd "/usr/local/bin/$(basename "$binary")" 2>&1) ||
    fail "[$name] ldd failed inside the root: $out"
  if grep -q 'not found' <<<"$out"; then
    grep 'not found' <<<"$out" >&2
    fail "[$name] libraries missing with only $list installed (add their packages to it)"
  fi
  say "[$name] ldd: $(grep -c '=>' <<<"$out") libraries, none missing"
}

# --- controller ---
make_root controller deploy/runtime-packages-controller.txt "$controller_bin"
root=$cache/root-controller
v=$(run_as_user "$root" wattfleet --version 2>&1) || fail "[controller] wattfleet --version: $v"
say "[controller] $v"
# serve as the image's CMD would, on loopback with wildcard ports (the host's network is
# shared): it must create the dataset in the state directory, bind, and drain on SIGTERM.
rm -f "$root/var/lib/wattfleet/ready.json"
chroot "${as_user[@]}" "$root" "${user_env[@]}" wattfleet serve --db=/var/lib/wattfleet/wattfleet.db \
  --bind='tcp://127.0.0.1:*' --admin=ipc:///var/lib/wattfleet/admin/socket \
  --ready-file=/var/lib/wattfleet/ready.json >"$cache/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
  [ -s "$root/var/lib/wattfleet/ready.json" ] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$root/var/lib/wattfleet/ready.json" ]; then
  tail -n 20 "$cache/serve.log" >&2
  fail "[controller] wattfleet serve did not become ready in 10 s (log: $cache/serve.log)"
fi
ready_pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$root/var/lib/wattfleet/ready.json")
[ "$ready_pid" = "$serve_pid" ] ||
  fail "[controller] the ready file names pid $ready_pid, the started process is $serve_pid"
# An admin request answered means the serve loop runs (the ready file is written just
# before it, and before serve handles SIGTERM): then SIGTERM must drain and exit 0.
admin=$(sed -n 's/.*"admin":"\([^"]*\)".*/\1/p' "$root/var/lib/wattfleet/ready.json")
status=$(run_as_user "$root" wattfleet status --admin="$admin" --json 2>&1) ||
  fail "[controller] wattfleet status --admin=$admin: $status"
kill -TERM "$serve_pid"
serve_rc=0
wait "$serve_pid" || serve_rc=$?
serve_pid=''
[ "$serve_rc" -eq 0 ] || { tail -n 20 "$cache/serve.log" >&2; fail "[controller] serve exited $serve_rc on SIGTERM"; }
[ "$(stat -c %u "$root/var/lib/wattfleet/wattfleet.db")" = "$uid" ] ||
  fail "[controller] the dataset is not owned by uid $uid"
say "[controller] serve: ready ($(tr -d '\n' <"$root/var/lib/wattfleet/ready.json")), answered status, drained on SIGTERM, dataset owned by $uid"
unmount_all

# --- agent ---
make_root agent deploy/runtime-packages-agent.txt "$agent_bin"
root=$cache/root-agent
v=$(run_as_user "$root" wattfleet-agent --version 2>&1) || fail "[agent] wattfleet-agent --version: $v"
say "[agent] $v"
probe=$(run_as_user "$root" wattfleet-agent probe --json 2>"$cache/probe.err") || {
  cat "$cache/probe.err" >&2
  fail "[agent] wattfleet-agent probe --json failed"
}
if command -v python3 >/dev/null; then
  summary=$(python3 -c 'import json, sys
p = json.load(sys.stdin)
print("device {}, libtorch {}, meter {}".format(p["device"], p["libtorch_version"], p["meter"]["backend"]))' <<<"$probe") ||
    fail "[agent] probe --json printed no valid JSON: $probe"
else
  grep -q '"device"' <<<"$probe" || fail "[agent] probe --json printed no device: $probe"
  summary="JSON not parsed (no python3 here)"
fi
say "[agent] probe --json: $summary"
unmount_all

say "PASS in $((SECONDS - start)) s: base $base_size, controller root ${sizes[controller]}, agent root ${sizes[agent]}"
