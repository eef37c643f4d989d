#!/usr/bin/env bash
# Builds a varied archive from the whole shared corpus: every Ethernet capture
# with fewer than 3,000 packets (199 files: many protocols, thousands of layer
# fields), COPIES times each, written twice with editcap -t:
#   bench/work/archive-DAYS-COPIES/days/     file j moved to day j mod DAYS (from 2020-01-01, UTC)
#   bench/work/archive-DAYS-COPIES/one-day/  file j moved to 01:00 + j seconds of 2020-01-01
# Each file starts on its day; a file whose packets span days keeps its spread.
# Idempotent: a finished archive is kept (the .complete marker).
#
#   bash bench/make-archive.sh [DAYS] [COPIES]     # defaults: 676 4
set -euo pipefail
source "$(dirname "$0")/lib.sh"
days=${1:-676}
copies=${2:-4}
corpus=${ESPCAP_CORPUS:-../shared/pcaps/corpus}
work=bench/work/archive-$days-$copies
if [ -f "$work.complete" ]; then echo "$work"; exit 0; fi
rm -rf "$work" && mkdir -p "$work/days" "$work/one-day"
mapfile -t sources < <(awk -F'\t' 'NR > 1 && $1 !~ /^bad_/ && $6 == "ether" && $5 ~ /^[0-9]+$/ && $5 < 3000 {print $1}' "$corpus/MANIFEST.tsv" | sort)
[ "${#sources[@]}" -gt 0 ] || { echo "make-archive: no Ethernet captures listed in $corpus/MANIFEST.tsv" >&2; exit 1; }
base=$(date -u -d 2020-01-01 +%s)
j=0
for copy in $(seq "$copies"); do
  for name in "${sources[@]}"; do
    start=$(capinfos -S -a -T -r "$corpus/$name" | awk -F'\t' '{ printf "%d", $2 }')
    out=$(printf '%04d-%s' "$j" "${name%%.*}.pcap")
    editcap -F pcap -t $((base + (j % days) * 86400 + 3600 - start)) "$corpus/$name" "$work/days/$out"
    editcap -F pcap -t $((base + 3600 + j - start)) "$corpus/$name" "$work/one-day/$out"
    j=$((j + 1))
  done
done
touch "$work.complete"
echo "$work"
