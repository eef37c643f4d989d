// Every call or struct access whose shape depends on the Wireshark release
// lives here, so supporting a new release means editing this file only.
//
// Supported: 4.0 (Debian 12). 4.2 made fvalue_t opaque and field_info.value a
// pointer; 4.4 changed several getters. Add an #elif block per release.
#pragma once

#include <wireshark.h>
#include <ws_version.h>
#include <epan/epan.h>
#include <epan/proto.h>
#include <epan/ftypes/ftypes.h>
#include <wsutil/wmem/wmem_strbuf.h>

#if WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR == 0

namespace ws_compat {

// The value of a field, stored inline in field_info in 4.0.
inline const fvalue_t *field_value(const field_info *fi) { return &fi->value; }

inline uint32_t get_uint32(const fvalue_t *fv) { return fv->value.uinteger; }
inline int32_t get_int32(const fvalue_t *fv) { return fv->value.sinteger; }
inline uint64_t get_uint64(const fvalue_t *fv) { return fv->value.uinteger64; }
inline int64_t get_int64(const fvalue_t *fv) { return fv->value.sinteger64; }
inline double get_double(const fvalue_t *fv) { return fv->value.floating; }
// FT_BOOLEAN is stored as a 64-bit unsigned integer in 4.0.
inline bool get_bool(const fvalue_t *fv) { return fv->value.uinteger64 != 0; }
// FT_IPv4, host byte order.
inline uint32_t get_ipv4_host_order(const fvalue_t *fv) { return fv->value.ipv4.addr; }
inline const uint8_t *get_ipv6_bytes(const fvalue_t *fv) { return fv->value.ipv6.addr.bytes; }
inline const nstime_t *get_time(const fvalue_t *fv) { return &fv->value.time; }

// FT_BYTES, FT_UINT_BYTES, FT_ETHER and friends.
inline const uint8_t *get_bytes(const fvalue_t *fv, size_t *len) {
  GByteArray *ba = fv->value.bytes;
  if (!ba) { *len = 0; return nullptr; }
  *len = ba->len;
  return ba->data;
}

// String types; may be NULL for an empty item.
inline const char *get_string(const fvalue_t *fv, size_t *len) {
  const wmem_strbuf_t *sb = fv->value.strbuf;
  if (!sb) { *len = 0; return nullptr; }
  *len = wmem_strbuf_get_len(sb);
  return wmem_strbuf_get_str(sb);
}

// Display representation, as tshark prints it; caller frees with wmem_free(NULL, s).
inline char *display_repr(const field_info *fi) {
  return fvalue_to_string_repr(NULL, &fi->value, FTREPR_DISPLAY, fi->hfinfo->display);
}

}  // namespace ws_compat

#else
#error "espcap supports libwireshark 4.0 only so far (found another release): add its accessors to native/wireshark_compat.h"
#endif
