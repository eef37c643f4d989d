#!/usr/bin/env bash
# Long live capture with flat memory: LOOPS replays of the benchmark capture
# (10 x 501,440 = 5,014,400 packets by default) over the veth pair of
# bench/live-network.sh at RATE packets/s into espcap --nic --output /dev/null,
# with the resident memory of espcap (the capturing process) and of its
# dissecting process sampled every second. A dissecting process is replaced
# when it passes --worker-max-rss (400 MB), so its memory is a saw-tooth that
# must not climb; the capturing process must stay flat.
# Writes bench/work/live/soak.csv (seconds, capture RSS MB, dissecting RSS MB)
# and prints RSS at start and end.
#
#   bash bench/live-soak.sh [CAPTURE] [LOOPS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
source_capture=${1:-bench/work/mix.pcap}
loops=${2:-10}
rate=${3:-30000}
[ -f "$source_capture" ] || { echo "live-soak: no capture $source_capture (build it: bash bench/make-capture.sh)" >&2; exit 1; }
work=bench/work/live
mkdir -p "$work"
source bench/live-network.sh
packets=$(capinfos -c -M "$source_capture" | awk -F': *' '/Number of packets/ {print $2}')
total=$((packets * loops))

ip netns exec "$cap" node bin/espcap.js --nic espcap0 --output /dev/null --count "$total" 2> "$work/soak.err" &
pid=$!
until grep -q "capturing on" "$work/soak.err"; do sleep 0.1; done
ip netns exec "$send" tcpreplay -q --pps="$rate" --loop="$loops" -i espcap1 "$source_capture" > /dev/null 2>&1 &
replayer=$!

rss_mb() { # a process that just exited has no VmRSS: 0
  local mb
  mb=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2> /dev/null || true)
  echo "${mb:-0}"
}
echo "seconds,capture_rss_mb,dissecting_rss_mb" > "$work/soak.csv"
start=$(date +%s)
while kill -0 "$pid" 2> /dev/null; do
  children=$(cat "/proc/$pid/task/$pid/children" 2> /dev/null || true)
  dissecting=0
  for c in $children; do dissecting=$((dissecting + $(rss_mb "$c"))); done
  echo "$(($(date +%s) - start)),$(rss_mb "$pid"),$dissecting" >> "$work/soak.csv"
  sleep 1
done
wait "$pid" || true
kill "$replayer" 2> /dev/null || true
elapsed=$(($(date +%s) - start))

summary=$(grep "packets captured" "$work/soak.err" | tail -1 | sed 's/^espcap: //')
awk -F, -v total="$total" -v rate="$rate" -v elapsed="$elapsed" -v summary="$summary" '
  NR == 1 { next }
  { n++; cap[n] = $2; dis[n] = $3; if ($2 > capmax) capmax = $2; if ($3 > dismax) dismax = $3 }
  END {
    warm = int(n / 10) + 1   # after warm-up: 10% of the run
    printf "%d packets replayed at %d/s, %d s\n%s\n\n", total, rate, elapsed, summary
    print "| | after warm-up (" warm " s) | end | max |"
    print "|---|---|---|---|"
    printf "| capturing process RSS (MB) | %d | %d | %d |\n", cap[warm], cap[n - 1], capmax
    printf "| dissecting process RSS (MB) | %d | %d | %d |\n", dis[warm], dis[n - 1], dismax
  }' "$work/soak.csv"
