#!/usr/bin/env bash
# Many small captures: the fixed cost espcap pays per file, side by side with
# tshark -T ek run once per file, in one run:
#   1. the whole shared corpus as one directory (every file, the damaged ones
#      too): espcap --dir with 1 worker and with $(nproc), against tshark -T ek
#      once per file (one at a time, and $(nproc) at a time with xargs -P);
#      files/s and packets/s;
#   2. the fixed cost per file: N one-packet captures (copies of one DNS
#      packet, shifted in time), espcap --dir with 1 worker: seconds per file,
#      with the dissecting process recycled as usual and with recycling off;
#   3. memory per session: the peak RSS of the dissecting process after N
#      one-packet files without recycling, against after one file (each file
#      is a new epan session; libwireshark 4.0 keeps ~11 MB of each);
#   4. where the fixed cost goes (perf, if installed): the share of espcap's
#      CPU samples inside epan_new, libwireshark's session start.
# Documents go to a file; a run that writes other than one document per
# packet fails the benchmark.
#
#   bash bench/small-files.sh [N_TINY]      # default 200
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tiny_count=${1:-200}
corpus=${ESPCAP_CORPUS:-../shared/pcaps/corpus}
work=bench/work/small-files
rm -rf "$work" && mkdir -p "$work/corpus" "$work/tiny"
cores=$(nproc)
espcap="node bin/espcap.js"

# 1. The corpus as one directory (links: the files themselves stay where they are).
for f in "$corpus"/*; do
  [ "$(basename "$f")" = MANIFEST.tsv ] || ln -s "$(realpath "$f")" "$work/corpus/$(basename "$f")"
done
nfiles=$(ls "$work/corpus" | wc -l)
out=$work/out.ndjson
# espcap reads every good packet of the damaged files too, then exits 1 naming
# them. Its summary stays in $work/stderr (progress is only drawn on a terminal).
espcap_dir() {
  local t0 secs docs
  t0=$(date +%s.%N)
  $espcap --dir "$@" --output "$out" 2> "$work/stderr" || true
  secs=$(seconds "$t0")
  docs=$(wc -l < "$out")
  echo "$secs $docs"
}
# tshark: its documents (every second line of -T ek), counted per file (parallel
# outputs would interleave in one pipe); it exits 2 on a damaged file after its good packets.
tshark_each() {
  local t0 secs docs
  t0=$(date +%s.%N)
  docs=$(find "$work/corpus/" -type l -print0 |
    xargs -0 -P "$1" -I{} sh -c 'tshark -n -r "$1" -T ek 2>/dev/null | grep -c "^{\"timestamp\"" || true' _ {} |
    awk '{ s += $1 } END { print s + 0 }')
  secs=$(seconds "$t0")
  echo "$secs $docs"
}
read -r s_e1 d_e1 < <(espcap_dir "$work/corpus" --workers 1)
read -r s_e2 d_e2 < <(espcap_dir "$work/corpus" --workers "$cores")
read -r s_t1 d_t1 < <(tshark_each 1)
read -r s_t2 d_t2 < <(tshark_each "$cores")
for d in "$d_e2" "$d_t1" "$d_t2"; do
  [ "$d" = "$d_e1" ] || { echo "small-files: document counts differ: espcap $d_e1 / $d_e2, tshark $d_t1 / $d_t2" >&2; exit 1; }
done

# 2. Fixed cost per file.
editcap -r test_pcaps/test_dns.pcap "$work/one.pcap" 1
for i in $(seq "$tiny_count"); do editcap -t "$i" "$work/one.pcap" "$work/tiny/$(printf %05d "$i").pcap"; done
read -r s_tiny d_tiny < <(espcap_dir "$work/tiny" --workers 1)
restarts=$(sed -n 's/.*restarted \([0-9]*\) time.*/\1/p' "$work/stderr")
restarts=${restarts:-0}
read -r s_tiny_kept d_tiny_kept < <(espcap_dir "$work/tiny" --workers 1 --worker-max-rss 1048576)
for d in "$d_tiny" "$d_tiny_kept"; do
  [ "$d" = "$tiny_count" ] || { echo "small-files: $d documents from $tiny_count one-packet files" >&2; exit 1; }
done

# 3. Memory per session: GNU time's peak is that of the largest process, the dissecting one.
peak_kb() { /usr/bin/time -f %M $espcap --dir "$1" --workers 1 --worker-max-rss 1048576 --output /dev/null --quiet 2>&1 >/dev/null | tail -1; }
mkdir -p "$work/one" && cp "$work/tiny/00001.pcap" "$work/one/"
peak_one=$(peak_kb "$work/one")
peak_all=$(peak_kb "$work/tiny")
per_session=$(awk -v a="$peak_all" -v b="$peak_one" -v n="$tiny_count" 'BEGIN { printf "%.2f", (a - b) / 1024 / (n - 1) }')

# 4. Where it goes.
epan_share="(perf not installed)"
if command -v perf > /dev/null; then
  perf record -q -o "$work/perf.data" --call-graph dwarf,16384 -F 499 -- \
    $espcap --dir "$work/tiny" --workers 1 --worker-max-rss 1048576 --output /dev/null --quiet 2> /dev/null
  perf report -i "$work/perf.data" --children --sort sym -g none > "$work/perf.txt" 2> /dev/null
  epan_share=$(awk '$NF == "epan_new" && !found { print $1; found = 1 }' "$work/perf.txt")
fi

per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
ms() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.1f", 1000 * s / n }'; }
{
  echo "| run | seconds | files/s | packets/s |"
  echo "|---|---|---|---|"
  echo "| espcap --dir, 1 worker | $s_e1 | $(per "$nfiles" "$s_e1") | $(per "$d_e1" "$s_e1") |"
  echo "| espcap --dir, $cores workers | $s_e2 | $(per "$nfiles" "$s_e2") | $(per "$d_e2" "$s_e2") |"
  echo "| tshark -T ek per file, 1 at a time | $s_t1 | $(per "$nfiles" "$s_t1") | $(per "$d_t1" "$s_t1") |"
  echo "| tshark -T ek per file, $cores at a time | $s_t2 | $(per "$nfiles" "$s_t2") | $(per "$d_t2" "$s_t2") |"
  echo
  echo "Whole corpus: $nfiles files, $d_e1 packets written by each run. espcap is $(awk -v a="$s_t1" -v b="$s_e1" 'BEGIN { printf "%.1f", a / b }')x tshark one at a time, $(awk -v a="$s_t2" -v b="$s_e2" 'BEGIN { printf "%.1f", a / b }')x with $cores at a time."
  echo
  echo "Fixed cost per file ($tiny_count one-packet files, 1 worker): $(ms "$s_tiny" "$tiny_count") ms with the dissecting process recycled as usual ($restarts restarts, at --worker-max-rss 400), $(ms "$s_tiny_kept" "$tiny_count") ms without recycling."
  echo "Memory per session: the dissecting process peaks at $((peak_one / 1024)) MB after one file and $((peak_all / 1024)) MB after $tiny_count without recycling: $per_session MB kept per session."
  echo "Share of espcap's CPU samples inside epan_new (the session start each file needs): $epan_share."
  echo "$($espcap --version), $(tshark --version | head -1 | sed "s/ (Git.*//; s/\\.$//"); $(date -u +%Y-%m-%d), $cores cores"
}
