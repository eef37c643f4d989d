#include "layer_writer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <memory>
#include <cstring>

#include "document_contract.h"
#include "json_text.h"

namespace {

// Elasticsearch reads dots in field names as object paths and reserves a
// leading underscore, so names keep [A-Za-z0-9_-], everything else becomes
// '_', and leading underscores are dropped: "_ws.malformed" -> "ws_malformed".
std::string normalise_name(const char *name) {
  std::string s;
  for (const char *p = name; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    s.push_back(ok ? c : '_');
  }
  size_t lead = s.find_first_not_of('_');
  if (lead == std::string::npos) return "unnamed";
  return s.substr(lead);
}

// Layers that carry payload or epan's own annotations rather than a protocol
// a user would call "the" protocol of the packet.
bool is_generic_layer(const char *abbrev) {
  return strcmp(abbrev, "data") == 0 || strncmp(abbrev, "data-", 5) == 0 || strcmp(abbrev, "media") == 0 ||
         strncmp(abbrev, "_ws.", 4) == 0 || strcmp(abbrev, "fake-field-wrapper") == 0;
}

template <class Out>
void append_ipv4(Out &out, uint32_t host_order) {
  out.push_back('"');
  for (int shift = 24; shift >= 0; shift -= 8) {
    json_text::append_u64(out, (host_order >> shift) & 0xFF);
    if (shift) out.push_back('.');
  }
  out.push_back('"');
}

template <class Out>
void append_mac(Out &out, const uint8_t *b, size_t len) {
  static const char digits[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < len; i++) {
    if (i) out.push_back(':');
    out.push_back(digits[b[i] >> 4]);
    out.push_back(digits[b[i] & 15]);
  }
  out.push_back('"');
}

const std::string kUnknownProtocol = "unknown";

}  // namespace

LayerWriter::LayerWriter(uint32_t max_bytes, bool report_new_fields)
    : max_bytes_(max_bytes), report_new_fields_(report_new_fields) {
  const std::pair<const char *, FlowSlot> flow[] = {
      {"eth.src", kSrcMac},      {"eth.dst", kDstMac},      {"ip.src", kSrcIp},          {"ip.dst", kDstIp},
      {"ipv6.src", kSrcIp},      {"ipv6.dst", kDstIp},      {"tcp.srcport", kSrcPort},   {"tcp.dstport", kDstPort},
      {"udp.srcport", kSrcPort}, {"udp.dstport", kDstPort}, {"sctp.srcport", kSrcPort}, {"sctp.dstport", kDstPort}};
  for (const auto &[abbrev, slot] : flow) {
    // Several registrations can share an abbreviation: take them all.
    for (header_field_info *hf = proto_registrar_get_byname(abbrev); hf; hf = hf->same_name_next) flow_slot_[hf->id] = slot;
  }
}

LayerWriter &LayerWriter::for_engine(uint32_t max_bytes) {
  // Only the engine thread dissects (one per process): no lock.
  static std::unordered_map<uint32_t, std::unique_ptr<LayerWriter>> writers;
  auto &writer = writers[max_bytes];
  if (!writer) writer = std::make_unique<LayerWriter>(max_bytes, true);
  return *writer;
}

int LayerWriter::intern(const std::string &key) {
  auto it = key_ids_.find(key);
  if (it != key_ids_.end()) return it->second;
  int id = (int)keys_.size();
  key_ids_.emplace(key, id);
  std::string quoted;
  json_text::append_string(quoted, key.data(), key.size());
  quoted.push_back(':');
  keys_.push_back(std::move(quoted));
  plain_names_.push_back(key);
  groups_.emplace_back();
  last_of_key_.push_back(-1);
  return id;
}

// The protocol a field's abbreviation names: the longest registered protocol
// filter name that begins it, up to a dot ("_ws.expert.message" ->
// "_ws.expert"). Protocols registered "in name only" (tcp.options.nop) are
// fields of the protocol that begins their name. -1 if none does.
int LayerWriter::protocol_of(const char *abbrev, size_t *prefix_len) {
  std::string name = abbrev;
  for (size_t end = name.size(); end != std::string::npos && end > 0; end = name.rfind('.', end - 1)) {
    int id = proto_get_id_by_filter_name(name.substr(0, end).c_str());
    if (id >= 0 && !proto_is_pino(find_protocol_by_id(id))) {
      *prefix_len = end;
      return id;
    }
  }
  return -1;
}

// Every type registered under the field's abbreviation: several registrations
// may share one, and a mapping must accept all their values.
std::string LayerWriter::registered_types(const header_field_info *hf) {
  const header_field_info *first = hf;
  while (first->same_name_prev_id != -1) first = proto_registrar_get_nth(first->same_name_prev_id);
  std::string types;
  std::unordered_set<int> seen;
  for (const header_field_info *h = first; h; h = h->same_name_next) {
    if (!seen.insert(h->type).second) continue;
    if (!types.empty()) types += ',';
    types += ftype_name(h->type);
  }
  return types;
}

int LayerWriter::layer_index(int proto_id) {
  auto it = layer_of_proto_.find(proto_id);
  if (it != layer_of_proto_.end()) return it->second;
  int index = (int)layers_.size();
  const char *abbrev = proto_registrar_get_nth(proto_id)->abbrev;
  const char *transport = nullptr, *network_type = nullptr;
  for (const char *t : {"tcp", "udp", "sctp", "icmp", "icmpv6", "igmp"})
    if (!strcmp(abbrev, t)) transport = t;
  if (!strcmp(abbrev, "ip")) network_type = "ipv4";
  if (!strcmp(abbrev, "ipv6")) network_type = "ipv6";
  layers_.push_back({intern(normalise_name(abbrev)), is_generic_layer(abbrev), transport, network_type, abbrev});
  layer_of_proto_.emplace(proto_id, index);
  return index;
}

LayerWriter::FieldPath &LayerWriter::compute_path(const header_field_info *hf) {
  size_t prefix = 0;
  int proto = protocol_of(hf->abbrev, &prefix);
  bool rest = proto >= 0 && hf->abbrev[prefix] == '.' && hf->abbrev[prefix + 1];
  if (proto < 0) proto = hf->parent >= 0 ? hf->parent : hf->id;  // no protocol begins its name: its registering protocol's layer
  if (hf->id >= (int)paths_.size()) paths_.resize(hf->id + 1);
  FieldPath &path = paths_[hf->id];
  path.layer = (uint16_t)layer_index(proto);
  path.kind = (uint8_t)value_kind(hf->type);
  auto flow = flow_slot_.find(hf->id);
  path.state = kComputed | (uint8_t)(((flow == flow_slot_.end() ? kNoFlow : flow->second) + 1) << 4);
  // A protocol item: key -1. A field named like its protocol ("bmp" of BMP),
  // or named by no protocol, keeps its whole abbreviation.
  if (!(hf->id == proto && hf->type == FT_PROTOCOL)) path.key = intern(normalise_name(rest ? hf->abbrev + prefix + 1 : hf->abbrev));
  return path;
}

void LayerWriter::report(FieldPath &path, const header_field_info *hf) {
  path.state |= kReported;
  if (!report_new_fields_) return;
  new_fields_ += plain_names_[layers_[path.layer].layer_key];
  new_fields_ += '\t';
  new_fields_ += plain_names_[path.key];
  new_fields_ += '\t';
  new_fields_ += hf->abbrev;
  new_fields_ += '\t';
  new_fields_ += registered_types(hf);
  new_fields_ += '\n';
}

LayerWriter::Path LayerWriter::path_of(const header_field_info *hf) {
  const FieldPath &p = field_path(hf);
  return {plain_names_[layers_[p.layer].layer_key], p.key >= 0 ? plain_names_[p.key] : std::string()};
}

bool LayerWriter::append_value(field_info *fi, ValueKind kind, TextBuffer &out) {
  const fvalue_t *fv = ws_compat::field_value(fi);
  // One case per kind of value (document_contract.h groups the FT_* types).
  switch (kind) {
    case ValueKind::kPresent:
      // Label-like items (tcp.analysis.retransmission, a nested protocol)
      // carry meaning by being present: searchable as true.
      out.append("true");
      return true;
    case ValueKind::kBoolean:
      out.append(ws_compat::get_bool(fv) ? "true" : "false");
      return true;
    case ValueKind::kUnsigned32:
      json_text::append_u64(out, ws_compat::get_uint32(fv));
      return true;
    case ValueKind::kSigned32:
      json_text::append_i64(out, ws_compat::get_int32(fv));
      return true;
    case ValueKind::kUnsigned64:
      json_text::append_u64_safe(out, ws_compat::get_uint64(fv));
      return true;
    case ValueKind::kSigned64:
      json_text::append_i64_safe(out, ws_compat::get_int64(fv));
      return true;
    case ValueKind::kFloat:
      json_text::append_double(out, ws_compat::get_double(fv));
      return true;
    case ValueKind::kIsoTime: {
      const nstime_t *t = ws_compat::get_time(fv);
      size_t at = out.size();
      out.push_back('"');
      if (!json_text::append_iso_time(out, t->secs, t->nsecs)) { out.resize(at); return false; }
      out.push_back('"');
      return true;
    }
    case ValueKind::kSeconds: {
      const nstime_t *t = ws_compat::get_time(fv);
      json_text::append_seconds(out, t->secs, t->nsecs);
      return true;
    }
    case ValueKind::kText: {
      size_t len;
      const char *s = ws_compat::get_string(fv, &len);
      json_text::append_string(out, s ? s : "", s ? len : 0);
      return true;
    }
    case ValueKind::kHex: {
      // Never longer than --max-bytes: visit() left those out (left_out()).
      size_t len;
      const uint8_t *b = ws_compat::get_bytes(fv, &len);
      out.push_back('"');
      json_text::append_hex(out, b, len);
      out.push_back('"');
      return true;
    }
    case ValueKind::kMac: {
      size_t len;
      const uint8_t *b = ws_compat::get_bytes(fv, &len);
      append_mac(out, b, len);
      return true;
    }
    case ValueKind::kIPv4:
      append_ipv4(out, ws_compat::get_ipv4_host_order(fv));
      return true;
    case ValueKind::kIPv6: {
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, ws_compat::get_ipv6_bytes(fv), buf, sizeof buf);
      out.push_back('"');
      out.append(buf);
      out.push_back('"');
      return true;
    }
    case ValueKind::kDisplay: {
      // GUID, OID, EUI64, IPX network, AX.25, ...: Wireshark's own display form.
      char *s = ws_compat::display_repr(fi);
      if (!s) return false;
      json_text::append_string(out, s);
      wmem_free(NULL, s);
      return true;
    }
  }
  return false;
}

// Byte fields longer than --max-bytes are left out (payloads dominate size).
bool LayerWriter::left_out(const field_info *fi, ValueKind kind) const {
  if (!max_bytes_ || kind != ValueKind::kHex) return false;
  size_t len;
  ws_compat::get_bytes(ws_compat::field_value(fi), &len);
  return len > max_bytes_;
}

int LayerWriter::new_instance(int layer, bool top_level) {
  Layer &l = layers_[layer];
  if (l.latest < 0) touched_layers_.push_back(layer);
  l.latest = (int)instances_.size();
  instances_.push_back({layer, top_level});
  return l.latest;
}

// One item of the tree: a protocol item starts a layer object (open while the
// walk is inside its subtree); a field joins the layer object of its protocol.
void LayerWriter::visit(proto_node *node, bool top_level) {
  field_info *fi = node->finfo;
  if (!fi) return;
  const header_field_info *hf = fi->hfinfo;
  // Label-only text items are not fields.
  if (hf->id == hf_text_only) return;
  FieldPath &path = field_path(hf);
  if (path.key < 0) {
    int instance = new_instance(path.layer, top_level);
    instances_[instance].item = true;
    int &innermost = layers_[path.layer].innermost_open;
    open_.push_back({node, path.layer, innermost});
    innermost = instance;
    if (top_level) {  // the outermost of each
      if (!transport_) transport_ = layers_[path.layer].transport;
      if (!network_type_) network_type_ = layers_[path.layer].network_type;
    }
    return;
  }
  // Hidden items are not shown by Wireshark either (they duplicate shown
  // ones: ip.addr, tcp.port).
  ValueKind kind = (ValueKind)path.kind;
  if ((fi->flags & FI_HIDDEN) || left_out(fi, kind)) return;
  if (!(path.state & kReported)) report(path, hf);  // before the first document holding it: its mapping comes first
  const Layer &layer = layers_[path.layer];
  int instance = layer.innermost_open >= 0 ? layer.innermost_open : layer.latest;
  if (instance < 0) instance = new_instance(path.layer, top_level);
  int e = (int)entries_.size();
  // Filled in place: a temporary Entry copied in costs a store-forwarding stall per field.
  Entry &entry = entries_.emplace_back();
  entry.fi = fi;
  entry.key = path.key;
  entry.next_in_instance = -1;
  entry.next_in_group = -1;
  entry.kind = kind;
  entry.flow = path.flow();
  Instance &in = instances_[instance];
  if (in.first < 0) in.first = e;
  else entries_[in.last].next_in_instance = e;
  in.last = e;
}

void LayerWriter::write_instance(const Instance &instance, TextBuffer &out) {
  // First pass: the fields of the layer object, grouped by key in first-seen order.
  order_.clear();
  for (int e = instance.first; e >= 0; e = entries_[e].next_in_instance) {
    Group &g = groups_[entries_[e].key];
    if (g.first < 0) {
      g.first = g.last = e;
      order_.push_back(entries_[e].key);
    } else {
      entries_[g.last].next_in_group = e;
      g.last = e;
    }
    g.count++;
  }
  // Second pass: each key once, its values formatted straight into `out`
  // (an array when the key occurs more than once).
  out.push_back('{');
  bool first_key = true;
  for (int key : order_) {
    Group &g = groups_[key];
    size_t key_at = out.size();
    if (!first_key) out.push_back(',');
    out.append(keys_[key]);
    bool array = g.count > 1;
    if (array) out.push_back('[');
    int written = 0;
    for (int e = g.first; e >= 0; e = entries_[e].next_in_group) {
      size_t before = out.size();
      if (written) out.push_back(',');
      size_t value_at = out.size();
      const Entry &entry = entries_[e];
      if (append_value(entry.fi, entry.kind, out)) {
        written++;
        // The flow takes the first value of each of its fields from the
        // packet's own headers, the top-level layer objects (an ICMP error's
        // quoted IP header is not the packet's flow).
        if (entry.flow != kNoFlow && instance.top_level && flow_values_[entry.flow].empty())
          flow_values_[entry.flow].assign(out.data() + value_at, out.size() - value_at);
      } else {
        out.resize(before);
      }
    }
    if (!written) {
      out.resize(key_at);  // no value could be written (e.g. a time no ISO date can hold)
    } else {
      if (array) out.push_back(']');
      first_key = false;
    }
    g = Group();
  }
  out.push_back('}');
}

void LayerWriter::append_protocols(std::string &out) {
  out += ",\"protocols\":[";
  bool first = true;
  for (const Instance &in : instances_) {
    if (!in.item) continue;
    bool seen = false;  // a handful of protocols per packet: a scan beats a set
    for (const Instance *p = instances_.data(); p != &in && !seen; p++) seen = p->item && p->layer == in.layer;  // a layer is one protocol
    if (seen) continue;
    if (!first) out += ',';
    first = false;
    out += '"';
    out += layers_[in.layer].abbrev;  // filter names are [a-z0-9_.-]: nothing to escape
    out += '"';
  }
  out += ']';
}

void LayerWriter::append_ecs_fields(std::string &out, const std::string &protocol) {
  auto endpoint = [&](const char *name, FlowSlot ip, FlowSlot port, FlowSlot mac) {
    const std::string &i = flow_values_[ip], &p = flow_values_[port], &m = flow_values_[mac];
    if (i.empty() && p.empty() && m.empty()) return;
    out += ",\"";
    out += name;
    out += "\":{";
    const char *sep = "";
    if (!i.empty()) { out += "\"ip\":"; out += i; sep = ","; }
    if (!p.empty()) { out += sep; out += "\"port\":"; out += p; sep = ","; }
    if (!m.empty()) {
      out += sep;
      out += "\"mac\":";
      for (char c : m) out += c == ':' ? '-' : (char)toupper((unsigned char)c);
    }
    out += '}';
  };
  endpoint("source", kSrcIp, kSrcPort, kSrcMac);
  endpoint("destination", kDstIp, kDstPort, kDstMac);
  out += ",\"network\":{";
  if (transport_) { out += "\"transport\":\""; out += transport_; out += "\","; }
  if (network_type_) { out += "\"type\":\""; out += network_type_; out += "\","; }
  out += "\"protocol\":\"";
  out += protocol;
  out += "\"}";
  for (auto &v : flow_values_) v.clear();
  transport_ = network_type_ = nullptr;
}

const std::string &LayerWriter::write(proto_tree *tree, std::string &out) {
  instances_.clear();
  entries_.clear();
  // Pre-order walk of the whole tree without recursion (hostile packets can
  // nest deeply); open_ follows the walk's protocol items, and is empty again
  // once the walk has climbed back to the root.
  proto_node *n = tree ? tree->first_child : nullptr;
  while (n) {
    visit(n, n->parent == tree);
    if (n->first_child) {
      n = n->first_child;
      continue;
    }
    for (;;) {  // leave n, and every item whose last child it was
      if (!open_.empty() && open_.back().node == n) {
        layers_[open_.back().layer].innermost_open = open_.back().outer;
        open_.pop_back();
      }
      if (n->next) { n = n->next; break; }
      n = n->parent;
      if (n == tree) { n = nullptr; break; }
    }
  }
  for (int layer : touched_layers_) layers_[layer].latest = -1;
  touched_layers_.clear();

  // Each layer key once, in first-seen order; several layer objects under one
  // key become an array, in tree order.
  // (Two protocols may share a layer key: the key, not the protocol, groups.)
  auto key_of = [this](const Instance &in) { return layers_[in.layer].layer_key; };
  for (int i = (int)instances_.size() - 1; i >= 0; i--) {
    int &last = last_of_key_[key_of(instances_[i])];
    instances_[i].next_same_key = last;
    last = i;
  }
  // Built in an inline buffer, then copied once: measurably faster than ~100
  // small std::string appends per packet.
  TextBuffer &text = text_;
  text.clear();
  text.push_back('{');
  bool first = true;
  for (size_t i = 0; i < instances_.size(); i++) {
    int &head = last_of_key_[key_of(instances_[i])];
    if (head != (int)i) continue;  // written with the first of its key
    head = -1;
    if (!first) text.push_back(',');
    first = false;
    text.append(keys_[key_of(instances_[i])]);
    bool array = instances_[i].next_same_key >= 0;
    if (array) text.push_back('[');
    for (int j = (int)i; j >= 0; j = instances_[j].next_same_key) {
      if (j != (int)i) text.push_back(',');
      write_instance(instances_[j], text);
    }
    if (array) text.push_back(']');
  }
  text.push_back('}');
  out.append(text.data(), text.size());

  // The highest protocol: the last top-level layer that is not payload or annotation.
  const Instance *highest = nullptr;
  for (auto it = instances_.rbegin(); it != instances_.rend() && !highest; ++it)
    if (it->top_level && !layers_[it->layer].generic) highest = &*it;
  for (auto it = instances_.rbegin(); it != instances_.rend() && !highest; ++it)
    if (it->top_level) highest = &*it;
  return highest ? plain_names_[key_of(*highest)] : kUnknownProtocol;
}
