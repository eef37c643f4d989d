#!/usr/bin/env bash
# Runs a command on another Debian release: a minimal root of SUITE (trixie:
# libwireshark 4.4, sid: 4.6) made with debootstrap from this machine's own
# Debian mirror, entered with chroot, with a copy of this checkout at /espcap.
#
#   bash scripts/debian-root.sh SUITE [COMMAND...]     (as root)
#
# The root is made once and kept in $ESPCAP_ROOTS (default
# /var/cache/espcap-roots) for later runs on the same machine; the system
# packages espcap needs are installed in it by scripts/install-deps.sh, the
# same script as here. Each run copies the checkout afresh, then runs
# COMMAND (default: a shell) in /espcap. The root shares this machine's network, so a cluster started here
# on 127.0.0.1 is reachable from inside.
set -euo pipefail
suite=${1:?usage: debian-root.sh SUITE [COMMAND...]}
shift
if [ "$(id -u)" -ne 0 ]; then
  echo "debian-root: run as root (debootstrap and chroot need it)" >&2
  exit 1
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
roots=${ESPCAP_ROOTS:-/var/cache/espcap-roots}
root=$roots/$suite

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -1)
  [ -n "$uri" ] || { echo "debian-root: no Debian mirror found in this machine's apt sources" >&2; exit 1; }
  echo "$uri"
}

mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_in() { # mount_in SOURCE TARGET [options...]
  mountpoint -q "$root$2" && return 0
  mkdir -p "$root$2"
  mount "${@:3}" "$1" "$root$2"
  mounted+=("$root$2")
}

# One run at a time in a root (each run replaces its copy of the checkout).
mkdir -p "$roots"
exec 9>"$roots/$suite.lock"
flock 9

if [ ! -e "$root/.espcap-root" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
  echo "debian-root: making a $suite root in $root (once; kept for later runs)" >&2
  rm -rf "$root.partial"
  mkdir -p "$roots"
  debootstrap --variant=minbase "$suite" "$root.partial" "$(mirror)" >"$roots/$suite.debootstrap.log" 2>&1 ||
    { tail -20 "$roots/$suite.debootstrap.log" >&2; echo "debian-root: debootstrap $suite failed" >&2; exit 1; }
  # The registry's release files are past their validity date here.
  echo 'Acquire::Check-Valid-Until "false";' >"$root.partial/etc/apt/apt.conf.d/99espcap-valid-until"
  mv "$root.partial" "$root"
  touch "$root/.espcap-root"
fi

# What reaching the registries needs: names, this machine's CA certificates, npm's settings.
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/usr/local/share/ca-certificates" "$root/etc/ssl/certs" "$root/root"
cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/ca-bundle-host.crt"
[ -f /root/.npmrc ] && cp /root/.npmrc "$root/root/.npmrc"
# The root as a mount point of its own: programs that look their files' mount
# up in /proc/self/mounts (Java's FileStore, so Elasticsearch) find it.
if ! mountpoint -q "$root"; then
  mount --bind "$root" "$root"
  mounted+=("$root")
fi
mount_in /sys /sys --rbind
mount_in /dev /dev --rbind

# A fresh copy of the checkout: the same files git would give a clone, plus
# uncommitted changes. node_modules and the addon's build folder stay from the
# last run (npm and cmake-js then redo only what changed).
mkdir -p "$root/espcap"
# (A mount left by a run that was killed is undone first: the clean-up must not reach through it.)
if mountpoint -q "$root/espcap/bench/work"; then umount -l "$root/espcap/bench/work"; fi
find "$root/espcap" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name build -exec rm -rf {} +
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$root/espcap"
# Benchmark captures (bench/work, not in git) are shared with the root, not copied.
if [ -d "$repo/bench/work" ]; then
  mkdir -p "$root/espcap/bench/work"
  mount --bind "$repo/bench/work" "$root/espcap/bench/work"
  mounted+=("$root/espcap/bench/work")
fi
if [ -d "$repo/../shared" ]; then
  mkdir -p "$root/shared"
  mountpoint -q "$root/shared" || { mount --bind "$repo/../shared" "$root/shared"; mounted+=("$root/shared"); }
fi

# Inside, a process namespace of its own: the root's /proc shows only its own
# processes, so what scans /proc there (the test cluster's harness stopping
# what it started) never sees, nor stops, this machine's.
enter() { unshare --pid --fork --mount-proc="$root/proc" chroot "$root" "$@"; }

env_in=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
  NODE_EXTRA_CA_CERTS=/etc/ssl/ca-bundle-host.crt DEBIAN_FRONTEND=noninteractive CI="${CI:-}")
[ -n "${ESPCAP_TEST_ES_URL:-}" ] && env_in+=(ESPCAP_TEST_ES_URL="$ESPCAP_TEST_ES_URL")
[ -n "${ESPCAP_TEST_ES9_URL:-}" ] && env_in+=(ESPCAP_TEST_ES9_URL="$ESPCAP_TEST_ES9_URL")

if [ ! -e "$root/.espcap-deps" ] || ! cmp -s "$repo/scripts/install-deps.sh" "$root/.espcap-deps"; then
  echo "debian-root: installing espcap's system packages in the $suite root" >&2
  enter /usr/bin/env -i "${env_in[@]}" bash -c 'apt-get update -q >/dev/null && apt-get install -y -q ca-certificates >/dev/null && update-ca-certificates >/dev/null && bash /espcap/scripts/install-deps.sh' \
    >"$roots/$suite.install-deps.log" 2>&1 || { tail -20 "$roots/$suite.install-deps.log" >&2; echo "debian-root: installing packages in $suite failed" >&2; exit 1; }
  cp "$repo/scripts/install-deps.sh" "$root/.espcap-deps"
fi

if [ $# -eq 0 ]; then set -- bash; fi
enter /usr/bin/env -i "${env_in[@]}" bash -c 'cd /espcap && exec "$@"' bash "$@"
