#!/usr/bin/env bash
# Bytes on disk per packet, after a force-merge to one segment, against the
# capture's own bytes per packet, for the storage choices espcap could make;
# and the ingest rate of each, in one run. Two inputs:
#   http    the first 100,000 packets of the HTTP/TLS mix (bench/make-capture.sh)
#   varied  every Ethernet capture of the corpus, 4 copies, in one day (bench/make-archive.sh)
# Choices, each a copy of espcap's own index template with one change, put
# above it (a higher priority) for the run's index prefix:
#   shipped            espcap's template as it is (index.codec best_compression)
#   lz4                index.codec default: Lucene's LZ4 stored fields
#   no-doc-values      best_compression, and no doc values for layer fields (not aggregatable)
# The documents are checked: the run fails if an index holds other than every packet.
# Starts the local Elasticsearch (npm run es:start) unless ESPCAP_BENCH_ES_URL is set.
#
#   bash bench/storage.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bash bench/make-capture.sh > /dev/null
http=bench/work/storage-http.pcap
[ -f "$http" ] || editcap -r bench/work/mix.pcap "$http" 1-100000
varied=$(bash bench/make-archive.sh 676 4)/one-day
url=${ESPCAP_BENCH_ES_URL:-$(node scripts/elasticsearch.js start | tail -1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The template of a choice, from espcap's template of prefix $1 (on stdin), for prefix $2.
variant() {
  node -e '
    const [choice, prefix] = process.argv.slice(1);
    const t = JSON.parse(require("fs").readFileSync(0, "utf8")).index_templates[0].index_template;
    t.index_patterns = [prefix + "-*"];
    t.priority = 300;
    if (choice === "lz4") delete t.template.settings.index.codec;
    if (choice === "no-doc-values")
      for (const layer of Object.values(t.template.mappings.properties.layers.properties ?? {}))
        for (const field of Object.values(layer.properties ?? {})) if (field.type !== "boolean") field.doc_values = false;
    process.stdout.write(JSON.stringify(t));
  ' "$1" "$2"
}
json_number() { node -e 'let s = JSON.parse(require("fs").readFileSync(0, "utf8")); for (const k of process.argv[1].split(".")) s = s[k]; console.log(s)' "$1"; }

# measure NAME CHOICE PACKETS CAPTURE-BYTES ESPCAP-INPUT-FLAGS...: one table row
measure() {
  local name=$1 choice=$2 packets=$3 bytes=$4 prefix="bench-storage-$1-$2" t0 secs docs store
  shift 4
  curl -sf -XDELETE "$url/$prefix-*" > /dev/null || true
  if [ "$choice" != shipped ]; then
    curl -sf "$url/_index_template/espcap-bench-storage-$name-shipped" | variant "$choice" "$prefix" > "$work/template.json"
    curl -sf -XPUT "$url/_index_template/$prefix-override" -H 'content-type: application/json' --data-binary @"$work/template.json" > /dev/null
  fi
  t0=$(date +%s.%N)
  # (The no-doc-values template maps fields unlike espcap would: its warnings about that go to the log.)
  node bin/espcap.js "$@" --node "$url" --index-prefix "$prefix" --no-resume --quiet --dead-letter "$work/dead.ndjson" 2> "$work/espcap.log" ||
    { cat "$work/espcap.log" >&2; echo "storage: espcap failed ($name, $choice)" >&2; exit 1; }
  secs=$(seconds "$t0")
  curl -sf -XPOST "$url/$prefix-*/_forcemerge?max_num_segments=1" > /dev/null
  curl -sf -XPOST "$url/$prefix-*/_refresh" > /dev/null
  docs=$(curl -sf "$url/$prefix-*/_count" | json_number count)
  [ "$docs" = "$packets" ] || { echo "storage: $docs documents of $packets ($name, $choice)" >&2; exit 1; }
  store=$(curl -sf "$url/$prefix-*/_stats/store" | json_number _all.primaries.store.size_in_bytes)
  [ "$choice" = shipped ] || curl -sf -XDELETE "$url/_index_template/$prefix-override" > /dev/null
  curl -sf -XDELETE "$url/$prefix-*" > /dev/null
  awk -v n="$name" -v c="$choice" -v p="$packets" -v b="$bytes" -v s="$store" -v t="$secs" 'BEGIN {
    printf "| %s | %s | %.0f | %.0f | %.2fx | %s | %.0f |\n", n, c, b / p, s / p, s / b, t, p / t }'
}

read_directory storage "$varied"
varied_packets=$packets
varied_bytes=$(cat "${files[@]}" | wc -c)
http_packets=$(capinfos -c -M -T "$http" | awk -F'\t' 'NR == 2 {print $2}')
http_bytes=$(stat -c %s "$http")
echo "| input | choice | capture bytes/packet | on disk bytes/packet | on disk / capture | ingest seconds | packets/s |"
echo "|---|---|---|---|---|---|---|"
for choice in shipped lz4 no-doc-values; do measure http "$choice" "$http_packets" "$http_bytes" --file "$http"; done
for choice in shipped lz4 no-doc-values; do measure varied "$choice" "$varied_packets" "$varied_bytes" --dir "$varied"; done
curl -sf -XDELETE "$url/_index_template/espcap-bench-storage-*" > /dev/null || true
echo
echo "Elasticsearch $(curl -sf "$url/_nodes/_local?filter_path=nodes.*.version" | node -e 'console.log(Object.values(JSON.parse(require("fs").readFileSync(0,"utf8")).nodes)[0].version)'); $(date -u +%Y-%m-%d)"
