#!/usr/bin/env bash
# Installs the system packages espcap needs to build, run and be tested, on
# Debian 12 (libwireshark 4.0), Debian 13 (4.4), Debian unstable (4.6) and,
# by the same package names, Ubuntu 24.04 (4.2). Run as root. Used by the
# README, by CI and by scripts/debian-root.sh.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  # Not root: elevate with sudo where there is one (a root shell needs none).
  command -v sudo >/dev/null 2>&1 && exec sudo bash "$0" "$@"
  echo "install-deps: run as root, or install sudo" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; keep Debian's default (no).
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
# The release's own clang (Debian 12: 14, Debian 13: 19, ...): the versioned
# packages of the sanitizer and fuzzer runtimes follow it.
clang_version=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -1)
if [ -z "$clang_version" ]; then
  echo "install-deps: this release has no clang package (apt-cache depends clang)" >&2
  exit 1
fi
packages=(
  libwireshark-dev libwiretap-dev libglib2.0-dev libpcap-dev   # the dissection engine
  pkg-config cmake ninja-build g++ make                          # building the addon
  tshark                                                         # the reference the tests compare with
  util-linux                                                     # runuser, for tests that drop root
  default-jre-headless maven unzip                               # a local Elasticsearch for tests
  time curl openssl                                              # benchmarks: peak memory, cluster calls; TLS tests: a certificate
  iproute2 tcpreplay                                             # live-capture tests: namespaces, veth, replay
  "clang-$clang_version" "libclang-rt-$clang_version-dev"        # sanitizer and fuzzing tests (ASan, UBSan, libFuzzer,
  "libfuzzer-$clang_version-dev" "llvm-$clang_version"           #   symbolizer)
)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
apt-get install -y -q --no-install-recommends "${packages[@]}"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "install-deps: espcap needs Node.js 20 or newer; this machine has $(node --version)" >&2
  exit 1
fi
