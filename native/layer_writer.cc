#include "layer_writer.h"

#include <arpa/inet.h>

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

void append_ipv4(std::string &out, uint32_t host_order) {
  out.push_back('"');
  for (int shift = 24; shift >= 0; shift -= 8) {
    json_text::append_u64(out, (host_order >> shift) & 0xFF);
    if (shift) out.push_back('.');
  }
  out.push_back('"');
}

void append_mac(std::string &out, const uint8_t *b, size_t len) {
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
    for (header_field_info *hf = proto_registrar_get_byname(abbrev); hf; hf = hf->same_name_next) {
      if (hf->id >= (int)flow_slot_.size()) flow_slot_.resize(hf->id + 1, kNoFlow);
      flow_slot_[hf->id] = slot;
    }
  }
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
  return id;
}

int LayerWriter::layer_key_for_proto(int proto_id) {
  if (proto_id >= (int)proto_layer_key_.size()) proto_layer_key_.resize(proto_id + 1, -1);
  int &slot = proto_layer_key_[proto_id];
  if (slot < 0) slot = intern(normalise_name(proto_registrar_get_nth(proto_id)->abbrev));
  return slot;
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

int LayerWriter::field_key(const header_field_info *hf, int layer_proto_id, int layer_key_id, const std::string &layer_abbrev) {
  if (hf->id >= (int)hf_keys_.size()) hf_keys_.resize(hf->id + 1);
  HfKey &cached = hf_keys_[hf->id];
  if (cached.layer_proto == layer_proto_id) return cached.key_id;
  const char *abbrev = hf->abbrev;
  size_t n = layer_abbrev.size();
  if (strncmp(abbrev, layer_abbrev.c_str(), n) == 0 && abbrev[n] == '.' && abbrev[n + 1]) abbrev += n + 1;
  cached.layer_proto = layer_proto_id;
  cached.key_id = intern(normalise_name(abbrev));
  // Checked only when the cache entry changes, so not per packet.
  uint64_t seen = ((uint64_t)layer_key_id << 40) | ((uint64_t)cached.key_id << 8) | (uint64_t)hf->type;
  if (report_new_fields_ && reported_.insert(seen).second) {
    new_fields_ += plain_names_[layer_key_id];
    new_fields_ += '\t';
    new_fields_ += plain_names_[cached.key_id];
    new_fields_ += '\t';
    new_fields_ += registered_types(hf);
    new_fields_ += '\t';
    new_fields_ += hf->abbrev;
    new_fields_ += '\n';
  }
  return cached.key_id;
}

std::string LayerWriter::own_field_key(const header_field_info *hf, int proto_id) {
  return plain_names_[field_key(hf, proto_id, layer_key_for_proto(proto_id), proto_registrar_get_nth(proto_id)->abbrev)];
}

std::string LayerWriter::foreign_field_key(const header_field_info *hf) { return normalise_name(hf->abbrev); }

bool LayerWriter::append_value(field_info *fi, std::string &out) {
  const header_field_info *hf = fi->hfinfo;
  const fvalue_t *fv = ws_compat::field_value(fi);
  // One case per kind of value (document_contract.h groups the FT_* types).
  switch (value_kind(hf->type)) {
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
      size_t len;
      const uint8_t *b = ws_compat::get_bytes(fv, &len);
      if (max_bytes_ && len > max_bytes_) return false;
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
bool LayerWriter::left_out(const field_info *fi) const {
  if (!max_bytes_ || value_kind(fi->hfinfo->type) != ValueKind::kHex) return false;
  size_t len;
  ws_compat::get_bytes(ws_compat::field_value(fi), &len);
  return len > max_bytes_;
}

// First pass: the fields of the layer, grouped by key in first-seen order.
void LayerWriter::add_field(field_info *fi, const Layer &layer, const std::string &layer_abbrev) {
  const header_field_info *hf = fi->hfinfo;
  // Label-only text items are not fields; hidden items are not shown by
  // Wireshark either (they duplicate shown ones: ip.addr, tcp.port).
  if (hf->id == hf_text_only || (fi->flags & FI_HIDDEN) || left_out(fi)) return;
  int key = field_key(hf, layer.proto_id, layer.key_id, layer_abbrev);
  int e = (int)entries_.size();
  entries_.push_back({fi, -1});
  Group &g = groups_[key];
  if (g.first < 0) {
    g.first = g.last = e;
    order_.push_back(key);
  } else {
    entries_[g.last].next = e;
    g.last = e;
  }
  g.count++;
}

void LayerWriter::write_layer(const Layer &layer, std::string &out) {
  order_.clear();
  entries_.clear();
  // Only compared with field abbreviations on key-cache misses; built once per layer.
  const std::string layer_abbrev = proto_registrar_get_nth(layer.proto_id)->abbrev;
  for (proto_node *root : layer.roots) {
    if (root->finfo && root->finfo->hfinfo->type != FT_PROTOCOL) add_field(root->finfo, layer, layer_abbrev);
    // Pre-order walk of the subtree without recursion (hostile packets can nest deeply).
    proto_node *n = root->first_child;
    while (n) {
      if (n->finfo) add_field(n->finfo, layer, layer_abbrev);
      if (n->first_child) {
        n = n->first_child;
      } else {
        while (n != root && !n->next) n = n->parent;
        n = (n == root) ? nullptr : n->next;
      }
    }
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
    for (int e = g.first; e >= 0; e = entries_[e].next) {
      size_t before = out.size();
      if (written) out.push_back(',');
      size_t value_at = out.size();
      if (append_value(entries_[e].fi, out)) {
        written++;
        note_flow(entries_[e].fi->hfinfo, layer, out, value_at);
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

// The flow takes the first value of each of its fields from the field's own
// protocol layer (an ICMP error's quoted IP header is not the packet's flow).
void LayerWriter::note_flow(const header_field_info *hf, const Layer &layer, const std::string &out, size_t value_start) {
  if (hf->id >= (int)flow_slot_.size() || flow_slot_[hf->id] == kNoFlow || hf->parent != layer.proto_id) return;
  std::string &slot = flow_values_[flow_slot_[hf->id]];
  if (slot.empty()) slot.assign(out, value_start, out.size() - value_start);
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
  if (!transport_.empty()) { out += "\"transport\":\""; out += transport_; out += "\","; }
  if (!network_type_.empty()) { out += "\"type\":\""; out += network_type_; out += "\","; }
  out += "\"protocol\":\"";
  out += protocol;
  out += "\"}";
  for (auto &v : flow_values_) v.clear();
  transport_.clear();
  network_type_.clear();
}

const std::string &LayerWriter::write(proto_tree *tree, std::string &out) {
  layers_.clear();
  for (proto_node *top = tree ? tree->first_child : nullptr; top; top = top->next) {
    field_info *fi = top->finfo;
    if (!fi) continue;
    const header_field_info *hf = fi->hfinfo;
    if (hf->type == FT_PROTOCOL) {
      layers_.push_back({layer_key_for_proto(hf->id), hf->id, {top}});
      const char *abbrev = hf->abbrev;
      if (transport_.empty() && (!strcmp(abbrev, "tcp") || !strcmp(abbrev, "udp") || !strcmp(abbrev, "sctp") ||
                                 !strcmp(abbrev, "icmp") || !strcmp(abbrev, "icmpv6") || !strcmp(abbrev, "igmp")))
        transport_ = abbrev;
      if (network_type_.empty() && (!strcmp(abbrev, "ip") || !strcmp(abbrev, "ipv6")))
        network_type_ = strcmp(abbrev, "ip") ? "ipv6" : "ipv4";
      continue;
    }
    // A field at the top level (tcp.segments, a text label) belongs to the
    // latest layer of its protocol, or starts one.
    int proto_id = hf->parent >= 0 ? hf->parent : (layers_.empty() ? -1 : layers_.back().proto_id);
    if (proto_id < 0) continue;
    Layer *target = nullptr;
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it)
      if (it->proto_id == proto_id) { target = &*it; break; }
    if (target) target->roots.push_back(top);
    else layers_.push_back({layer_key_for_proto(proto_id), proto_id, {top}});
  }

  // A protocol occurring more than once (tunnels, several PDUs in one frame)
  // becomes an array of layer objects, in packet order, under one key.
  out.push_back('{');
  std::vector<bool> &written = layer_written_;
  written.assign(layers_.size(), false);
  bool first = true;
  for (size_t i = 0; i < layers_.size(); i++) {
    if (written[i]) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append(keys_[layers_[i].key_id]);
    size_t same = 0;
    for (size_t j = i + 1; j < layers_.size(); j++) same += layers_[j].key_id == layers_[i].key_id;
    if (!same) {
      write_layer(layers_[i], out);
      continue;
    }
    out.push_back('[');
    for (size_t j = i; j < layers_.size(); j++) {
      if (layers_[j].key_id != layers_[i].key_id) continue;
      if (j != i) out.push_back(',');
      write_layer(layers_[j], out);
      written[j] = true;
    }
    out.push_back(']');
  }
  out.push_back('}');

  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it)
    if (!is_generic_layer(proto_registrar_get_nth(it->proto_id)->abbrev)) return plain_names_[it->key_id];
  return layers_.empty() ? kUnknownProtocol : plain_names_[layers_.back().key_id];
}
