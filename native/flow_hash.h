// Which dissecting process a live packet goes to: a hash of its flow that is
// the same in both directions, so that one process sees both sides of every
// TCP/UDP/SCTP connection (and TCP reassembly, request/response matching and
// the like work as in one process).
//
//   TCP, UDP, UDP-Lite, SCTP, DCCP over IPv4 or IPv6: the two (address, port)
//     ends, in a fixed order.
//   A flow inside a tunnel (GRE, ERSPAN, IP in IP, VXLAN, GTP-U): the inner
//     flow's ends, as Wireshark follows the inner connection.
//   IP fragments: the first fragment (offset 0) holds the transport header and
//     goes with its flow; the later fragments of the same datagram follow it
//     (remembered by addresses, protocol and IP identification). A later
//     fragment seen before the first goes by the two addresses.
//   Other IP protocols (ICMP, ESP...): the two addresses.
//   Everything else (ARP, LLDP, STP..., and link types not parsed here): 0, so
//     that it all goes to one process.
//
// Parsed: Ethernet (with any number of 802.1Q/802.1ad tags, MPLS labels and a
// PPPoE session), raw IP, Linux cooked (v1 and v2), BSD loopback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

// Whether packets of this link type are told apart by flow; for the others
// every packet hashes to 0.
bool flow_hash_knows(int link_type);

class FlowHash {
 public:
  explicit FlowHash(int link_type);
  // The packet's flow hash; 0 only for traffic that is not IP.
  uint32_t operator()(const uint8_t *data, uint32_t caplen);

 private:
  uint32_t ethertype(uint16_t type, const uint8_t *p, uint32_t n, int depth);
  uint32_t ip(const uint8_t *p, uint32_t n, int depth);
  uint32_t ipv4(const uint8_t *p, uint32_t n, int depth);
  uint32_t ipv6(const uint8_t *p, uint32_t n, int depth);
  uint32_t transport(uint8_t protocol, const uint8_t *addresses, size_t address_bytes, const uint8_t *p, uint32_t n, int depth);
  uint32_t tunnel(uint8_t protocol, const uint8_t *p, uint32_t n, int depth);
  // Fragments: the first one's hash, for the later ones of its datagram.
  uint32_t fragment(const uint8_t *key, size_t key_bytes, bool first, uint32_t first_hash, uint32_t pair_hash);

  int link_type_;
  // Datagrams whose first fragment was seen: a fixed table (a newer datagram
  // takes the slot of an older one), so it never grows.
  struct Remembered {
    uint64_t key = 0;
    uint32_t hash = 0;
  };
  std::vector<Remembered> fragments_;
};
