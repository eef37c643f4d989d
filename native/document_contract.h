// The engine's half of the document contract (src/document.ts is the other
// half, src/elasticsearch/mapping.ts maps both):
//   - the top-level fields the engine writes in every packet document
//     (capture_dissector.cc writes them, layer_writer.cc the protocols and
//     the ECS ones);
//   - the JSON value it writes for each Wireshark field type: value_kind()
//     is the one grouping of FT_* types, and LayerWriter::append_value()
//     writes each kind.
// The addon reports both (documentContract()); test/native-contract.test.ts
// holds them against the TypeScript side, the mapping, and real documents.
#pragma once

#include <epan/ftypes/ftypes.h>

// How a field's value appears in the document.
enum class ValueKind {
  kPresent,     // true: the item is there (FT_NONE, FT_PROTOCOL)
  kBoolean,     // true or false
  kUnsigned32,  // a number, 0 .. 2^32-1
  kSigned32,    // a number, -2^31 .. 2^31-1
  kUnsigned64,  // a number; a string of digits beyond 2^53
  kSigned64,    // a number; a string of digits beyond +-2^53
  kFloat,       // a number
  kIsoTime,     // "2015-07-30T05:22:10.468623000Z"
  kSeconds,     // a relative time: seconds as a number
  kText,        // a string
  kHex,         // bytes as lowercase hex, no separators
  kMac,         // "00:1b:21:3c:9d:f8"
  kIPv4,        // "10.0.0.1"
  kIPv6,        // "2001:db8::1"
  kDisplay,     // Wireshark's own display form, a string (GUID, OID, EUI-64, ...)
};

inline const char *value_kind_name(ValueKind kind) {
  // In the order of ValueKind.
  static const char *const kNames[] = {"present", "boolean", "uint32", "int32",  "uint64", "int64", "float",  "iso-time",
                                       "seconds", "text",    "hex",    "mac",    "ipv4",   "ipv6",  "display"};
  return kNames[(int)kind];
}

// The one grouping of Wireshark's field types by how their values are written.
inline ValueKind value_kind(ftenum_t type) {
  switch (type) {
    case FT_NONE: case FT_PROTOCOL: return ValueKind::kPresent;
    case FT_BOOLEAN: return ValueKind::kBoolean;
    case FT_CHAR: case FT_UINT8: case FT_UINT16: case FT_UINT24: case FT_UINT32: case FT_FRAMENUM: return ValueKind::kUnsigned32;
    case FT_INT8: case FT_INT16: case FT_INT24: case FT_INT32: return ValueKind::kSigned32;
    case FT_UINT40: case FT_UINT48: case FT_UINT56: case FT_UINT64: return ValueKind::kUnsigned64;
    case FT_INT40: case FT_INT48: case FT_INT56: case FT_INT64: return ValueKind::kSigned64;
    case FT_FLOAT: case FT_DOUBLE: return ValueKind::kFloat;
    case FT_ABSOLUTE_TIME: return ValueKind::kIsoTime;
    case FT_RELATIVE_TIME: return ValueKind::kSeconds;
    case FT_STRING: case FT_STRINGZ: case FT_UINT_STRING: case FT_STRINGZPAD: case FT_STRINGZTRUNC: return ValueKind::kText;
    case FT_BYTES: case FT_UINT_BYTES: return ValueKind::kHex;
    case FT_ETHER: return ValueKind::kMac;
    case FT_IPv4: return ValueKind::kIPv4;
    case FT_IPv6: return ValueKind::kIPv6;
    default: return ValueKind::kDisplay;
  }
}

// A top-level field of every packet document the engine writes, in order.
// The capture's own fields (capture, capture_id, file_name, ...: document.ts)
// come between sniff_date_utc and frame_number.
struct PacketField {
  const char *name;
  const char *json;  // "iso-time", "epoch-millis", "iso-seconds", "number", "string", "strings", "object"
  bool always;       // false: only where the packet has it
};

constexpr PacketField kPacketFields[] = {
    {"@timestamp", "iso-time", true},
    {"sniff_timestamp", "epoch-millis", true},
    {"sniff_date_utc", "iso-seconds", true},
    {"frame_number", "number", true},
    {"session_start_frame", "number", true},  // the frame its epan session started at: scopes tcp.stream and the like
    {"captured_length", "number", true},
    {"length", "number", true},
    {"interface_id", "number", false},  // pcapng captures
    {"layers", "object", true},
    {"protocol", "string", true},
    {"protocols", "strings", true},  // every protocol with an item in the tree (LayerWriter::append_protocols)
    // ECS, from the packet's outermost addresses, ports and transport (LayerWriter::append_ecs_fields)
    {"source", "object", false},
    {"destination", "object", false},
    {"network", "object", true},
};
