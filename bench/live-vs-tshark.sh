#!/usr/bin/env bash
# Live capture at increasing packet rates, side by side in one run, on a veth
# pair between two private network namespaces (bench/live-network.sh):
#   espcap --nic espcap0 --output - | wc -l
#   espcap --nic espcap0 --workers 2 --output FILE; wc -l FILE   (packets spread over 2 dissecting processes by flow)
#   espcap --nic espcap0 --node URL            (local Elasticsearch; ESPCAP_BENCH_ES_URL or started)
#   tshark -n -i espcap0 -T ek | wc -l          (two lines per packet)
# At each rate, SECONDS of sustained traffic (rate x SECONDS packets of the
# capture, looped) are replayed with tcpreplay --pps. 3 s after the traffic
# stops, everything is killed and the documents written so far are counted.
# A rate is kept up with ("lossless") when every packet sent was written by
# then. Sustained traffic, so that buffers cannot hide a lack of speed; a
# deadline, because tshark's dumpcap spools to a temporary file: tshark falls
# behind without dropping, and what it has not written 3 s after the traffic
# stopped counts as lost here, as for espcap. tcpreplay runs on the same cores.
#
#   bash bench/live-vs-tshark.sh [CAPTURE] [SECONDS]     (RATES="..." to choose the rates)
set -euo pipefail
cd "$(dirname "$0")/.."
source_capture=${1:-bench/work/mix.pcap}
duration=${2:-20}
rates=${RATES:-"2500 5000 10000 20000 30000 40000 60000 80000"}
[ -f "$source_capture" ] || { echo "live-vs-tshark: no capture $source_capture (build it: bash bench/make-capture.sh)" >&2; exit 1; }
work=bench/work/live
mkdir -p "$work"
url=${ESPCAP_BENCH_ES_URL:-$(node scripts/elasticsearch.js start | tail -1)}
source bench/live-network.sh
relay_elasticsearch "$url"
trap 'stop_relays; remove_network' EXIT

# Kills what captures at the deadline: espcap and its dissecting processes (own process groups), or tshark.
kill_capture() { pkill -KILL -f "$1" || true; }
# A run that failed: its capture stopped (a capture left running would hold the
# command substitution that reads its count open), the reason said, exit 1.
fail() {
  for what in "bin/espcap.js --nic espcap0" "dist/src/pipeline/worker.js" "tshark -n -i espcap0" dumpcap; do kill_capture "$what"; done
  echo "live-vs-tshark: $*" >&2
  exit 1
}
replay() { # rate: rate x duration packets; a replay that fails fails the run (its counts would read as losses)
  ip netns exec "$send" tcpreplay -q --pps="$1" --loop=1000 --limit=$(($1 * duration)) -i espcap1 "$source_capture" > "$work/tcpreplay.out" 2>&1 ||
    fail "tcpreplay failed at $1/s: $(grep -m1 . "$work/tcpreplay.out")"
}

# Documents espcap wrote by the deadline at rate $1; $2: "stdout", "workers2" or "node".
espcap_at() {
  local rate=$1 mode=$2
  : > "$work/espcap.err"
  # The last packet may sit in a write buffer when its writer is killed: a
  # run with at most one packet missing counts as complete (see lossless()).
  if [ "$mode" = node ]; then
    ip netns exec "$cap" node bin/espcap.js --nic espcap0 --node "$url" --dead-letter /dev/null 2> "$work/espcap.err" &
  elif [ "$mode" = workers2 ]; then
    : > "$work/espcap.ndjson"
    ip netns exec "$cap" node bin/espcap.js --nic espcap0 --workers 2 --output "$work/espcap.ndjson" 2> "$work/espcap.err" &
  else
    (ip netns exec "$cap" node bin/espcap.js --nic espcap0 --output - 2> "$work/espcap.err" | wc -l > "$work/espcap.lines") &
  fi
  until sleep 0.1 && grep -q "capturing on" "$work/espcap.err"; do
    pgrep -f "bin/espcap.js --nic espcap0" > /dev/null || fail "espcap did not start: $(cat "$work/espcap.err")"
  done
  replay "$rate"
  sleep 3
  kill_capture "bin/espcap.js --nic espcap0"
  kill_capture "dist/src/pipeline/worker.js"
  wait 2> /dev/null || true
  if [ "$mode" = node ]; then
    curl -s -XPOST "$url/packets-*/_refresh" > /dev/null
    curl -s "$url/packets-*/_count" | sed 's/.*"count":\([0-9]*\).*/\1/'
  elif [ "$mode" = workers2 ]; then
    wc -l < "$work/espcap.ndjson"
  else
    cat "$work/espcap.lines"
  fi
}

tshark_at() {
  local rate=$1
  : > "$work/tshark.err"
  (ip netns exec "$cap" tshark -n -i espcap0 -T ek 2> "$work/tshark.err" | wc -l > "$work/tshark.lines") &
  until sleep 0.1 && grep -q "Capturing on" "$work/tshark.err"; do
    pgrep -f "tshark -n -i espcap0" > /dev/null || fail "tshark did not start: $(tail -1 "$work/tshark.err")"
  done
  replay "$rate"
  sleep 3
  kill_capture "tshark -n -i espcap0"
  kill_capture "dumpcap"
  wait 2> /dev/null || true
  # An index line and a document line per packet. tshark's own stdout buffer
  # may still hold the newline of its last document when it is killed: that
  # document counts (it was processed).
  echo $((($(cat "$work/tshark.lines") + 1) / 2))
}

drop_indices() {
  local names
  names=$(curl -s "$url/_cat/indices/packets-*?h=index" | tr '\n' ',' | sed 's/,$//')
  [ -z "$names" ] || curl -s -XDELETE "$url/$names" > /dev/null
}

echo "$duration s of traffic per rate from $source_capture; rates: $rates; $(nproc) cores" >&2
rows=()
for rate in $rates; do
  sent=$((rate * duration))
  out=$(espcap_at "$rate" stdout)
  two=$(espcap_at "$rate" workers2)
  drop_indices
  es=$(espcap_at "$rate" node)
  drop_indices
  ts=$(tshark_at "$rate")
  # Each run prints one count; anything else is a run that failed (its message is above).
  for got in "$out" "$two" "$es" "$ts"; do
    [[ $got =~ ^[0-9]+$ ]] || { echo "live-vs-tshark: a run at $rate/s failed (got '$got')" >&2; exit 1; }
  done
  echo "rate $rate: espcap $out, espcap --workers 2 $two, espcap --node $es, tshark $ts of $sent" >&2
  rows+=("$rate $sent $out $es $ts $two")
done

lossless() { # column -> highest rate where that column got every packet (but the one a write buffer may hold)
  printf '%s\n' "${rows[@]}" | awk -v c="$1" '$c >= $2 - 1 && $1 > best {best = $1} END {print best + 0}'
}
cell() { awk -v got="$1" -v n="$2" 'BEGIN { if (got >= n) print "all"; else if (got == n - 1) print "all but 1"; else printf "%d (%.1f%% lost)", got, 100 * (n - got) / n }'; }
echo "| packets/s sent | packets sent | espcap --output - | espcap --workers 2 --output FILE | espcap --node | tshark -T ek |"
echo "|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  read -r rate sent out es ts two <<< "$row"
  echo "| $rate | $sent | $(cell "$out" "$sent") | $(cell "$two" "$sent") | $(cell "$es" "$sent") | $(cell "$ts" "$sent") |"
done
e=$(lossless 3)
n=$(lossless 4)
t=$(lossless 5)
w=$(lossless 6)
echo
echo "highest lossless rate: espcap $e/s, espcap --workers 2 $w/s, espcap --node $n/s, tshark $t/s;" \
  "espcap/tshark: $(awk -v a="$e" -v b="$t" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'); $(date -u +%Y-%m-%d)"
