// Appending JSON values to a byte buffer: a std::string, or anything with
// the same append/push_back/resize/size/[] (text_buffer.h).
//
// All output is pure ASCII: every non-ASCII character is written as a \uXXXX
// escape and invalid UTF-8 becomes U+FFFD. Byte offsets then equal character
// offsets, so JavaScript can decode a whole batch once as latin1 and slice it.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

namespace json_text {

template <class Out>
inline void append_u64(Out &out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

template <class Out>
inline void append_i64(Out &out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

// Integers beyond 2^53 lose precision as JSON numbers in JavaScript and in
// Elasticsearch's double-based parsing paths, so they are written as strings.
constexpr uint64_t kMaxSafeInteger = (1ULL << 53) - 1;

template <class Out>
inline void append_u64_safe(Out &out, uint64_t v) {
  if (v <= kMaxSafeInteger) { append_u64(out, v); return; }
  out.push_back('"'); append_u64(out, v); out.push_back('"');
}

template <class Out>
inline void append_i64_safe(Out &out, int64_t v) {
  if (v <= (int64_t)kMaxSafeInteger && v >= -(int64_t)kMaxSafeInteger) { append_i64(out, v); return; }
  out.push_back('"'); append_i64(out, v); out.push_back('"');
}

// JSON has no NaN or Infinity: those become null.
template <class Out>
inline void append_double(Out &out, double v) {
  if (!std::isfinite(v)) { out.append("null"); return; }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

template <class Out>
inline void append_hex(Out &out, const uint8_t *data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  size_t at = out.size();
  out.resize(at + 2 * len);
  char *p = &out[at];
  for (size_t i = 0; i < len; i++) {
    *p++ = digits[data[i] >> 4];
    *p++ = digits[data[i] & 15];
  }
}

template <class Out>
inline void append_u_escape(Out &out, uint32_t cp) {
  static const char digits[] = "0123456789abcdef";
  char buf[6] = {'\\', 'u', digits[(cp >> 12) & 15], digits[(cp >> 8) & 15], digits[(cp >> 4) & 15], digits[cp & 15]};
  out.append(buf, 6);
}

// Decodes one UTF-8 sequence at s[i..n); returns its code point and advances i,
// or returns 0xFFFD and advances one byte for an invalid sequence.
inline uint32_t decode_utf8(const unsigned char *s, size_t n, size_t &i) {
  unsigned char c = s[i];
  int extra; uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) { extra = 1; cp = c & 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { extra = 2; cp = c & 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { extra = 3; cp = c & 0x07; min = 0x10000; }
  else { i++; return 0xFFFD; }
  if (i + extra >= n) { i++; return 0xFFFD; }
  for (int k = 1; k <= extra; k++) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) { i++; return 0xFFFD; }
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { i++; return 0xFFFD; }
  i += extra + 1;
  return cp;
}

// Appends s as a quoted JSON string, ASCII only.
template <class Out>
inline void append_string(Out &out, const char *str, size_t n) {
  const unsigned char *s = reinterpret_cast<const unsigned char *>(str);
  out.push_back('"');
  size_t i = 0;
  while (i < n) {
    // Copy the longest run of plain printable ASCII in one append.
    size_t run = i;
    while (run < n && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\') run++;
    if (run > i) { out.append(str + i, run - i); i = run; if (i >= n) break; }
    unsigned char c = s[i];
    if (c == '"') { out.append("\\\""); i++; }
    else if (c == '\\') { out.append("\\\\"); i++; }
    else if (c == '\n') { out.append("\\n"); i++; }
    else if (c == '\r') { out.append("\\r"); i++; }
    else if (c == '\t') { out.append("\\t"); i++; }
    else if (c < 0x80) { append_u_escape(out, c); i++; }
    else {
      uint32_t cp = decode_utf8(s, n, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        append_u_escape(out, 0xD800 + (cp >> 10));
        append_u_escape(out, 0xDC00 + (cp & 0x3FF));
      } else {
        append_u_escape(out, cp);
      }
    }
  }
  out.push_back('"');
}

template <class Out>
inline void append_string(Out &out, const char *s) { append_string(out, s, strlen(s)); }

// Brings a (seconds, nanoseconds) pair into 0 <= nanoseconds < 1e9; damaged
// captures and hostile packets carry nanosecond fields far outside that range.
inline void normalise_time(int64_t &secs, int64_t &nsecs) {
  const int64_t billion = 1000000000;
  int64_t carry = nsecs / billion;
  nsecs %= billion;
  if (nsecs < 0) { nsecs += billion; carry -= 1; }
  // Seconds can be anywhere in int64 (a pcapng timestamp counted in whole
  // seconds): at its edges the carry would overflow, so stay at the edge.
  if (__builtin_add_overflow(secs, carry, &secs)) {
    secs = carry > 0 ? INT64_MAX : INT64_MIN;
    nsecs = carry > 0 ? billion - 1 : 0;
  }
}

// Writes `value` as exactly `width` decimal digits, zero-padded (hot path: no printf).
template <class Out>
inline void append_fixed_digits(Out &out, uint64_t value, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; i--) {
    buf[i] = char('0' + value % 10);
    value /= 10;
  }
  out.append(buf, width);
}

template <class Out>
inline void append_nanos_fraction(Out &out, int64_t nsecs) {
  out.push_back('.');
  append_fixed_digits(out, (uint64_t)nsecs, 9);
}

// ISO-8601 UTC with nanoseconds, e.g. 2004-05-13T10:17:07.311224000Z (unquoted).
// Returns false (appending nothing) for years outside 0..9999, which no
// consumer of ISO dates accepts.
template <class Out>
inline bool append_iso_time(Out &out, int64_t secs, int64_t nsecs) {
  normalise_time(secs, nsecs);
  time_t t = (time_t)secs;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return false;
  int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) return false;
  append_fixed_digits(out, year, 4);
  out.push_back('-');
  append_fixed_digits(out, tm.tm_mon + 1, 2);
  out.push_back('-');
  append_fixed_digits(out, tm.tm_mday, 2);
  out.push_back('T');
  append_fixed_digits(out, tm.tm_hour, 2);
  out.push_back(':');
  append_fixed_digits(out, tm.tm_min, 2);
  out.push_back(':');
  append_fixed_digits(out, tm.tm_sec, 2);
  append_nanos_fraction(out, nsecs);
  out.push_back('Z');
  return true;
}

// A duration in seconds as a JSON number with all nine fractional digits.
template <class Out>
inline void append_seconds(Out &out, int64_t secs, int64_t nsecs) {
  normalise_time(secs, nsecs);
  uint64_t whole = (uint64_t)secs;
  if (secs < 0) {
    // The value is secs + nsecs/1e9 < 0; print its magnitude after a minus
    // sign, unsigned: -INT64_MIN does not fit an int64.
    out.push_back('-');
    whole = 0 - (uint64_t)secs;
    if (nsecs > 0) { whole -= 1; nsecs = 1000000000 - nsecs; }
  }
  append_u64(out, whole);
  append_nanos_fraction(out, nsecs);
}

}  // namespace json_text
