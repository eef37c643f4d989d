// Turns epan's protocol tree of one packet into the compact layer tree:
//   {"eth":{"dst":"..","src":"..",..},"ip":{"src":"10.0.0.1",..},"tcp":{..}}
// in one pass over the tree, with Wireshark's types kept (numbers, booleans,
// address and ISO-time strings, hex bytes) and no intermediate objects.
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "wireshark_compat.h"

class LayerWriter {
 public:
  // max_bytes: byte fields longer than this are left out (0 keeps all).

  LayerWriter(uint32_t max_bytes, bool report_new_fields);

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

  // Fields written for the first time since the last call, one per line:
  //   layer \t key \t FT_TYPES \t abbrev \n
  // FT_TYPES lists every type registered under the field's abbreviation,
  // comma-separated; a key also written by another field is reported again.
  // so that a mapping can be in place before documents carrying them are sent.
  void take_new_fields(std::string &out) { out.append(new_fields_); new_fields_.clear(); }

  // The keys write() uses, for the field registry: a protocol's layer key, a
  // field's key inside its own protocol's layer, and inside any other layer.
  std::string layer_key(int proto_id) { return plain_names_[layer_key_for_proto(proto_id)]; }
  std::string own_field_key(const header_field_info *hf, int proto_id);
  static std::string foreign_field_key(const header_field_info *hf);

 private:
  struct Layer {
    int key_id;                 // interned layer key ("ip")
    int proto_id;               // registering protocol
    std::vector<proto_node *> roots;
  };
  struct Entry {
    field_info *fi;
    int next;                   // next field of the same key, or -1
  };
  struct Group {
    int first = -1, last = -1;  // chain of Entries; first == -1: unused
    int count = 0;
  };
  struct HfKey {
    int layer_proto = -2;       // the layer the cached key was computed for
    int key_id = -1;
  };

  int layer_key_for_proto(int proto_id);
  int field_key(const header_field_info *hf, int layer_proto_id, int layer_key_id, const std::string &layer_abbrev);
  int intern(const std::string &quoted_key);
  static std::string registered_types(const header_field_info *hf);
  void write_layer(const Layer &layer, std::string &out);
  void add_field(field_info *fi, const Layer &layer, const std::string &layer_abbrev);
  void note_flow(const header_field_info *hf, const Layer &layer, const std::string &out, size_t value_start);
  bool left_out(const field_info *fi) const;
  bool append_value(field_info *fi, std::string &out);

  uint32_t max_bytes_;
  bool report_new_fields_;
  std::unordered_set<uint64_t> reported_;  // (layer key, field key, type) already reported
  std::string new_fields_;
  // Flow: hf ids of the fields it takes, and the values of the current packet.
  enum FlowSlot : int8_t { kNoFlow = -1, kSrcIp, kDstIp, kSrcPort, kDstPort, kSrcMac, kDstMac, kFlowSlots };
  std::vector<int8_t> flow_slot_;  // hf id -> FlowSlot, dense: looked up for every field
  std::string flow_values_[kFlowSlots];
  std::string transport_, network_type_;
  // Interned keys, stored JSON-quoted with the colon: "\"flags_syn\":".
  std::unordered_map<std::string, int> key_ids_;
  std::vector<std::string> keys_;
  std::vector<std::string> plain_names_;   // the same keys without quotes and colon
  std::vector<int> proto_layer_key_;       // proto hf id -> layer key id
  std::vector<HfKey> hf_keys_;             // hf id -> field key cache
  // Per-layer scratch, reused for every layer of every packet.
  std::vector<Group> groups_;              // by key id
  std::vector<int> order_;                 // key ids in first-seen order
  std::vector<Entry> entries_;
  std::vector<Layer> layers_;
  std::vector<bool> layer_written_;
};
