#!/usr/bin/env bash
# Soak: ten million packets through espcap with its memory sampled every
# second, from a file or from live replay, to show memory stays flat.
#
#   bash bench/soak.sh file [CAPTURE]               default bench/work/soak.pcap
#   bash bench/soak.sh live [CAPTURE] [LOOPS] [RATE] default bench/work/mix.pcap, 20, 30000
#
# file: espcap --file CAPTURE --output /dev/null with one dissecting process.
#       Build the capture first: bash bench/make-capture.sh bench/work/soak.pcap 10000000
# live: LOOPS replays of CAPTURE (20 x 501,440 = 10,028,800 packets) at RATE
#       packets/s over the veth pair of bench/live-network.sh (root) into
#       espcap --nic --output /dev/null.
#
# Samples the resident memory of espcap itself and of its dissecting processes
# (summed: during a hand-over the old one and its successor are both alive) into
# bench/work/soak-MODE.csv, draws bench/results/soak-MODE.svg, and prints a
# Markdown table. A dissecting process is replaced when it passes
# --worker-max-rss (400 MB), so its memory is a saw-tooth; "flat" means the
# peaks do not climb: after warm-up (the first 10% of the run) the run is cut
# into 10 windows, and the peak of the total in each window must stay within
# 10% of the others. espcap's own memory (the process that stays up for weeks
# in live capture) is shown beside it: its rise after warm-up, in MB and %.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  file) capture=${2:-bench/work/soak.pcap} ;;
  live) capture=${2:-bench/work/mix.pcap}; loops=${3:-20}; rate=${4:-30000} ;;
  *) echo "usage: bash bench/soak.sh file [CAPTURE] | live [CAPTURE] [LOOPS] [RATE]" >&2; exit 2 ;;
esac
[ -f "$capture" ] || { echo "soak: no capture $capture (build it with bench/make-capture.sh)" >&2; exit 1; }
mkdir -p bench/work bench/results
csv=bench/work/soak-$mode.csv
log=bench/work/soak-$mode.err
packets=$(capinfos -c -M "$capture" | awk -F': *' '/Number of packets/ {print $2}')

if [ "$mode" = file ]; then
  total=$packets
  node bin/espcap.js --file "$capture" --output /dev/null --workers 1 2> "$log" &
  pid=$!
  what="$total packets from $capture"
else
  total=$((packets * loops))
  source bench/live-network.sh
  ip netns exec "$cap" node bin/espcap.js --nic espcap0 --output /dev/null --count "$total" 2> "$log" &
  pid=$!
  until grep -q "capturing on" "$log"; do
    kill -0 "$pid" 2> /dev/null || { echo "soak: espcap did not start capturing: $(tail -1 "$log")" >&2; exit 1; }
    sleep 0.1
  done
  ip netns exec "$send" tcpreplay -q --pps="$rate" --loop="$loops" -i espcap1 "$capture" > /dev/null 2>&1 &
  replayer=$!
  what="$total packets replayed at $rate/s ($loops x $capture)"
fi

rss_mb() { # a process that just exited has no VmRSS: 0
  local mb
  mb=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2> /dev/null || true)
  echo "${mb:-0}"
}
echo "seconds,espcap_rss_mb,dissecting_rss_mb,total_rss_mb" > "$csv"
start=$(date +%s)
while kill -0 "$pid" 2> /dev/null; do
  dissecting=0
  for c in $(cat "/proc/$pid/task/$pid/children" 2> /dev/null || true); do dissecting=$((dissecting + $(rss_mb "$c"))); done
  own=$(rss_mb "$pid")
  echo "$(($(date +%s) - start)),$own,$dissecting,$((own + dissecting))" >> "$csv"
  sleep 1
done
status=0
wait "$pid" || status=$?
[ -n "${replayer:-}" ] && kill "$replayer" 2> /dev/null || true
elapsed=$(($(date +%s) - start))
# A failed run, or one that did not dissect every packet, measured nothing: fail instead of drawing it.
[ "$status" = 0 ] || { echo "soak: espcap exited with $status: $(tail -1 "$log")" >&2; exit 1; }
done_count=$(grep -oE '([0-9]+) packets from|([0-9]+) dissected' "$log" | tail -1 | grep -oE '^[0-9]+')
[ "$done_count" = "$total" ] || { echo "soak: espcap dissected ${done_count:-no} packets of $total: $(tail -1 "$log")" >&2; exit 1; }

node bench/plot-rss.js "$csv" "bench/results/soak-$mode.svg" "espcap soak ($mode): $what"
summary=$(grep -E "packets (from|captured)" "$log" | tail -1 | sed 's/^espcap: //')
awk -F, -v what="$what" -v elapsed="$elapsed" -v summary="$summary" '
  NR == 1 { next }
  $2 > 0 { n++; own[n] = $2; sum[n] = $4 }   # the last sample may be after exit
  END {
    warm = int(n / 10) + 1
    span = (n - warm + 1) / 10
    for (w = 0; w < 10; w++) {
      peak[w] = 0
      for (i = warm + int(w * span); i < warm + int((w + 1) * span) && i <= n; i++) if (sum[i] > peak[w]) peak[w] = sum[i]
      if (w == 0 || peak[w] < lo) lo = peak[w]
      if (peak[w] > hi) hi = peak[w]
      peaks = peaks (w ? ", " : "") peak[w]
    }
    for (i = warm; i <= n; i++) if (own[i] > ownmax) ownmax = own[i]
    spread = 100 * (hi - lo) / lo
    ownrise = 100 * (ownmax - own[warm]) / own[warm]
    printf "%s, %d s\n%s\n\n", what, elapsed, summary
    print "| | after warm-up (" warm " s) | end | max after warm-up | spread |"
    print "|---|---|---|---|---|"
    printf "| espcap process RSS (MB) | %d | %d | %d | +%.1f%% |\n", own[warm], own[n], ownmax, ownrise
    printf "| all processes RSS (MB), peak per tenth of the run | %s | | %d | %.1f%% |\n\n", peaks, hi, spread
    printf "%s: the peaks of all processes stay within %.1f%% of each other (at most 10%% is flat); espcap itself rose %d MB (%.1f%%) after warm-up\n", (spread <= 10 ? "FLAT" : "NOT FLAT"), spread, ownmax - own[warm], ownrise
  }' "$csv"
