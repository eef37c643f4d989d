#!/usr/bin/env bash
# Builds a large, realistic benchmark capture (default bench/work/mix.pcap,
# at least 500,000 packets): the kind of traffic a web server sees, mostly TCP
# with HTTP and TLS, plus some DNS and a little other traffic. It is made only
# from the real captures in the shared pcaps folder (../shared/pcaps, next to
# the repository; override with ESPCAP_PCAPS) and only with Wireshark's CLI
# tools (capinfos, editcap, mergecap; tshark for the final breakdown), plus a
# small perl step, explained below.
#
#   bash bench/make-capture.sh [OUT] [MIN_PACKETS] [web|varied]
#
# "web" (the default) is the list below; "varied" takes one copy per cycle of
# every Ethernet capture of the corpus with fewer than 3,000 packets (about
# 200 files: many protocols, most of them small), the traffic a network tap
# sees rather than a web server, e.g.
#   bash bench/make-capture.sh bench/work/varied.pcap 100000 varied
#
# Paths are relative to the repository root, like bench/dissect-vs-tshark.sh.
# Idempotent: if OUT already has MIN_PACKETS packets or more, it says so and
# exits.
#
# How the capture is made:
#  1. A fixed list of source captures (MIX below), picked with tshark from the
#     corpus: the files that are mostly HTTP, TLS or DNS, plus a few others.
#     Only Ethernet captures, no bad_* files. Each has a weight: how many
#     copies of it go into one "cycle".
#  2. The copies are spread evenly across the cycle. editcap -t shifts each copy
#     so that it starts just after the previous one ends: no two copies overlap
#     in time. mergecap -a joins them into cycle.pcap.
#  3. The cycle is repeated, shifted in time the same way, until MIN_PACKETS is
#     reached, and the repeats are joined with mergecap -a -F pcap into OUT.
#
# Why the perl step: a time shift alone is not enough. A copy of a TCP stream
# has the same addresses, ports and initial sequence numbers as the first
# copy, so Wireshark does not see a new connection. It flags every packet of
# the copy as a retransmission and dissects no HTTP or TLS in it. So each copy
# also gets its own IP addresses. Wireshark's CLI tools cannot do this. The
# perl step rewrites the address bytes in place and touches nothing else. For
# copy number k, in each IPv4 address (for IPv6, in the last 32 bits), it adds
# k to the upper 16-bit word and subtracts k from the lower one, modulo 65535.
# That leaves the one's-complement sum unchanged, so the IP header checksum and
# the TCP/UDP pseudo-header checksums stay exactly as they were, valid or not.
# Multicast and broadcast addresses (IPv4 224/3, IPv6 ff00::/8) and 0.0.0.0/8
# and :: are left alone. Loopback is not: several sources are 127.0.0.1 or ::1
# conversations, and their copies would collide too. Payloads (DNS answers,
# HTTP Host headers) are not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "make-capture: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing (Debian: apt-get install $2)"; }

out=${1:-bench/work/mix.pcap}
min=${2:-500000}
kind=${3:-web}
[[ $kind == web || $kind == varied ]] || die "the mix is 'web' or 'varied', got '$kind'"
pcaps=${ESPCAP_PCAPS:-../shared/pcaps}
[[ $min =~ ^[1-9][0-9]{0,9}$ ]] || die "MIN_PACKETS must be a positive integer, got '$min'"

need capinfos wireshark-common
need editcap wireshark-common
need mergecap wireshark-common
need tshark tshark
need perl perl-base

# Idempotence: an existing OUT that is big enough is kept as it is.
if [ -f "$out" ]; then
  have=$(capinfos -T -r -c "$out" 2>/dev/null | cut -f2) || have=
  if [[ $have =~ ^[0-9]+$ ]] && (( have >= min )); then
    echo "make-capture: $out already has $have packets (>= $min), $(( $(stat -c %s "$out") / 1000000 )) MB; nothing to do"
    exit 0
  fi
  echo "make-capture: $out has ${have:-unreadable/0} packets (< $min); rebuilding it"
fi

[ -d "$pcaps" ] || die "no pcaps folder at $pcaps (set ESPCAP_PCAPS to the folder holding corpus/ and espcap/)"
manifest=$pcaps/corpus/MANIFEST.tsv
[ -f "$manifest" ] || die "no manifest at $manifest (set ESPCAP_PCAPS to the folder holding corpus/ and espcap/)"

# The mix: copies per cycle, then the path under $pcaps. Per-file counts from
# tshark 4.0 (frames: all / tcp / with an HTTP message / with a TLS record / dns):
MIX=$(cat <<'EOF'
1  corpus/1000-requests-one-dropped-response.pcap.gz
1  espcap/test_http.pcap
1  corpus/206_example_a.pcap
1  corpus/206_example_c.pcap
2  corpus/wikipedia.pcap
2  corpus/pipelined-requests.pcap
2  corpus/websocket.pcap
2  corpus/jupyter-websocket.pcap
1  corpus/http-post-large.pcap
2  corpus/post.pcap
2  corpus/http-xff.pcap
1  corpus/flash-version.pcap
1  corpus/iso-download.pcap.gz
10 corpus/ssl.v3.pcap
10 corpus/tls-1.2-stream-keylog.pcap
6  corpus/xmpp-starttls.pcap
6  corpus/ocsp-stapling-digicert.pcap
6  corpus/socks-with-ssl.pcap
6  corpus/tls-12-amazon-rds.pcap
6  corpus/x509-generalizedtime.pcap
6  corpus/openssl-ssl3.pcap
6  corpus/CVE-2015-3194.pcap
3  corpus/globus-url-copy.pcap
6  espcap/test_dns.pcap
1  corpus/var-services-std-ports.pcap
1  corpus/v6.pcap
1  corpus/quic_win11_firefox_google.pcap
1  corpus/nbns.pcap
EOF
)
#   1000-requests-one-dropped-response  4102 / 4102 / 2000 /   0 /   0   one keep-alive connection, 1000 GETs
#   test_http                           1268 / 1268 /  188 /   0 /   0
#   206_example_a, 206_example_c         672 /  672 /    4 ;  1069 / 1069 / 68   range downloads
#   wikipedia                            136 /   78 /   30 /   0 /  28
#   ssl.v3                               252 /  252 /    0 /  82 /   0
#   tls-1.2-stream-keylog                237 /  237 /    0 /  60 /   0
#   the other TLS files (xmpp ... globus) 15-61 frames each, about a third with a TLS record
#   test_dns                             108 /    0 /    0 /   0 / 108
#   var-services-std-ports, v6           mixed TCP/UDP with DNS; quic_win11 (QUIC), nbns (UDP)
# Left out on purpose: smtp.pcap (its timestamps span 5.8 years), captures with
# many malformed packets (206_example_b), tunnels (gre-*, erspan).

if [ "$kind" = varied ]; then
  # Every Ethernet capture with fewer than 3,000 packets (big ones would drown the variety), once per cycle.
  MIX=$(awk -F'\t' 'NR > 1 && $1 !~ /^bad_/ && $6 == "ether" && $5 ~ /^[0-9]+$/ && $5 < 3000 {print "1  corpus/" $1}' "$manifest" | sort -k2)
fi

work=bench/work/make-capture.tmp
rm -rf "$work"
mkdir -p "$work" "$(dirname "$out")"
trap 'rm -rf "$work"' EXIT

# "sec.frac" -> integer microseconds; integer microseconds -> "[-]sec.usec".
to_us() { local s=${1%%.*} f=; [[ $1 == *.* ]] && f=${1#*.}; f=${f}000000; echo $(( 10#$s * 1000000 + 10#${f:0:6} )); }
fmt_us() { local v=$1 s=; (( v < 0 )) && { s=-; v=$(( -v )); }; printf '%s%d.%06d' "$s" $(( v / 1000000 )) $(( v % 1000000 )); }

read -r -d '' REWRITE <<'PERL' || true
use strict; use warnings;
my ($file, $k) = @ARGV;
$k %= 65535;
exit 0 if $k == 0;
open(my $fh, '<:raw', $file) or die "make-capture: $file: $!\n";
my $d = do { local $/; <$fh> };
close $fh;
die "make-capture: $file: too short for a pcap file\n" if length($d) < 24;
my $m = unpack('V', $d);
my $u32 = ($m == 0xa1b2c3d4 || $m == 0xa1b23c4d) ? 'V'
        : ($m == 0xd4c3b2a1 || $m == 0x4d3cb2a1) ? 'N'
        : die "make-capture: $file: not a pcap file\n";
my $lt = unpack($u32, substr($d, 20, 4)) & 0x0fffffff;
die "make-capture: $file: link type $lt, expected 1 (Ethernet)\n" unless $lt == 1;
# Upper word + k, lower word - k, modulo 65535: the one's-complement sum is unchanged.
sub shift32 {
  my $o = shift;
  my ($hi, $lo) = unpack('nn', substr($d, $o, 4));
  substr($d, $o, 4) = pack('nn', ($hi + $k) % 65535, ($lo - $k) % 65535);
}
my ($pos, $len) = (24, length $d);
while ($pos + 16 <= $len) {
  my $p = $pos + 16;
  my $end = $p + unpack($u32, substr($d, $pos + 8, 4));
  die "make-capture: $file: truncated record at byte $pos\n" if $end > $len;
  my $o = $p + 12;
  my $et = $o + 2 <= $end ? unpack('n', substr($d, $o, 2)) : 0;
  while (($et == 0x8100 || $et == 0x88a8 || $et == 0x9100) && $o + 6 <= $end) {
    $o += 4;
    $et = unpack('n', substr($d, $o, 2));
  }
  $o += 2;
  if ($et == 0x0800 && $o + 20 <= $end && ord(substr($d, $o, 1)) >> 4 == 4) {
    for my $at ($o + 12, $o + 16) {
      my $b0 = ord(substr($d, $at, 1));
      shift32($at) unless $b0 == 0 || $b0 >= 224;
    }
  } elsif ($et == 0x86dd && $o + 40 <= $end && ord(substr($d, $o, 1)) >> 4 == 6) {
    for my $at ($o + 8, $o + 24) {
      shift32($at + 12) unless ord(substr($d, $at, 1)) == 0xff || substr($d, $at, 16) eq "\0" x 16;
    }
  }
  $pos = $end;
}
die "make-capture: $file: " . ($len - $pos) . " stray bytes at the end\n" if $pos != $len;
open($fh, '>:raw', "$file.new") or die "make-capture: $file.new: $!\n";
print $fh $d or die "make-capture: $file.new: $!\n";
close $fh or die "make-capture: $file.new: $!\n";
rename("$file.new", $file) or die "make-capture: $file: $!\n";
PERL
readdr() { perl -e "$REWRITE" "$1" "$2"; }

t0=$SECONDS
echo "make-capture: building $out (>= $min packets) from $pcaps"

# Check the sources and read their packet count and time span.
names=() weights=() npkts=() first=() span=()
while read -r w rel; do
  [ -n "$rel" ] || continue
  f=$pcaps/$rel
  base=${rel##*/}
  [[ $base == bad_* ]] && { echo "make-capture: skipping $rel (bad_* file)" >&2; continue; }
  [ -f "$f" ] || die "source capture missing: $f"
  if [[ $rel == corpus/* ]]; then
    lt=$(awk -F'\t' -v n="$base" '$1 == n {print $6}' "$manifest")
    [ "$lt" = ether ] || { echo "make-capture: skipping $rel (manifest link type '${lt:-none}', not ether)" >&2; continue; }
  fi
  IFS=$'\t' read -r _ encap count start end < <(capinfos -T -r -E -c -S -a -e "$f" 2>/dev/null) \
    || die "capinfos cannot read $f"
  [ "$encap" = ether ] || { echo "make-capture: skipping $rel (encapsulation $encap, not ether)" >&2; continue; }
  [[ $start =~ ^[0-9]+(\.[0-9]+)?$ && $end =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "make-capture: skipping $rel (no packet times)" >&2; continue; }
  s_us=$(to_us "$start"); e_us=$(to_us "$end")
  (( e_us - s_us <= 3600000000 )) || { echo "make-capture: skipping $rel (spans more than an hour)" >&2; continue; }
  names+=("$rel"); weights+=("$w"); npkts+=("$count"); first+=("$s_us"); span+=($(( e_us - s_us )))
done <<< "$MIX"
(( ${#names[@]} > 0 )) || die "no usable source capture under $pcaps"

# Order of the copies in a cycle: copy c of a file with weight w sits at (c - 0.5) / w,
# so the copies of each file are spread evenly.
mapfile -t order < <(for i in "${!names[@]}"; do
  for (( c = 1; c <= weights[i]; c++ )); do echo "$c ${weights[i]} $i"; done
done | awk '{printf "%.6f %d\n", ($1 - 0.5) / $2, $3}' | sort -k1,1n -k2,2n -s | cut -d' ' -f2)

# One cycle: the copies one after the other, with a 10 ms gap, starting 2024-01-01 00:00:00 UTC.
gap_us=10000
start_us=1704067200000000
cursor=$start_us
j=0
inst=()
for i in "${order[@]}"; do
  j=$(( j + 1 ))
  dst=$work/i$(printf %05d "$j").pcap
  editcap -F pcap -t "$(fmt_us $(( cursor - first[i] )))" "$pcaps/${names[i]}" "$dst" \
    || die "editcap failed on ${names[i]}"
  readdr "$dst" "$j"
  inst+=("$dst")
  cursor=$(( cursor + span[i] + gap_us ))
done
mergecap -F pcap -a -w "$work/cycle.pcap" "${inst[@]}" || die "mergecap failed building the cycle"
rm -f "${inst[@]}"
cycle_us=$(( cursor - start_us ))
cycle_pkts=$(capinfos -T -r -c "$work/cycle.pcap" | cut -f2)
ncopies=$(( (min + cycle_pkts - 1) / cycle_pkts ))
echo "make-capture: one cycle = $j copies of ${#names[@]} files, $cycle_pkts packets, $(fmt_us "$cycle_us") s; repeating it $ncopies times"

# The repeats: shifted by whole cycles, addresses moved on by $j per cycle.
parts=("$work/cycle.pcap")
for (( c = 1; c < ncopies; c++ )); do
  dst=$work/c$(printf %05d "$c").pcap
  editcap -F pcap -t "$(fmt_us $(( c * cycle_us )))" "$work/cycle.pcap" "$dst" || die "editcap failed on the cycle"
  readdr "$dst" $(( c * j ))
  parts+=("$dst")
done
mergecap -F pcap -a -w "$work/mix.pcap" "${parts[@]}" || die "mergecap failed joining the cycles"
mv -f "$work/mix.pcap" "$out"
build_s=$(( SECONDS - t0 ))

total=$(capinfos -T -r -c "$out" | cut -f2)
bytes=$(stat -c %s "$out")
echo
echo "make-capture: wrote $out: $total packets, $bytes bytes ($(( bytes / 1000000 )) MB), built in ${build_s} s"
echo
echo "sources (copies per cycle x packets per copy, share of packets):"
for i in "${!names[@]}"; do
  echo "${weights[i]} ${npkts[i]} ${names[i]}"
done | awk -v n="$ncopies" -v t="$total" '{p = $1 * $2 * n; printf "  %6.2f%%  %2d x %5d  %s\n", 100 * p / t, $1, $2, $3}' | sort -rn

echo
echo "protocol breakdown (tshark, share of frames; takes a minute or two):"
t1=$SECONDS
tshark -n -r "$out" -T fields -e frame.protocols -e http.request -e http.response -e tls.record.content_type 2>/dev/null \
  | awk -F'\t' '
      {
        n++; delete has; k = split($1, p, ":"); for (x = 1; x <= k; x++) has[p[x]] = 1
        if ("tcp" in has) tcp++
        if ("udp" in has) udp++
        if ("http" in has) http++
        if ($2 != "" || $3 != "") httpmsg++
        if (("tls" in has) && ("tcp" in has)) tls++
        if (("tcp" in has) && $4 ~ /(^|,)23(,|$)/) appdata++
        if ("dns" in has) dns++
        if ("quic" in has) quic++
        if (!("tcp" in has) && !("udp" in has)) other++
      }
      END {
        if (n == 0) { print "  (tshark read no frames)"; exit }
        printf "  tcp   %6.2f%%  (%d)\n", 100 * tcp / n, tcp
        printf "  http  %6.2f%%  (%d frames with HTTP; %d of them a request or response)\n", 100 * http / n, http, httpmsg
        printf "  tls   %6.2f%%  (%d frames with a TLS record over TCP; %d with application data)\n", 100 * tls / n, tls, appdata
        printf "  udp   %6.2f%%  (%d)\n", 100 * udp / n, udp
        printf "  dns   %6.2f%%  (%d)\n", 100 * dns / n, dns
        printf "  quic  %6.2f%%  (%d)\n", 100 * quic / n, quic
        printf "  other %6.2f%%  (%d frames neither TCP nor UDP)\n", 100 * other / n, other
      }'
echo "  (counted in $(( SECONDS - t1 )) s)"
