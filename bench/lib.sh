# Helpers the directory benchmarks share (sourced, not run). Paths are
# relative to the repository root, where sourcing this leaves the shell.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Reads the captures of a directory: sets `files` (sorted) and `packets` (their total).
#   read_directory NAME DIR
read_directory() {
  [ -d "$2" ] || { echo "$1: no directory $2 (build it: bash bench/make-directory.sh)" >&2; exit 1; }
  mapfile -t files < <(find "$2" -type f -name '*.pcap*' | sort)
  packets=$(capinfos -c -M -T "${files[@]}" | awk -F'\t' 'NR > 1 {s += $2} END {print s}')
}

# Seconds since a `date +%s.%N` time, two decimals.
seconds() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
# The CPU seconds (user + system, one decimal) the Elasticsearch listening at URL has used so far; 0 when its process is not on this machine.
#   es_cpu URL
es_cpu() {
  local port pid
  port=$(echo "$1" | sed -n 's#.*:\([0-9]*\)/*$#\1#p')
  pid=$(ss -ltnpH "sport = :$port" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
  [ -n "$pid" ] && awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$pid/stat" || echo 0
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
