#!/usr/bin/env bash
# Installs the system packages espcap needs to build, run and be tested, on
# Debian 12 (libwireshark 4.0). Run as root. Used by the README and by CI.
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
packages=(
  libwireshark-dev libwiretap-dev libglib2.0-dev libpcap-dev   # the dissection engine
  pkg-config cmake ninja-build g++ make                          # building the addon
  tshark                                                         # the reference the tests compare with
  util-linux                                                     # runuser, for tests that drop root
  default-jre-headless maven unzip                               # a local Elasticsearch for tests
  time curl openssl                                              # benchmarks: peak memory, cluster calls; TLS tests: a certificate
  iproute2 tcpreplay                                             # live-capture tests: namespaces, veth, replay
  clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14           # sanitizer and fuzzing tests (ASan, UBSan, libFuzzer, symbolizer)
)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
apt-get install -y -q --no-install-recommends "${packages[@]}"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "install-deps: espcap needs Node.js 20 or newer; this machine has $(node --version)" >&2
  exit 1
fi
