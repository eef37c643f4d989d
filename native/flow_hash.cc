#include "flow_hash.h"

#include <algorithm>
#include <cstring>

namespace {

// libpcap's link-layer header types (pcap/dlt.h numbers, as the capture reports them).
constexpr int kNull = 0, kEthernet = 1, kRaw = 12, kRawAlt = 14, kLoop = 108, kRawLinktype = 101,
              kLinuxSll = 113, kLinuxSll2 = 276;
constexpr int kMaxDepth = 4;                   // tunnels inside tunnels, at most
constexpr size_t kRememberedFragments = 4096;  // datagrams in flight in fragments, at most (more: some fall back to their addresses)

uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

// FNV-1a over the bytes, then a final mix so that the low bits (taken modulo
// the number of processes) depend on all of them.
struct Hasher {
  uint32_t h = 2166136261u;
  void add(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  }
  uint32_t done() const {
    uint32_t x = h;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x ? x : 1;  // 0 is kept for traffic that is not IP
  }
};

// The two ends of a flow hashed in a fixed order (the smaller first), so that
// both directions give the same value. `ports` (source then destination, 2
// bytes each) is null when only the addresses count.
uint32_t hash_ends(const uint8_t *a, const uint8_t *b, size_t address_bytes, const uint8_t *ports, uint8_t protocol) {
  uint8_t end_a[18], end_b[18];
  size_t n = address_bytes;
  memcpy(end_a, a, address_bytes);
  memcpy(end_b, b, address_bytes);
  if (ports) {
    memcpy(end_a + n, ports, 2);
    memcpy(end_b + n, ports + 2, 2);
    n += 2;
  }
  Hasher h;
  h.add(&protocol, 1);
  bool a_first = memcmp(end_a, end_b, n) <= 0;
  h.add(a_first ? end_a : end_b, n);
  h.add(a_first ? end_b : end_a, n);
  return h.done();
}

bool has_ports(uint8_t protocol) {
  return protocol == 6 || protocol == 17 || protocol == 132 || protocol == 136 || protocol == 33;  // TCP UDP SCTP UDP-Lite DCCP
}

}  // namespace

bool flow_hash_knows(int link_type) {
  switch (link_type) {
    case kNull: case kEthernet: case kRaw: case kRawAlt: case kLoop: case kRawLinktype: case kLinuxSll: case kLinuxSll2:
      return true;
    default:
      return false;
  }
}

FlowHash::FlowHash(int link_type) : link_type_(link_type), fragments_(kRememberedFragments) {}

uint32_t FlowHash::operator()(const uint8_t *p, uint32_t n) {
  switch (link_type_) {
    case kEthernet:
      return n < 14 ? 0 : ethertype(be16(p + 12), p + 14, n - 14, 0);
    case kRaw: case kRawAlt: case kRawLinktype:
      return ip(p, n, 0);
    case kNull: case kLoop:  // a 4-byte address family in either byte order: the version nibble tells
      return n < 4 ? 0 : ip(p + 4, n - 4, 0);
    case kLinuxSll:  // 16-byte header, protocol at 14
      return n < 16 ? 0 : ethertype(be16(p + 14), p + 16, n - 16, 0);
    case kLinuxSll2:  // 20-byte header, protocol first
      return n < 20 ? 0 : ethertype(be16(p), p + 20, n - 20, 0);
    default:
      return 0;
  }
}

// The payload of an Ethernet type field at `p`.
uint32_t FlowHash::ethertype(uint16_t type, const uint8_t *p, uint32_t n, int depth) {
  for (int tags = 0; tags < 8; tags++) {
    if (type == 0x8100 || type == 0x88a8 || type == 0x9100) {  // 802.1Q / 802.1ad tags
      if (n < 4) return 0;
      type = be16(p + 2);
      p += 4, n -= 4;
    } else if (type == 0x8864) {  // PPPoE session: 6 bytes, then PPP's protocol
      if (n < 8) return 0;
      uint16_t ppp = be16(p + 6);
      p += 8, n -= 8;
      return ppp == 0x0021 ? ipv4(p, n, depth) : ppp == 0x0057 ? ipv6(p, n, depth) : 0;
    } else if (type == 0x8847 || type == 0x8848) {  // MPLS: labels down to the bottom of the stack
      while (n >= 4 && !(p[2] & 1)) p += 4, n -= 4;
      return n < 4 ? 0 : ip(p + 4, n - 4, depth);
    } else {
      break;
    }
  }
  if (type == 0x0800) return ipv4(p, n, depth);
  if (type == 0x86dd) return ipv6(p, n, depth);
  return 0;
}

// An IP packet whose version is read from its first nibble (raw IP, after MPLS, in a tunnel).
uint32_t FlowHash::ip(const uint8_t *p, uint32_t n, int depth) {
  if (n < 1) return 0;
  return (p[0] >> 4) == 4 ? ipv4(p, n, depth) : (p[0] >> 4) == 6 ? ipv6(p, n, depth) : 0;
}

uint32_t FlowHash::ipv4(const uint8_t *p, uint32_t n, int depth) {
  if (n < 20 || (p[0] >> 4) != 4) return 0;
  uint32_t header = (p[0] & 0x0f) * 4u;
  if (header < 20 || n < header) return 0;
  uint8_t protocol = p[9];
  uint16_t flags_offset = be16(p + 6);
  if ((flags_offset & 0x3fff) == 0) return transport(protocol, p + 12, 4, p + header, n - header, depth);
  // A fragment: more fragments follow, or it has an offset.
  uint8_t key[11];  // source, destination, identification, protocol
  memcpy(key, p + 12, 8);
  memcpy(key + 8, p + 4, 2);
  key[10] = protocol;
  bool first = (flags_offset & 0x1fff) == 0;
  return fragment(key, sizeof key, first, first ? transport(protocol, p + 12, 4, p + header, n - header, depth) : 0,
                  hash_ends(p + 12, p + 16, 4, nullptr, 0));
}

uint32_t FlowHash::ipv6(const uint8_t *p, uint32_t n, int depth) {
  if (n < 40 || (p[0] >> 4) != 6) return 0;
  uint8_t next = p[6];
  uint32_t at = 40;
  const uint8_t *fragment_header = nullptr;
  // Extension headers before the transport header.
  for (int hops = 0; hops < 8; hops++) {
    if (next == 0 || next == 43 || next == 60) {  // hop-by-hop, routing, destination options
      if (n < at + 8) break;
      next = p[at];
      at += (p[at + 1] + 1u) * 8;
    } else if (next == 51) {  // authentication header
      if (n < at + 8) break;
      next = p[at];
      at += (p[at + 1] + 2u) * 4;
    } else if (next == 44) {  // fragment
      if (n < at + 8) break;
      fragment_header = p + at;
      next = p[at];
      at += 8;
    } else {
      break;
    }
  }
  const uint8_t *payload = p + std::min(at, n);
  uint32_t left = n > at ? n - at : 0;
  // An atomic fragment (offset 0, no more fragments) is a whole datagram.
  if (!fragment_header || (be16(fragment_header + 2) & 0xfff9) == 0) return transport(next, p + 8, 16, payload, left, depth);
  uint8_t key[37];  // source, destination, identification, protocol
  memcpy(key, p + 8, 32);
  memcpy(key + 32, fragment_header + 4, 4);
  key[36] = next;
  bool first = (be16(fragment_header + 2) & 0xfff8) == 0;
  return fragment(key, sizeof key, first, first ? transport(next, p + 8, 16, payload, left, depth) : 0,
                  hash_ends(p + 8, p + 24, 16, nullptr, 0));
}

// A whole datagram, or the first fragment of one: the flow inside a tunnel,
// else the two ends with their ports, else the two addresses.
// `addresses`: source then destination, `address_bytes` each.
uint32_t FlowHash::transport(uint8_t protocol, const uint8_t *addresses, size_t address_bytes, const uint8_t *p, uint32_t n, int depth) {
  if (uint32_t inner = tunnel(protocol, p, n, depth)) return inner;
  const uint8_t *ports = has_ports(protocol) && n >= 4 ? p : nullptr;
  return hash_ends(addresses, addresses + address_bytes, address_bytes, ports, ports ? protocol : 0);
}

// The flow inside a tunnel, if the transport payload `p` carries one: GRE
// (and ERSPAN II in it), IP in IP, VXLAN, GTP-U. 0 if there is none (the
// outer flow then decides).
uint32_t FlowHash::tunnel(uint8_t protocol, const uint8_t *p, uint32_t n, int depth) {
  if (depth >= kMaxDepth) return 0;
  if (protocol == 4 || protocol == 41) return ip(p, n, depth + 1);  // IPv4 / IPv6 in IP
  if (protocol == 47) {  // GRE: flags and version, protocol type, then optional checksum, key, sequence number
    if (n < 4 || (p[1] & 0x07) != 0) return 0;  // version 0 only (1 is PPTP's enhanced GRE)
    uint32_t at = 4 + ((p[0] & 0x80) ? 4 : 0) + ((p[0] & 0x20) ? 4 : 0) + ((p[0] & 0x10) ? 4 : 0);
    uint16_t type = be16(p + 2);
    if (type == 0x88be) at += 8;  // ERSPAN type II header, then the mirrored Ethernet frame
    if (type == 0x6558 || type == 0x88be) return n >= at + 14 ? ethertype(be16(p + at + 12), p + at + 14, n - at - 14, depth + 1) : 0;
    return n >= at ? ethertype(type, p + at, n - at, depth + 1) : 0;
  }
  if (protocol == 17 && n >= 8) {
    uint16_t port = be16(p + 2);  // the destination port names the tunnel
    const uint8_t *q = p + 8;
    uint32_t m = n - 8;
    if (port == 4789 && m >= 8 + 14) return ethertype(be16(q + 8 + 12), q + 8 + 14, m - 8 - 14, depth + 1);  // VXLAN
    if (port == 2152 && m >= 8 && (q[0] >> 5) == 1 && q[1] == 0xff) {  // GTP-U version 1, a G-PDU
      uint32_t at = 8;
      if (q[0] & 0x07) {  // sequence number, N-PDU number, next extension type; then extensions
        at += 4;
        if (m < at) return 0;
        // Each extension: its length in 4-byte units first, the next one's type last.
        for (uint8_t next = q[at - 1]; next; next = q[at - 1]) {
          if (m <= at || q[at] == 0) return 0;
          at += q[at] * 4u;
          if (m < at) return 0;
        }
      }
      return m > at ? ip(q + at, m - at, depth + 1) : 0;
    }
  }
  return 0;
}

uint32_t FlowHash::fragment(const uint8_t *key, size_t key_bytes, bool first, uint32_t first_hash, uint32_t pair_hash) {
  // 64 bits of the key: two 32-bit hashes of it.
  Hasher a, b;
  a.add(key, key_bytes);
  b.h = 0x9e3779b9u;
  b.add(key, key_bytes);
  uint64_t id = (uint64_t)a.done() << 32 | b.done();
  Remembered &slot = fragments_[id % fragments_.size()];
  if (first) {
    slot = {id, first_hash};
    return first_hash;
  }
  return slot.key == id ? slot.hash : pair_hash;
}
