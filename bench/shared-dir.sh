#!/usr/bin/env bash
# Several espcap processes sharing one directory and one cluster, as several
# hosts sharing an archive would (claims in Elasticsearch), against one
# process, in one run: wall time to index the whole directory, packets read
# by each process, documents in the cluster. Every process has --workers 1,
# so the comparison is one dissecting process against two that share.
# The directory comes from bench/make-directory.sh (58 files, 1,002,880 packets).
# Starts the local Elasticsearch (npm run es:start) unless ESPCAP_BENCH_ES_URL is set.
#
#   bash bench/shared-dir.sh [DIR] [RUNS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-bench/work/dir}
runs=${2:-1}
read_directory shared-dir "$dir"
url=${ESPCAP_BENCH_ES_URL:-$(node scripts/elasticsearch.js start | tail -1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

clean() {
  local names
  names=$(curl -s "$url/_cat/indices/packets-*?h=index" | tr '\n' ',' | sed 's/,$//')
  [ -z "$names" ] || curl -s -XDELETE "$url/$names" > /dev/null
  curl -s -XDELETE "$url/espcap-ingest-state" > /dev/null
}
count() { curl -s -XPOST "$url/packets-*/_refresh" > /dev/null; curl -s "$url/packets-*/_count" | sed 's/.*"count":\([0-9]*\).*/\1/'; }
read_by() { sed -n 's/.*Elasticsearch: \([0-9]*\) packets read.*/\1/p' "$1"; }
# CPU seconds of the espcap processes of a run (with their dissecting processes), from GNU time.
espcap_cpu() { cat "$work/$1"-*.time | awk '{ s += $1 + $2 } END { printf "%.1f", s }'; }
# Runs N processes together, each one worker; prints the wall time. A failed process fails the benchmark.
together() {
  local n=$1 t0 pids=() i
  clean
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do
    /usr/bin/time -f '%U %S' -o "$work/$n-$i.time" \
      node bin/espcap.js --dir "$dir" --node "$url" --workers 1 --host-id "bench-$i" --dead-letter /dev/null 2> "$work/$n-$i.err" > /dev/null &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "shared-dir: process $((i + 1)) of $n failed:" >&2; tail -3 "$work/$n-$((i + 1)).err" >&2; exit 1; }
  done
  seconds "$t0"
}

echo "directory: $dir, ${#files[@]} files, $packets packets; $(nproc) cores; Elasticsearch at $url" >&2
echo "warming up the cluster (untimed)" >&2
clean
node bin/espcap.js --file "${files[0]}" --node "$url" --quiet --no-resume --dead-letter /dev/null
one=() two=()
for r in $(seq "$runs"); do
  c0=$(es_cpu "$url") # the cluster's CPU: what bounds ingest on a small machine
  one+=("$(together 1)")
  es1=$(awk -v a="$c0" -v b="$(es_cpu "$url")" 'BEGIN { printf "%.0f", b - a }')
  docs1=$(count)
  [ "$docs1" = "$packets" ] || { echo "shared-dir: 1 process indexed $docs1 of $packets" >&2; exit 1; }
  c0=$(es_cpu "$url")
  two+=("$(together 2)")
  es2=$(awk -v a="$c0" -v b="$(es_cpu "$url")" 'BEGIN { printf "%.0f", b - a }')
  docs2=$(count)
  [ "$docs2" = "$packets" ] || { echo "shared-dir: 2 processes indexed $docs2 of $packets" >&2; exit 1; }
  echo "run $r: 1 process ${one[-1]} s, 2 processes ${two[-1]} s" >&2
done
t1=$(median "${one[@]}")
t2=$(median "${two[@]}")
r1=$(read_by "$work/2-1.err")
r2=$(read_by "$work/2-2.err")
[ $((r1 + r2)) = "$packets" ] || { echo "shared-dir: the two processes read $r1 + $r2 packets, not $packets" >&2; exit 1; }

echo "| processes (each --workers 1) | seconds | packets/s | packets read per process | documents | CPU s: espcap / Elasticsearch |"
echo "|---|---|---|---|---|---|"
echo "| 1 | $t1 | $(awk -v p="$packets" -v s="$t1" 'BEGIN { printf "%.0f", p / s }') | $packets | $docs1 of $packets | $(espcap_cpu 1) / $es1 |"
echo "| 2, sharing the directory | $t2 | $(awk -v p="$packets" -v s="$t2" 'BEGIN { printf "%.0f", p / s }') | $r1 + $r2 | $docs2 of $packets | $(espcap_cpu 2) / $es2 |"
echo
echo "2 processes vs 1: $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", a / b }')x (median of $runs); $(nproc) cores, used" \
  "$(awk -v c="$(espcap_cpu 2)" -v e="$es2" -v t="$t2" 'BEGIN { printf "%.2f", (c + e) / t }') of them with 2 processes; $(date -u +%Y-%m-%d)"
