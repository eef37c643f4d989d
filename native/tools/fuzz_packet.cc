// libFuzzer harness for one packet through epan and LayerWriter, the path a
// capture record takes (CaptureDissector::dissect_record).
//
// Input: byte 0 picks the link type (low bits, see kLinks) and whether the
// packet was cut short by a snap length (bit 7); the rest is the packet.
// Every document must be strict JSON (json_check.h); anything else aborts, so
// libFuzzer keeps the input.
//
// libwireshark is not instrumented, so libFuzzer sees coverage of espcap's
// code only. To steer it into dissectors anyway, every (layer, field) key a
// document holds bumps a counter of its own in libFuzzer's extra-counters
// section: an input that brings out a field not seen before is kept as new.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "../capture_dissector.h"
#include "../epan_runtime.h"
#include "../wireshark_compat.h"
#include "json_check.h"

namespace {

struct Link {
  const char *name;
  int encap;
};

// The order matters: FUZZ_LINKS in scripts/mutate-captures.js maps pcap link
// types onto these indexes, for seeds and to save inputs as captures.
const Link kLinks[] = {
    {"ethernet", WTAP_ENCAP_ETHERNET},
    {"raw-ip", WTAP_ENCAP_RAW_IP},
    {"linux-sll", WTAP_ENCAP_SLL},
    {"linux-sll2", WTAP_ENCAP_SLL2},
    {"ieee-802-11-radiotap", WTAP_ENCAP_IEEE_802_11_RADIOTAP},
    {"ieee-802-11", WTAP_ENCAP_IEEE_802_11},
    {"bsd-loopback", WTAP_ENCAP_NULL},
    {"ppp", WTAP_ENCAP_PPP},
    {"nflog", WTAP_ENCAP_NFLOG},
    // Names the dissector in a tag: any of them can be reached directly.
    {"wireshark-upper-pdu", WTAP_ENCAP_WIRESHARK_UPPER_PDU},
};
constexpr size_t kLinkCount = sizeof kLinks / sizeof kLinks[0];
constexpr uint8_t kSnappedBit = 0x80;

// espcap's default session length. Each reset keeps about 10 MB until exit
// (EPAN-NOTES 3.4): resetting more often would bring a long run to
// libFuzzer's RSS limit (2.6 GB after 2 million inputs at 20,000).
constexpr uint64_t kSessionPackets = 100000;

constexpr size_t kFieldCounters = 1 << 16;
__attribute__((used, section("__libfuzzer_extra_counters"))) uint8_t g_field_counters[kFieldCounters];

CaptureDissector *g_dissector;
wtap_rec g_rec;

void count_field(const std::string &layer, const std::string &key) {
  // FNV-1a over "layer/key".
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const std::string &s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(layer);
  h = (h ^ '/') * 1099511628211ULL;
  mix(key);
  uint8_t &counter = g_field_counters[h % kFieldCounters];
  if (counter < 255) counter++;
}

// What wiretap's pcap reader puts in the pseudo-header of such a record.
void set_pseudo_header(int encap, wtap_packet_header &header) {
  memset(&header.pseudo_header, 0, sizeof header.pseudo_header);
  if (encap == WTAP_ENCAP_ETHERNET) header.pseudo_header.eth.fcs_len = -1;  // unknown: left to the preference
  if (encap == WTAP_ENCAP_IEEE_802_11 || encap == WTAP_ENCAP_IEEE_802_11_RADIOTAP) {
    header.pseudo_header.ieee_802_11.fcs_len = -1;
    header.pseudo_header.ieee_802_11.phy = PHDR_802_11_PHY_UNKNOWN;
  }
}

[[noreturn]] void die(const char *what, const std::string &detail, const std::string &text) {
  fprintf(stderr, "fuzz_packet: %s: %s\n%s\n", what, detail.c_str(), text.c_str());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  // As in dissect_file.cc: each allocation its own malloc, for ASan.
  setenv("WIRESHARK_DEBUG_WMEM_OVERRIDE", "simple", 0);
  setenv("G_SLICE", "always-malloc", 0);
  RuntimeOptions runtime;
  const char *config_dir = getenv("ESPCAP_CONFIG_DIR");
  runtime.config_dir = config_dir ? config_dir : ESPCAP_CONFIG_DIR;
  std::string error;
  if (!runtime_init(runtime, error)) die("libwireshark did not start", error, "");
  CaptureOptions options;
  options.max_bytes = 64;  // espcap's --max-bytes default
  options.session_packets = kSessionPackets;
  options.skip_records = 0;
  options.dissect_only = false;
  CaptureError capture_error;
  g_dissector = CaptureDissector::without_file(options, capture_error).release();
  if (!g_dissector) die("no dissector", capture_error.message, "");
  ws_compat::rec_init(&g_rec);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 262145) return 0;  // 262144: wiretap's largest packet for most link types
  const Link &link = kLinks[(data[0] & ~kSnappedBit) % kLinkCount];
  uint32_t length = (uint32_t)(size - 1);

  g_rec.rec_type = REC_TYPE_PACKET;
  g_rec.presence_flags = WTAP_HAS_TS | WTAP_HAS_CAP_LEN;
  g_rec.ts = nstime_t{1700000000, 0};
  g_rec.tsprec = WTAP_TSPREC_USEC;
  wtap_packet_header &header = g_rec.rec_header.packet_header;
  header.pkt_encap = link.encap;
  header.caplen = length;
  header.len = (data[0] & kSnappedBit) ? length + 1000 : length;
  header.interface_id = 0;
  set_pseudo_header(link.encap, header);

  PacketBatch batch;
  if (g_dissector->dissect_record(&g_rec, data + 1, batch) != CaptureDissector::Step::kPacket || batch.count != 1 ||
      batch.offsets.size() != (size_t)PacketBatch::kSpansPerPacket)
    die("no document", link.name, batch.text);

  const std::string &text = batch.text;
  uint32_t layers_at = batch.offsets[PacketBatch::kLayers], tail_at = batch.offsets[PacketBatch::kTail];
  if (text.empty() || text.back() != '\n' || layers_at > tail_at || tail_at > text.size())
    die("document spans", link.name, text);
  std::string_view line(text.data(), text.size() - 1);
  std::string_view layers(text.data() + layers_at, tail_at - layers_at);
  json_check::KeyObserver observer = count_field;
  std::string problem = json_check::problem(layers, &observer);
  if (problem.empty() && layers.front() != '{') problem = "layers is not an object";
  if (!problem.empty()) die("layers are not strict JSON", problem, std::string(layers));
  problem = json_check::problem(line);
  if (!problem.empty()) die("document is not strict JSON", problem, text);
  return 0;
}
