#!/usr/bin/env bash
# Years of days on one node: the same packets indexed twice with default
# flags, once as an archive whose captures span DAYS UTC days (one index a
# day) and once re-timed into a single day, in one run; the rate of the first
# against the second says what new indices cost. The captures come from
# bench/make-archive.sh: every Ethernet capture of the shared corpus with
# fewer than 3,000 packets (many protocols: thousands of layer fields),
# COPIES times each. The run fails if espcap fails or a document is missing.
# Starts the local Elasticsearch (npm run es:start) unless ESPCAP_BENCH_ES_URL is set.
#
#   bash bench/archive-days.sh [DAYS] [COPIES]     # defaults: 676 4
set -euo pipefail
source "$(dirname "$0")/lib.sh"
days=${1:-676}
copies=${2:-4}
work=$(bash bench/make-archive.sh "$days" "$copies")
read_directory archive-days "$work/days"
url=${ESPCAP_BENCH_ES_URL:-$(node scripts/elasticsearch.js start | tail -1)}
clean() {
  local names
  names=$(curl -s "$url/_cat/indices/packets-*?h=index" | tr '\n' ',' | sed 's/,$//')
  while [ -n "$names" ]; do
    curl -s -XDELETE "$url/$(echo "$names" | cut -d, -f1-100)" > /dev/null
    names=$(curl -s "$url/_cat/indices/packets-*?h=index" | tr '\n' ',' | sed 's/,$//')
  done
  curl -s -XDELETE "$url/espcap-ingest-state" > /dev/null
  curl -s -XDELETE "$url/_index_template/espcap-packets" > /dev/null
}
count() { curl -s -XPOST "$url/packets-*/_refresh" > /dev/null; curl -s "$url/packets-*/_count" | sed 's/.*"count":\([0-9]*\).*/\1/'; }
indices() { curl -s "$url/_cat/indices/packets-*?h=index" | wc -l; }
# run DIR [ESPCAP FLAGS...]: prints the seconds
run() {
  local t0 dir=$1
  shift
  clean
  t0=$(date +%s.%N)
  node bin/espcap.js --dir "$dir" --node "$url" --quiet --dead-letter "$work/dead.ndjson" "$@" || { echo "archive-days: espcap failed on $dir" >&2; exit 1; }
  seconds "$t0"
}
echo "warming up the cluster (untimed)" >&2
clean
node bin/espcap.js --file "${files[0]}" --node "$url" --quiet --no-resume --dead-letter /dev/null
echo "archive: ${#files[@]} files, $packets packets" >&2
rows=()
for spec in "one-day:in one day" "days:over $days days, one index a day (default)" "days:over $days days, --index-period month:--index-period month"; do
  IFS=: read -r sub label flags <<< "$spec"
  cpu0=$(es_cpu "$url") # the cluster's CPU: what new indices cost it
  # shellcheck disable=SC2086 # flags are words
  t=$(run "$work/$sub" $flags)
  docs=$(count)
  [ "$docs" = "$packets" ] || { echo "archive-days: $docs documents of $packets ($label)" >&2; exit 1; }
  rows+=("| $label | $(indices) | $t | $(awk -v p="$packets" -v s="$t" 'BEGIN { printf "%.0f", p / s }') | $docs | $(awk -v a="$cpu0" -v b="$(es_cpu "$url")" 'BEGIN { printf "%.0f", b - a }') |")
  [ "$sub" = one-day ] && t_one=$t
  [ -z "$flags" ] && [ "$sub" = days ] && t_days=$t
  [ -n "$flags" ] && t_month=$t
done
health=$(curl -s "$url/_cluster/health" | sed 's/.*"status":"\([a-z]*\)".*/\1/')
echo "| the same $packets packets | indices | seconds | packets/s | documents | Elasticsearch CPU s |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "over $days days vs one day: $(awk -v a="$t_one" -v b="$t_days" 'BEGIN { printf "%.2f", a / b }')x by day, $(awk -v a="$t_one" -v b="$t_month" 'BEGIN { printf "%.2f", a / b }')x by month; cluster $health after; $(date -u +%Y-%m-%d)"
