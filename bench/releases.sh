#!/usr/bin/env bash
# The same benchmarks on each supported Wireshark release, each side by side
# with that release's own tshark: this machine (Debian 12, libwireshark 4.0)
# and the Debian 13 (4.4) and Debian unstable (4.6) roots of
# scripts/debian-root.sh. As root:
#
#   bash bench/releases.sh [CAPTURE] [RUNS] [N_TINY]
#       # defaults: bench/work/varied.pcap (built if missing), 3, 200
#
# Per release: bench/dissect-vs-tshark.sh on CAPTURE (tshark -T ek, espcap
# NDJSON, espcap --dissect-only) and bench/small-files.sh N_TINY (the corpus as
# a directory against tshark per file; the fixed cost per small file; memory
# per epan session). The releases run one after another, never at once; the
# tables go to standard output, progress to standard error.
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/work/varied.pcap}
runs=${2:-3}
tiny=${3:-200}
[ -f "$capture" ] || bash bench/make-capture.sh "$capture" 100000 varied >&2
case "$capture" in bench/work/*) ;; *) echo "releases: the capture must be under bench/work/ (the roots see that folder)" >&2; exit 1 ;; esac

bench() { # the two benchmarks, on the machine or root this runs in
  echo "#### dissect-vs-tshark.sh $1 $2"
  echo
  bash bench/dissect-vs-tshark.sh "$1" "$2"
  echo
  echo "#### small-files.sh $3"
  echo
  bash bench/small-files.sh "$3"
  echo
}
export -f bench

for release in bookworm trixie sid; do
  echo "releases: $release" >&2
  echo "### $release"
  echo
  if [ "$release" = bookworm ]; then
    bench "$capture" "$runs" "$tiny"
  else
    bash scripts/debian-root.sh "$release" bash -c "npm install --no-audit --no-fund >/tmp/npm-install.log 2>&1 && $(declare -f bench); bench $capture $runs $tiny"
  fi
done
