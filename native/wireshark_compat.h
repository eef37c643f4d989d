// Every call or struct access whose shape depends on the Wireshark release
// lives here, chosen at compile time from the release's own version macros
// (ws_version.h); no other file asks which release it is built against.
//
// Supported: the release series 4.0 (Debian 12), 4.2 (Ubuntu 24.04), 4.4
// (Debian 13) and 4.6 (Debian unstable, Fedora, Homebrew). What changed:
//   4.2  fvalue_t is opaque and field_info.value a pointer (getters instead of
//        the union); dfilter_compile reports a df_error_t.
//   4.4  the report-message callbacks take bool and 64-bit frame counts; the
//        packet provider's interface callbacks get a section number; IPv4 and
//        IPv6 values are read as address-and-mask structs.
//   4.6  configuration_init and ws_log_init lose an argument; a record carries
//        its own bytes (wtap_rec.data: wtap_read takes no Buffer, and
//        epan_dissect_run makes the frame's tvb itself); report-message gains a
//        rename failure; the packet provider gains process-information callbacks.
#pragma once

#include <cstdarg>
#include <cstring>
#include <string>

#include <wireshark.h>
#include <ws_version.h>
#include <epan/dfilter/dfilter.h>
#include <epan/epan.h>
#include <epan/epan_dissect.h>
#include <epan/frame_data.h>
#include <epan/proto.h>
#include <epan/ftypes/ftypes.h>
#include <epan/tvbuff.h>
#include <wiretap/wtap.h>
#include <wsutil/buffer.h>
#include <wsutil/filesystem.h>
#include <wsutil/report_message.h>
#include <wsutil/wmem/wmem_strbuf.h>
#include <wsutil/wslog.h>

#define ESPCAP_WS_AT_LEAST(major, minor) \
  (WIRESHARK_VERSION_MAJOR > (major) || (WIRESHARK_VERSION_MAJOR == (major) && WIRESHARK_VERSION_MINOR >= (minor)))

#if !(WIRESHARK_VERSION_MAJOR == 4 && (WIRESHARK_VERSION_MINOR == 0 || WIRESHARK_VERSION_MINOR == 2 || \
                                       WIRESHARK_VERSION_MINOR == 4 || WIRESHARK_VERSION_MINOR == 6))
#error "espcap builds against libwireshark 4.0, 4.2, 4.4 and 4.6 (found another release): add what changed to native/wireshark_compat.h"
#endif

namespace ws_compat {

// ------------------------------------------------------------ field values

#if !ESPCAP_WS_AT_LEAST(4, 2)

// The value of a field, stored inline in field_info in 4.0.
inline const fvalue_t *field_value(const field_info *fi) { return &fi->value; }

inline uint32_t get_uint32(const fvalue_t *fv) { return fv->value.uinteger; }
inline int32_t get_int32(const fvalue_t *fv) { return fv->value.sinteger; }
inline uint64_t get_uint64(const fvalue_t *fv) { return fv->value.uinteger64; }
inline int64_t get_int64(const fvalue_t *fv) { return fv->value.sinteger64; }
inline double get_double(const fvalue_t *fv) { return fv->value.floating; }
// FT_BOOLEAN is stored as a 64-bit unsigned integer.
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

#else

// An opaque value behind a pointer from 4.2 on. The getters take a non-const
// pointer but only read.
inline const fvalue_t *field_value(const field_info *fi) { return fi->value; }
inline fvalue_t *mut(const fvalue_t *fv) { return const_cast<fvalue_t *>(fv); }

inline uint32_t get_uint32(const fvalue_t *fv) { return fvalue_get_uinteger(mut(fv)); }
inline int32_t get_int32(const fvalue_t *fv) { return fvalue_get_sinteger(mut(fv)); }
inline uint64_t get_uint64(const fvalue_t *fv) { return fvalue_get_uinteger64(mut(fv)); }
inline int64_t get_int64(const fvalue_t *fv) { return fvalue_get_sinteger64(mut(fv)); }
inline double get_double(const fvalue_t *fv) { return fvalue_get_floating(mut(fv)); }
inline bool get_bool(const fvalue_t *fv) { return fvalue_get_uinteger64(mut(fv)) != 0; }
#if ESPCAP_WS_AT_LEAST(4, 4)
inline uint32_t get_ipv4_host_order(const fvalue_t *fv) { return fvalue_get_ipv4(mut(fv))->addr; }
inline const uint8_t *get_ipv6_bytes(const fvalue_t *fv) { return fvalue_get_ipv6(mut(fv))->addr.bytes; }
#else
// 4.2 keeps an IPv4 address as an unsigned integer (host order) and an IPv6 one as the bare address.
inline uint32_t get_ipv4_host_order(const fvalue_t *fv) { return fvalue_get_uinteger(mut(fv)); }
inline const uint8_t *get_ipv6_bytes(const fvalue_t *fv) { return fvalue_get_ipv6(mut(fv))->bytes; }
#endif
inline const nstime_t *get_time(const fvalue_t *fv) { return fvalue_get_time(mut(fv)); }

inline const uint8_t *get_bytes(const fvalue_t *fv, size_t *len) {
  *len = fvalue_get_bytes_size(mut(fv));
  return *len ? static_cast<const uint8_t *>(fvalue_get_bytes_data(mut(fv))) : nullptr;
}

inline const char *get_string(const fvalue_t *fv, size_t *len) {
  const wmem_strbuf_t *sb = fvalue_get_strbuf(mut(fv));
  if (!sb) { *len = 0; return nullptr; }
  *len = wmem_strbuf_get_len(sb);
  return wmem_strbuf_get_str(sb);
}

#endif

// Display representation, as tshark prints it; caller frees with wmem_free(NULL, s).
inline char *display_repr(const field_info *fi) {
  return fvalue_to_string_repr(NULL, field_value(fi), FTREPR_DISPLAY, fi->hfinfo->display);
}

// ------------------------------------------------------------ start-up

inline void log_init(const char *program) {
#if ESPCAP_WS_AT_LEAST(4, 6)
  g_set_prgname(program);  // 4.6 takes the program's name from glib
  ws_log_init(NULL);
#else
  ws_log_init(program, NULL);
#endif
}

// Records the program's directory; an error string (g_free it) if it could not be found.
inline char *configuration_init(const char *arg0) {
#if ESPCAP_WS_AT_LEAST(4, 6)
  return ::configuration_init(arg0);
#else
  return ::configuration_init(arg0, NULL);
#endif
}

// How Wireshark's preference, file and dissector code reports problems:
// espcap's three callbacks behind the release's table of routines.
struct Reporter {
  void (*failure)(const char *fmt, va_list ap);
  void (*warning)(const char *fmt, va_list ap);
  // A file could not be opened, read or written: the file and the error's text.
  void (*file_problem)(const char *what, const char *file, const char *error);
};

namespace detail {
inline Reporter &reporter() {
  static Reporter r{};
  return r;
}
inline void errno_problem(const char *what, const char *file, int err) { reporter().file_problem(what, file, g_strerror(err)); }
inline void wtap_problem(const char *what, const char *file, int err, char *info) {
  reporter().file_problem(what, file ? file : "capture", wtap_strerror(err));
  g_free(info);
}
}  // namespace detail

// The trailing parameters the releases disagree on (gboolean or bool, a
// 32- or 64-bit frame count) are taken by generic lambdas, which convert to
// whichever function pointer the release's struct wants.
inline void init_report_message(const char *program, const Reporter &r) {
  detail::reporter() = r;
  static report_message_routines routines{};
  routines.vreport_failure = [](const char *fmt, va_list ap) { detail::reporter().failure(fmt, ap); };
  routines.vreport_warning = [](const char *fmt, va_list ap) { detail::reporter().warning(fmt, ap); };
  routines.report_open_failure = [](const char *file, int err, auto) { detail::errno_problem("open", file, err); };
  routines.report_read_failure = [](const char *file, int err) { detail::errno_problem("read", file, err); };
  routines.report_write_failure = [](const char *file, int err) { detail::errno_problem("write", file, err); };
#if ESPCAP_WS_AT_LEAST(4, 6)
  routines.report_rename_failure = [](const char *from, const char *, int err) { detail::errno_problem("rename", from, err); };
#endif
  routines.report_cfile_open_failure = [](const char *file, int err, char *info) { detail::wtap_problem("open", file, err, info); };
  routines.report_cfile_dump_open_failure = [](const char *, int, char *info, int) { g_free(info); };
  routines.report_cfile_read_failure = [](const char *file, int err, char *info) { detail::wtap_problem("read", file, err, info); };
  routines.report_cfile_write_failure = [](const char *, const char *, int, char *info, auto, int) { g_free(info); };
  routines.report_cfile_close_failure = [](const char *, int, char *info) { g_free(info); };
  ::init_report_message(program, &routines);
}

// ------------------------------------------------------------ display filters

// Compiles `text` (an empty filter gives a null filter); false with libwireshark's message.
inline bool compile_filter(const char *text, dfilter_t **filter, std::string &message) {
#if ESPCAP_WS_AT_LEAST(4, 2)
  df_error_t *err = nullptr;
  if (dfilter_compile(text, filter, &err)) return true;
  message = err && err->msg ? err->msg : "syntax error";
  df_error_free(&err);
#else
  char *err = nullptr;
  if (dfilter_compile(text, filter, &err)) return true;
  message = err ? err : "syntax error";
  g_free(err);
#endif
  return false;
}

// ------------------------------------------------------------ the packet provider

// The callbacks epan asks about other frames and about interfaces, as the
// release's struct wants them (4.4 adds a section number; 4.6 process
// information, which pcap and pcapng captures do not carry).
template <auto FrameTs, auto InterfaceName, auto InterfaceDescription>
packet_provider_funcs provider_funcs() {
  packet_provider_funcs f{};
  f.get_frame_ts = [](packet_provider_data *p, auto frame_num) { return FrameTs(p, frame_num); };
  f.get_interface_name = [](packet_provider_data *p, auto interface_id, auto...) { return InterfaceName(p, interface_id); };
  f.get_interface_description = [](packet_provider_data *p, auto interface_id, auto...) {
    return InterfaceDescription(p, interface_id);
  };
  f.get_modified_block = nullptr;
  return f;
}

// ------------------------------------------------------------ records

// A record wiretap reads into, with its bytes: 4.6 keeps them in the record
// itself (wtap_rec.data), earlier releases in a Buffer beside it.
class Record {
 public:
  Record() {
#if ESPCAP_WS_AT_LEAST(4, 6)
    wtap_rec_init(&rec_, 1514);
#else
    wtap_rec_init(&rec_);
    ws_buffer_init(&buf_, 1514);
#endif
  }
  ~Record() {
    wtap_rec_cleanup(&rec_);
#if !ESPCAP_WS_AT_LEAST(4, 6)
    ws_buffer_free(&buf_);
#endif
  }
  Record(const Record &) = delete;
  Record &operator=(const Record &) = delete;

  // The next record of `wth`; false at the end (*err 0) or on an error.
  bool read(wtap *wth, int *err, gchar **err_info, gint64 *offset) {
#if ESPCAP_WS_AT_LEAST(4, 6)
    return wtap_read(wth, &rec_, err, err_info, offset);
#else
    return wtap_read(wth, &rec_, &buf_, err, err_info, offset);
#endif
  }
  // Forget the last record's block and options before reading the next.
  void reset() { wtap_rec_reset(&rec_); }

  wtap_rec *rec() { return &rec_; }
  const uint8_t *data() {
#if ESPCAP_WS_AT_LEAST(4, 6)
    return ws_buffer_start_ptr(&rec_.data);
#else
    return ws_buffer_start_ptr(&buf_);
#endif
  }

 private:
  wtap_rec rec_;
#if !ESPCAP_WS_AT_LEAST(4, 6)
  Buffer buf_;
#endif
};

// Sets up a record built by hand (not read by wiretap).
inline void rec_init(wtap_rec *rec) {
#if ESPCAP_WS_AT_LEAST(4, 6)
  wtap_rec_init(rec, 1514);
#else
  wtap_rec_init(rec);
#endif
}

// Dissects one frame whose bytes are `data` (fd->cap_len of them) into edt.
// Before 4.6 the caller makes the frame's tvb; 4.6 makes it from the record's
// own bytes, so bytes that are elsewhere are copied into the record first.
inline void dissect(epan_dissect_t *edt, int file_type_subtype, wtap_rec *rec, const uint8_t *data, frame_data *fd) {
#if ESPCAP_WS_AT_LEAST(4, 6)
  if (data != ws_buffer_start_ptr(&rec->data)) {
    ws_buffer_clean(&rec->data);
    ws_buffer_append(&rec->data, data, fd->cap_len);
  }
  epan_dissect_run(edt, file_type_subtype, rec, fd, nullptr);
#else
  tvbuff_t *tvb = tvb_new_real_data(data, fd->cap_len, fd->pkt_len > (guint32)G_MAXINT ? G_MAXINT : (gint)fd->pkt_len);
  epan_dissect_run(edt, file_type_subtype, rec, tvb, fd, nullptr);
#endif
}

}  // namespace ws_compat
