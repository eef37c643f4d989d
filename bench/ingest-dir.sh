#!/usr/bin/env bash
# Parallel ingest of a directory of captures, side by side, in one run:
#   1. espcap --dir D --output FILE with 1 worker and with 2 (or --workers
#      given by ESPCAP_BENCH_WORKERS): packets/s and their ratio, median of RUNS;
#   2. end to end into one local Elasticsearch: espcap --dir D --node URL
#      (all cores) against tshark -T ek | _bulk over the same files, run
#      $(nproc) files at a time with xargs -P, as a user of tshark would.
# The directory comes from bench/make-directory.sh (58 files, 1,002,880 packets).
# Starts the local Elasticsearch (npm run es:start) unless ESPCAP_BENCH_ES_URL is set.
#
#   bash bench/ingest-dir.sh [DIR] [RUNS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-bench/work/dir}
runs=${2:-3}
read_directory ingest-dir "$dir"
cores=$(nproc)
workers=${ESPCAP_BENCH_WORKERS:-2}

rate() { awk -v p="$1" -v s="$2" 'BEGIN { printf "%.0f", p / s }'; }
# A run that fails, or writes other than one document per packet, fails the benchmark.
timed() { local t0; t0=$(date +%s.%N); "$@" > /dev/null || { echo "ingest-dir: failed: $*" >&2; return 1; }; seconds "$t0"; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Runs espcap with --output into a file and prints the seconds; fails unless it wrote one document per packet.
timed_documents() {
  local t0 secs lines
  t0=$(date +%s.%N)
  "$@" --output "$out" || { echo "ingest-dir: failed: $*" >&2; return 1; }
  secs=$(seconds "$t0")
  lines=$(wc -l < "$out")
  [ "$lines" = "$packets" ] || { echo "ingest-dir: $* wrote $lines documents, not $packets" >&2; return 1; }
  echo "$secs"
}

echo "directory: $dir, ${#files[@]} files, $packets packets; $cores cores" >&2
one=() many=()
for i in $(seq "$runs"); do
  t=$(timed_documents node bin/espcap.js --dir "$dir" --workers 1 --quiet) || exit 1
  one+=("$t")
  t=$(timed_documents node bin/espcap.js --dir "$dir" --workers "$workers" --quiet) || exit 1
  many+=("$t")
  echo "run $i: 1 worker ${one[-1]} s, $workers workers ${many[-1]} s" >&2
done
t1=$(median "${one[@]}")
tn=$(median "${many[@]}")

url=${ESPCAP_BENCH_ES_URL:-$(node scripts/elasticsearch.js start | tail -1)}
drop_indices() {
  local names
  names=$(curl -s "$url/_cat/indices/$1?h=index" | tr '\n' ',' | sed 's/,$//')
  [ -z "$names" ] || curl -s -XDELETE "$url/$names" > /dev/null
}
count() { curl -s -XPOST "$url/$1/_refresh" > /dev/null; curl -s "$url/$1/_count" | sed 's/.*"count":\([0-9]*\).*/\1/'; }
# A freshly started JVM is slow until warm: one untimed pass of a few files first.
echo "warming up the cluster (untimed)" >&2
drop_indices 'packets-*'
node bin/espcap.js --file "${files[0]}" --file "${files[1]}" --node "$url" --quiet --no-resume --dead-letter /dev/null
drop_indices 'packets-*'
curl -s -XDELETE "$url/espcap-ingest-state" > /dev/null
es=$(timed node bin/espcap.js --dir "$dir" --node "$url" --quiet --dead-letter /dev/null) || exit 1
es_docs=$(count 'packets-*')
[ "$es_docs" = "$packets" ] || { echo "ingest-dir: espcap indexed $es_docs documents of $packets" >&2; exit 1; }
# Nothing is left to do for a second run: it only checks the resume state.
again=$(timed node bin/espcap.js --dir "$dir" --node "$url" --quiet --dead-letter /dev/null) || exit 1

drop_indices 'tshark-packets-*'
t0=$(date +%s.%N)
printf '%s\0' "${files[@]}" |
  xargs -0 -P "$cores" -I{} sh -c 'tshark -n -r "$1" -T ek 2>/dev/null | node bench/ek-to-bulk.js "$2" 1000 > /dev/null' _ {} "$url"
tshark_es=$(seconds "$t0")
tshark_docs=$(count 'tshark-packets-*')
[ "$tshark_docs" = "$packets" ] || { echo "ingest-dir: tshark -T ek | _bulk indexed $tshark_docs documents of $packets" >&2; exit 1; }

echo "| run | seconds | packets/s | documents in Elasticsearch |"
echo "|---|---|---|---|"
echo "| espcap --dir --output FILE, 1 worker (median of $runs) | $t1 | $(rate "$packets" "$t1") | - |"
echo "| espcap --dir --output FILE, $workers workers (median of $runs) | $tn | $(rate "$packets" "$tn") | - |"
echo "| espcap --dir --node ($cores workers) | $es | $(rate "$packets" "$es") | $es_docs of $packets |"
echo "| the same again (all files already indexed) | $again | - | - |"
echo "| tshark -T ek \| _bulk, $cores files at a time | $tshark_es | $(rate "$packets" "$tshark_es") | $tshark_docs of $packets |"
echo
echo "$workers workers vs 1: $(awk -v a="$t1" -v b="$tn" 'BEGIN { printf "%.2f", a / b }')x;" \
  "espcap --node vs tshark | _bulk: $(awk -v a="$es" -v b="$tshark_es" 'BEGIN { printf "%.1f", b / a }')x; $(date -u +%Y-%m-%d)"
