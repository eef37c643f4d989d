#!/usr/bin/env bash
# End to end into one local Elasticsearch, side by side, same capture:
#   espcap --file F --node URL                       (and --output - > /dev/null, to see the bottleneck)
#   tshark -r F -T ek | bench/ek-to-bulk.js URL      (_bulk, 1000 documents per request)
# Starts the local Elasticsearch (npm run es:start) unless ESPCAP_BENCH_ES_URL is set.
#
#   bash bench/index-vs-tshark.sh [CAPTURE]
set -euo pipefail
cd "$(dirname "$0")/.."
capture=${1:-bench/work/mix.pcap}
[ -f "$capture" ] || { echo "index-vs-tshark: no capture $capture (build it: bash bench/make-capture.sh)" >&2; exit 1; }
packets=$(capinfos -c -M "$capture" | awk -F': *' '/Number of packets/ {print $2}')
url=${ESPCAP_BENCH_ES_URL:-$(node scripts/elasticsearch.js start | tail -1)}

drop_indices() {
  local names
  names=$(curl -s "$url/_cat/indices/$1?h=index" | tr '\n' ',' | sed 's/,$//')
  [ -z "$names" ] || curl -s -XDELETE "$url/$names" > /dev/null
}
seconds() { local t0=$1; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
rate() { awk -v p="$1" -v s="$2" 'BEGIN { printf "%.0f", p / s }'; }

echo "capture: $capture, $packets packets; Elasticsearch at $url" >&2
# A freshly started JVM is slow until warm: one untimed pass first, so neither
# pipeline is timed against a colder cluster than the other.
echo "warming up the cluster (untimed)" >&2
drop_indices 'packets-*'
node bin/espcap.js --file "$capture" --node "$url" --quiet --no-resume --dead-letter /dev/null
drop_indices 'packets-*'
t0=$(date +%s.%N)
node bin/espcap.js --file "$capture" --node "$url" --quiet --no-resume --dead-letter /dev/null
espcap_es=$(seconds "$t0")
curl -s -XPOST "$url/packets-*/_refresh" > /dev/null
espcap_docs=$(curl -s "$url/packets-*/_count" | sed 's/.*"count":\([0-9]*\).*/\1/')
[ "$espcap_docs" = "$packets" ] || { echo "index-vs-tshark: espcap indexed $espcap_docs documents of $packets" >&2; exit 1; }

t0=$(date +%s.%N)
lines=$(node bin/espcap.js --file "$capture" --output - --quiet | wc -l)
espcap_out=$(seconds "$t0")
[ "$lines" = "$packets" ] || { echo "index-vs-tshark: espcap --output - wrote $lines documents, not $packets" >&2; exit 1; }

drop_indices 'tshark-packets-*'
t0=$(date +%s.%N)
tshark_result=$(tshark -n -r "$capture" -T ek 2>/dev/null | node bench/ek-to-bulk.js "$url" 1000)
tshark_es=$(seconds "$t0")
tshark_docs=$(echo "$tshark_result" | sed -n 's/.*"accepted":\([0-9]*\).*/\1/p')
[ "$tshark_docs" = "$packets" ] || { echo "index-vs-tshark: tshark -T ek | _bulk indexed ${tshark_docs:-no} documents of $packets: $tshark_result" >&2; exit 1; }

echo "| pipeline | seconds | packets/s | documents in Elasticsearch |"
echo "|---|---|---|---|"
echo "| espcap --node | $espcap_es | $(rate "$packets" "$espcap_es") | $espcap_docs of $packets |"
echo "| espcap --output - (no Elasticsearch) | $espcap_out | $(rate "$packets" "$espcap_out") | - |"
echo "| tshark -T ek \| _bulk | $tshark_es | $(rate "$packets" "$tshark_es") | $tshark_result |"
echo
echo "espcap --node is $(awk -v a="$espcap_es" -v b="$tshark_es" 'BEGIN { printf "%.1f", b / a }')x tshark -T ek | _bulk; $(nproc) cores; $(date -u +%Y-%m-%d)"
