#!/usr/bin/env bash
# Live capture over several dissecting processes (--workers), without a
# replay tool on the same cores: the benchmark-only source
# (--test-live-source FILE) feeds a capture file into the live path (flow
# hash, one stream per worker, frame notes, dissection, NDJSON written to
# /dev/null) as fast as the workers take it; nothing is dropped, so
# packets / seconds is the pipeline's lossless rate. Side by side in one run:
#   espcap --nic bench --test-live-source CAPTURE --workers 1   (RUNS times)
#   espcap --nic bench --test-live-source CAPTURE --workers 2   (RUNS times)
#   tshark -r CAPTURE -T ek > /dev/null                        (once: the reference)
# and the capturing process's own CPU time (capture_cpu_seconds of the last
# --stats-interval line, less that of a 108-packet run: Node's start-up),
# which gives the packets/s one core of capturing, hashing and handing over
# keeps up with. Prints a markdown table; the model for larger servers is in
# bench/results/live-workers.md.
#
#   bash bench/live-workers.sh [RUNS] [CAPTURE...]   (default: 3, varied300k.pcap and mix.pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
captures=("$@")
[ ${#captures[@]} -gt 0 ] || captures=(bench/work/varied300k.pcap bench/work/mix.pcap)
for c in "${captures[@]}"; do
  [ -f "$c" ] || { echo "live-workers: no capture $c (build it: bash bench/make-capture.sh $c 300000 varied, or bash bench/make-capture.sh)" >&2; exit 1; }
done
source bench/lib.sh

# Runs espcap once on the file source; prints "seconds cpu_seconds packets".
live_run() {
  local capture=$1 workers=$2 start err
  err=$(mktemp)
  start=$(date +%s.%N)
  node bin/espcap.js --nic bench --test-live-source "$capture" --workers "$workers" --output /dev/null --stats-interval 86400 2> "$err" ||
    { echo "live-workers: espcap failed: $(grep -v '^{' "$err" | head -3)" >&2; rm -f "$err"; exit 1; }
  local took
  took=$(seconds "$start")
  grep -q ' 0 by espcap' "$err" || { echo "live-workers: packets dropped: $(grep 'captured on' "$err")" >&2; exit 1; }
  echo "$took $(grep '^{' "$err" | tail -1 | node -e 'const s = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(s.capture_cpu_seconds, s.dissected)')"
  rm -f "$err"
}

baseline_cpu=$(live_run test_pcaps/test_dns.pcap 1 | awk '{print $2}')
echo "$(nproc) cores; $runs runs per row (median); capture CPU net of a 108-packet run's ${baseline_cpu} s" >&2
echo "| capture | packets | tshark -T ek | espcap 1 worker | espcap 2 workers | 2 vs 1 | capture process CPU (2 workers) | capture: packets/s per core |"
echo "|---|---|---|---|---|---|---|---|"
for capture in "${captures[@]}"; do
  start=$(date +%s.%N)
  tshark -n -r "$capture" -T ek > /dev/null 2> /dev/null || true
  tshark_s=$(seconds "$start")
  declare -A took=() cpu=()
  packets=0
  for workers in 1 2; do
    t=()
    c=()
    for _ in $(seq "$runs"); do
      read -r s u n <<< "$(live_run "$capture" "$workers")"
      t+=("$s")
      c+=("$u")
      packets=$n
    done
    took[$workers]=$(median "${t[@]}")
    cpu[$workers]=$(median "${c[@]}")
    echo "$(basename "$capture"): $workers worker(s): ${t[*]} s; capture CPU ${c[*]} s" >&2
  done
  net_cpu=$(awk -v a="${cpu[2]}" -v b="$baseline_cpu" 'BEGIN { printf "%.2f", a - b }')
  rate() { awk -v n="$packets" -v s="$1" 'BEGIN { printf "%d", n / s }'; }
  echo "| $(basename "$capture") | $packets | ${tshark_s} s ($(rate "$tshark_s")/s) | ${took[1]} s ($(rate "${took[1]}")/s) | ${took[2]} s ($(rate "${took[2]}")/s) |" \
    "$(awk -v a="${took[1]}" -v b="${took[2]}" 'BEGIN { printf "%.2fx", a / b }') | ${cpu[2]} s (${net_cpu} s net) | $(rate "$net_cpu") |"
done
echo
echo "$(date -u +%Y-%m-%d)"
