#!/usr/bin/env bash
# Finding packets again, side by side, same capture, same display filters:
#   espcap --node URL --query FILTER --write out.pcapng   (the capture indexed once beforehand, not timed)
#   tshark -r CAPTURE -Y FILTER -w out.pcapng             (reading and dissecting the whole capture again)
# Each pair must write the same number of packets, or the run fails. Also the
# peak memory of the espcap run (its pages are read through a point in time).
# Starts the local Elasticsearch (npm run es:start) unless ESPCAP_BENCH_ES_URL is set.
#
#   bash bench/query-vs-tshark.sh [CAPTURE]
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/work/varied.pcap}
[ -f "$capture" ] || { echo "query-vs-tshark: no capture $capture (build it: bash bench/make-capture.sh ... varied)" >&2; exit 1; }
capture=$(realpath "$capture")
packets=$(capinfos -c -M "$capture" | awk -F': *' '/Number of packets/ {print $2}')
url=${ESPCAP_BENCH_ES_URL:-$(node scripts/elasticsearch.js start | tail -1)}
prefix=bench-query
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seconds() { local t0=$1; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
count() { capinfos -c -M "$1" | awk -F': *' '/Number of packets/ {print $2}'; }

echo "capture: $capture, $packets packets; Elasticsearch at $url" >&2
names=$(curl -s "$url/_cat/indices/$prefix-*?h=index" | tr '\n' ',' | sed 's/,$//')
[ -z "$names" ] || curl -s -XDELETE "$url/$names" > /dev/null
# One session for the whole capture and no process replaced, as tshark dissects it: the same documents
# (a session reset or a replaced process starts reassembly afresh, and a few packets dissect differently).
node bin/espcap.js --file "$capture" --node "$url" --index-prefix "$prefix" --session-packets 0 --worker-max-rss 16000 --quiet --no-resume --dead-letter /dev/null
curl -s -XPOST "$url/$prefix-*/_refresh" > /dev/null

echo "| filter | packets found | espcap --query --write, s | peak RSS, MB | tshark -Y -w, s | ratio |"
echo "|---|---|---|---|---|---|"
for filter in 'frame' 'tcp' 'dns' 'ip.addr == 10.0.0.0/8 && tcp.flags.syn == 1' 'http.request.method matches "get"' 'udp.port in {53, 123, 5353}'; do
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" node bin/espcap.js --node "$url" --index-prefix "$prefix" --query "$filter" --write "$work/espcap.pcapng" --quiet
  espcap_s=$(seconds "$t0")
  t0=$(date +%s.%N)
  tshark -n -r "$capture" -Y "$filter" -w "$work/tshark.pcapng" 2>/dev/null
  tshark_s=$(seconds "$t0")
  found=$(count "$work/espcap.pcapng")
  expected=$(count "$work/tshark.pcapng")
  [ "$found" = "$expected" ] || { echo "query-vs-tshark: $filter: espcap wrote $found packets, tshark $expected" >&2; exit 1; }
  rss=$(awk '{ printf "%.0f", $1 / 1024 }' "$work/rss")
  echo "| \`$filter\` | $found | $espcap_s | $rss | $tshark_s | $(awk -v a="$espcap_s" -v b="$tshark_s" 'BEGIN { printf "%.1fx", b / a }') |"
done
echo
echo "ratio: tshark's time over espcap's; $(nproc) cores; $(date -u +%Y-%m-%d)"
