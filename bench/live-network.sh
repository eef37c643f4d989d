# Sourced by the live benchmarks: two private network namespaces joined by a
# veth pair (MTU 65535, so every frame of the benchmark capture fits), with no
# address and IPv6 off, so nothing but the replayed packets crosses it and
# nothing leaves it. espcap or tshark captures on espcap0 in $cap; tcpreplay
# sends into espcap1 in $send. Removed on exit.
[ "$(id -u)" = 0 ] || { echo "live benchmark: needs root (network namespaces)" >&2; exit 1; }
for tool in ip tcpreplay; do
  command -v "$tool" > /dev/null || { echo "live benchmark: $tool is missing (apt-get install iproute2 tcpreplay)" >&2; exit 1; }
done
cap=espcap-bench-cap
send=espcap-bench-send
remove_network() {
  ip netns del "$cap" 2> /dev/null || true
  ip netns del "$send" 2> /dev/null || true
}
trap remove_network EXIT
remove_network
for ns in "$cap" "$send"; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip link add espcap0 netns "$cap" mtu 65535 type veth peer name espcap1 netns "$send" mtu 65535
ip -n "$cap" link set espcap0 up
ip -n "$send" link set espcap1 up

# The cluster listens on the host's loopback; inside $cap the same address is
# relayed to it through a Unix socket (loopback only, both ways).
relay_elasticsearch() {
  local url=$1 port sock
  port=$(node -p "new URL('$url').port")
  sock=$(mktemp -u /tmp/espcap-relay.XXXXXX)
  # Each connection is relayed both ways; a side that goes away just ends it.
  local relay="const n=require('net');const pair=(a,b)=>{a.on('error',()=>b.destroy());b.on('error',()=>a.destroy());a.pipe(b).pipe(a)};"
  node -e "$relay n.createServer(c=>pair(c,n.connect($port,'127.0.0.1'))).listen('$sock')" &
  relay_pids="$! ${relay_pids:-}"
  while [ ! -S "$sock" ]; do sleep 0.1; done
  ip netns exec "$cap" node -e "$relay n.createServer(c=>pair(c,n.connect('$sock'))).listen($port,'127.0.0.1')" &
  relay_pids="$! $relay_pids"
  sleep 0.5
}
stop_relays() { [ -z "${relay_pids:-}" ] || kill $relay_pids 2> /dev/null || true; }
