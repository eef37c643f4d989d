#!/usr/bin/env bash
# Builds a directory of captures for the parallel-ingest benchmark
# (default bench/work/dir/): two time-shifted copies of bench/work/mix.pcap
# (made by bench/make-capture.sh if missing), each cut into pieces of mixed
# sizes (2,000 to 48,000 packets) with editcap: 58 files, 1,002,880 packets.
# The second copy is shifted by one day, so its files are different captures
# (other bytes, other capture ids, other daily index) from the first.
#
#   bash bench/make-directory.sh [OUT_DIR]
#
# Idempotent: an OUT_DIR that already holds the files is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/work/dir}
mix=bench/work/mix.pcap
[ -f "$mix" ] || bash bench/make-capture.sh "$mix"
if [ -f "$out.complete" ]; then
  echo "$out is already built"
  exit 0
fi
rm -rf "$out"
mkdir -p "$out"
total=$(capinfos -c -M -T "$mix" | awk -F'\t' 'NR==2 {print $2}')
sizes=(2000 4000 8000 16000 32000 48000)
for copy in 1 2; do
  src=$mix
  if [ "$copy" = 2 ]; then
    src=$out/shifted.pcap
    editcap -t 86400 "$mix" "$src"
  fi
  first=1 i=0
  while [ "$first" -le "$total" ]; do
    last=$((first + sizes[i % ${#sizes[@]}] - 1))
    [ "$last" -gt "$total" ] && last=$total
    mkdir -p "$out/day$copy"
    editcap -r "$src" "$(printf '%s/day%d/part-%03d.pcap' "$out" "$copy" "$i")" "$first-$last"
    first=$((last + 1))
    i=$((i + 1))
  done
done
rm -f "$out/shifted.pcap"
touch "$out.complete"
echo "$out: $(find "$out" -name '*.pcap' | wc -l) files, $(du -sh "$out" | cut -f1)"
