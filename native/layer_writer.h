// Turns epan's protocol tree of one packet into the compact layer tree:
//   {"eth":{"dst":"..","src":"..",..},"ip":{"src":"10.0.0.1",..},"tcp":{..}}
// in one pass over the tree, with Wireshark's types kept (numbers, booleans,
// address and ISO-time strings, hex bytes) and no intermediate objects.
//
// The path rule: a field's path is layers.<protocol>.<rest of its
// abbreviation, dots as underscores>, a function of the abbreviation alone,
// wherever the item sits in the tree: dns.qry.name -> layers.dns.qry_name,
// also under mDNS or LLMNR. <protocol> is the longest registered protocol
// filter name that begins the abbreviation (gsm_a.dtap.msg_mm_type ->
// layers.gsm_a_dtap.msg_mm_type). Every protocol item in the tree starts a
// layer object; a protocol met several times (tunnels, headers quoted in ICMP
// errors) gives an array of layer objects in tree order. A field goes to the
// innermost layer object of its protocol that encloses it, else to the latest
// one of the packet, else to one created for it.
#pragma once

#include <string>
#include <unordered_set>
#include <unordered_map>
#include <vector>

#include "document_contract.h"
#include "text_buffer.h"
#include "wireshark_compat.h"

class LayerWriter {
 public:
  // max_bytes: byte fields longer than this are left out (0 keeps all).
  LayerWriter(uint32_t max_bytes, bool report_new_fields);

  // The engine thread's writer for one --max-bytes, kept for the whole
  // process: its per-field cache is built once, not once per capture file,
  // and each field is reported once to the process's sink.
  static LayerWriter &for_engine(uint32_t max_bytes);

  // Appends the layers object of the dissected tree to `out` and returns the
  // name of the packet's highest protocol (points into an interned string).
  const std::string &write(proto_tree *tree, std::string &out);

  // After write(): appends the packet's ECS fields, from its outermost layers,
  // each preceded by a comma, and forgets them:
  //   ,"source":{"ip":..,"port":..,"mac":..},"destination":{..},
  //   "network":{"transport":"tcp","type":"ipv4","protocol":<protocol>}
  // An endpoint without any of its values is left out; so are missing parts.
  // MAC addresses are written as ECS writes them: upper case, hyphens.
  void append_ecs_fields(std::string &out, const std::string &protocol);
  // After write(): ,"protocols":["eth","ip",...] — every protocol with an item
  // in the tree, once, in tree order: exactly what a display filter naming a
  // protocol tests (a layer object alone does not say it: dns.* fields under
  // mDNS fill layers.dns, frame.protocols names dissectors that add no item).
  void append_protocols(std::string &out);

  // Fields written for the first time since the last call, one per line:
  //   layer \t key \t abbrev \t FT_TYPES \n
  // the columns of the field registry (epan_runtime.h), in its order, but
  // FT_TYPES lists every type registered under the field's abbreviation,
  // comma-separated, so that a mapping can be in place before documents
  // carrying them are sent.
  void take_new_fields(std::string &out) { out.append(new_fields_); new_fields_.clear(); }

  // The path of a field (or a protocol, with an empty key), for the field registry.
  struct Path {
    std::string layer, key;
  };
  Path path_of(const header_field_info *hf);

 private:
  // What the path rule says of one registered field, computed once per field,
  // with what the per-field work needs so that it never reads the field's
  // registration again (scattered in memory: cache misses). 8 bytes: there is
  // one per registered field.
  struct FieldPath {
    int32_t key = -1;      // interned key inside the layer; -1: a protocol item, which starts a layer object
    uint16_t layer = 0;    // index in layers_: the protocol whose layer holds it
    uint8_t kind = 0;      // ValueKind
    uint8_t state = 0;     // kComputed | kReported, FlowSlot + 1 in the high nibble
    bool computed() const { return state & kComputed; }
    int8_t flow() const { return (int8_t)((state >> 4) - 1); }
  };
  static constexpr uint8_t kComputed = 1, kReported = 2;
  // A protocol that holds fields: what documents need of it, found once, and
  // its layer objects in the current packet.
  struct Layer {
    int layer_key;              // interned layer key ("ip")
    bool generic;               // payload or annotation: never the packet's `protocol`
    const char *transport;      // network.transport it gives as a top-level layer ("tcp"), or null
    const char *network_type;   // network.type it gives as a top-level layer ("ipv4"), or null
    const char *abbrev;         // the protocol's filter name ("mdns", "_ws.expert")
    int innermost_open = -1;    // its innermost layer object enclosing the walk's current item, or -1
    int latest = -1;            // its latest layer object in the packet, or -1
  };
  // One layer object of the packet.
  struct Instance {
    int layer;             // index in layers_
    bool top_level;        // a top-level tree item: the packet's own headers (flow, `protocol`)
    bool item = false;     // opened by the protocol's own item (not by its fields under another protocol)
    int first = -1, last = -1;  // its fields, chained in tree order
    int next_same_key = -1;     // the next layer object under the same key
  };
  struct Entry {
    field_info *fi;
    int key;
    int next_in_instance;
    int next_in_group;          // next field of the same key in the same layer object
    ValueKind kind;
    int8_t flow;
  };
  struct Group {
    int first = -1, last = -1;  // first == -1: unused
    int count = 0;
  };
  struct Open {
    proto_node *node;
    int layer;
    int outer;                  // the layer's innermost open layer object before this one
  };

  FieldPath &field_path(const header_field_info *hf) {
    if (hf->id < (int)paths_.size() && paths_[hf->id].computed()) return paths_[hf->id];
    return compute_path(hf);
  }
  FieldPath &compute_path(const header_field_info *hf);
  void report(FieldPath &path, const header_field_info *hf);
  static int protocol_of(const char *abbrev, size_t *prefix_len);
  int intern(const std::string &key);
  static std::string registered_types(const header_field_info *hf);
  int layer_index(int proto_id);
  int new_instance(int layer, bool top_level);
  void visit(proto_node *node, bool top_level);
  void write_instance(const Instance &instance, TextBuffer &out);
  bool left_out(const field_info *fi, ValueKind kind) const;
  bool append_value(field_info *fi, ValueKind kind, TextBuffer &out);

  uint32_t max_bytes_;
  bool report_new_fields_;
  std::string new_fields_;
  // Flow: hf ids of the fields it takes, and the values of the current packet.
  enum FlowSlot : int8_t { kNoFlow = -1, kSrcIp, kDstIp, kSrcPort, kDstPort, kSrcMac, kDstMac, kFlowSlots };
  std::unordered_map<int, int8_t> flow_slot_;  // hf id -> FlowSlot, for the few fields of the flow
  std::string flow_values_[kFlowSlots];
  const char *transport_ = nullptr, *network_type_ = nullptr;
  // Interned keys, stored JSON-quoted with the colon: "\"flags_syn\":".
  std::unordered_map<std::string, int> key_ids_;
  std::vector<std::string> keys_;
  std::vector<std::string> plain_names_;   // the same keys without quotes and colon
  std::vector<FieldPath> paths_;           // hf id -> its path
  std::vector<Layer> layers_;
  std::unordered_map<int, int> layer_of_proto_;  // proto id -> index in layers_
  // Per-packet scratch, reused for every packet.
  TextBuffer text_;                        // the layers object, copied to the caller's string at the end
  std::vector<Instance> instances_;
  std::vector<Entry> entries_;
  std::vector<Open> open_;                 // the layer objects enclosing the walk's current item
  std::vector<int> touched_layers_;        // layers whose `latest` is set, to reset after the packet
  std::vector<int> last_of_key_;           // layer key -> latest layer object under it, while chaining
  std::vector<Group> groups_;              // field key -> its values in the layer object being written
  std::vector<int> order_;                 // field keys in first-seen order
};
