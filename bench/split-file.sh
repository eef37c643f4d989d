#!/usr/bin/env bash
# One large capture file across dissecting processes: espcap --workers 1
# against --workers 2 on the same file, cut at its session resets, with
# tshark -T ek as the reference, in one run, side by side:
#   tshark -n -r F -T ek                                     the reference
#   espcap --file F --workers 1 --session-packets S --output OUT1
#   espcap --file F --workers 2 --session-packets S --output OUT2
# Reports seconds, packets/s, the ratio to one worker and to tshark, and peak
# RSS (GNU time: for espcap the largest of its processes). With
# COMPARE=1 (the default) the documents are written to files under
# bench/work and compared document for document (bench/compare-documents.js):
# the benchmark fails if a document is missing or extra, and reports those
# that differ and in which fields. With
# COMPARE=0 they go to /dev/null (for files whose documents would not fit
# on the disk twice) and only their number is checked.
#
#   bash bench/split-file.sh [CAPTURE] [SESSION_PACKETS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/work/varied300k.pcap}
session=${2:-20000}
runs=${3:-1}
compare=${COMPARE:-1}
[ -f "$capture" ] || { echo "split-file: no capture $capture (build it: bash bench/make-capture.sh $capture 300000 varied)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "split-file: GNU time is missing (apt-get install time)" >&2; exit 1; }
packets=$(capinfos -c -M "$capture" | awk -F': *' '/Number of packets/ {print $2}')
bytes=$(stat -c %s "$capture")
espcap="node bin/espcap.js"

declare -A secs rss
#   run NAME EXPECTED_LINES OUTPUT COMMAND...   (OUTPUT "-": count standard output)
run() {
  local name=$1 expected=$2 output=$3 results=() out lines
  shift 3
  out=$(mktemp)
  for _ in $(seq "$runs"); do
    if [ "$output" = - ]; then
      lines=$(/usr/bin/time -o "$out" -f '%e %M' "$@" 2> "$out.err" | wc -l) || { echo "split-file: failed: $* ($(tail -1 "$out.err"))" >&2; exit 1; }
    else
      /usr/bin/time -o "$out" -f '%e %M' "$@" 2> "$out.err" || { echo "split-file: failed: $* ($(grep -v '^Command' "$out.err" | tail -1))" >&2; exit 1; }
      lines=$(grep -o '^espcap: [0-9]* packets' "$out.err" | awk '{print $2}')
    fi
    [ "$lines" = "$expected" ] || { echo "split-file: $* gave $lines packets, not $expected" >&2; exit 1; }
    results+=("$(tail -1 "$out")")
    grep '^espcap: [0-9]* packets' "$out.err" | sed 's/^/    /' >&2 || true
  done
  rm -f "$out" "$out.err"
  read -r secs[$name] rss[$name] < <(printf '%s\n' "${results[@]}" | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)')
  echo "  $name: ${secs[$name]} s, peak RSS $((${rss[$name]} / 1024)) MB" >&2
}

out1=/dev/null out2=/dev/null
if [ "$compare" = 1 ]; then
  mkdir -p bench/work
  out1=bench/work/split-1.ndjson out2=bench/work/split-2.ndjson
  trap 'rm -f bench/work/split-1.ndjson bench/work/split-2.ndjson' EXIT
fi
echo "capture: $capture, $packets packets, $((bytes / 1048576)) MiB, --session-packets $session, $runs run(s) each" >&2
run tshark_ek $((2 * packets)) - tshark -n -r "$capture" -T ek
run espcap_1_worker "$packets" "$out1" $espcap --file "$capture" --workers 1 --session-packets "$session" --output "$out1"
run espcap_2_workers "$packets" "$out2" $espcap --file "$capture" --workers 2 --session-packets "$session" --output "$out2"

same="not compared (COMPARE=0): the packet counts are equal"
if [ "$compare" = 1 ]; then
  same=$(node bench/compare-documents.js "$out1" "$out2") || { echo "split-file: $same" >&2; exit 1; }
fi

rate() { awk -v p="$packets" -v s="$1" 'BEGIN { printf "%.0f", p / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
{
  echo "| command | seconds | packets/s | vs 1 worker | vs tshark -T ek | peak RSS |"
  echo "|---|---|---|---|---|---|"
  for name in tshark_ek espcap_1_worker espcap_2_workers; do
    echo "| $name | ${secs[$name]} | $(rate "${secs[$name]}") | $(ratio "${secs[$name]}" "${secs[espcap_1_worker]}")x | $(ratio "${secs[$name]}" "${secs[tshark_ek]}")x | $((${rss[$name]} / 1024)) MB |"
  done
  echo
  echo "Documents of 2 workers against 1: $same."
  echo "capture: $(basename "$capture"), $packets packets, $((bytes / 1048576)) MiB, --session-packets $session; $(nproc) cores; $(date -u +%Y-%m-%d)"
}
