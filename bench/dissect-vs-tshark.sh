#!/usr/bin/env bash
# espcap against tshark -T ek on the same capture, in one run, side by side:
#   tshark -r F -T ek > /dev/null                 the reference
#   espcap --file F --output - > /dev/null         documents as NDJSON
#   espcap --file F --dissect-only                 full-tree dissection, no walk (the floor)
# Reports packets/s, the ratio to tshark, and peak RSS (GNU time; for espcap the
# largest of its processes). Each command runs RUNS times; the median is kept.
#
#   bash bench/dissect-vs-tshark.sh [CAPTURE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/work/mix.pcap}
runs=${2:-1}
[ -f "$capture" ] || { echo "dissect-vs-tshark: no capture $capture (build it: bash bench/make-capture.sh)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "dissect-vs-tshark: GNU time is missing (apt-get install time)" >&2; exit 1; }
packets=$(capinfos -c -M "$capture" | awk -F': *' '/Number of packets/ {print $2}')
espcap="node bin/espcap.js"

# Prints "seconds peak_kb" of the median run (by time). A run that fails, or
# writes other than the expected number of lines, fails the benchmark: a
# failed run timed as a fast one would be a false result.
#   measure EXPECTED_LINES COMMAND...
measure() {
  local expected=$1 results=() out lines
  shift
  out=$(mktemp)
  for _ in $(seq "$runs"); do
    lines=$(/usr/bin/time -o "$out" -f '%e %M' "$@" 2> "$out.err" | wc -l) ||
      { echo "dissect-vs-tshark: failed: $* ($(tail -1 "$out.err"))" >&2; exit 1; }
    [ "$lines" = "$expected" ] || { echo "dissect-vs-tshark: $* wrote $lines lines, not $expected" >&2; exit 1; }
    results+=("$(tail -1 "$out")")
  done
  rm -f "$out" "$out.err"
  printf '%s\n' "${results[@]}" | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)'
}

declare -A secs rss
#   run NAME EXPECTED_LINES COMMAND...
run() {
  local name=$1; shift
  read -r secs[$name] rss[$name] < <(measure "$@")
  [ -n "${secs[$name]}" ] || exit 1
  echo "  $name: ${secs[$name]} s, peak RSS $((${rss[$name]} / 1024)) MB" >&2
}

echo "capture: $capture, $packets packets, $runs run(s) each" >&2
# tshark -T ek writes an action line and a document per packet; espcap a document per packet.
run tshark_ek $((2 * packets)) tshark -n -r "$capture" -T ek
run espcap_ndjson "$packets" $espcap --file "$capture" --output - --quiet
run espcap_dissect_only 0 $espcap --file "$capture" --dissect-only --quiet

rate() { awk -v p="$packets" -v s="$1" 'BEGIN { printf "%.0f", p / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
{
  echo "| command | seconds | packets/s | vs tshark -T ek | peak RSS |"
  echo "|---|---|---|---|---|"
  for name in tshark_ek espcap_ndjson espcap_dissect_only; do
    echo "| $name | ${secs[$name]} | $(rate "${secs[$name]}") | $(ratio "${secs[$name]}" "${secs[tshark_ek]}")x | $((${rss[$name]} / 1024)) MB |"
  done
  echo
  echo "espcap --output - reaches $(awk -v a="${secs[espcap_ndjson]}" -v b="${secs[espcap_dissect_only]}" 'BEGIN { printf "%.0f", 100 * b / a }')% of its own full-tree dissection rate."
  echo "capture: $(basename "$capture"), $packets packets; $($espcap --version), $(tshark --version | head -1 | sed 's/ (Git.*//; s/\.$//'); $(nproc) cores; $(date -u +%Y-%m-%d)"
}
