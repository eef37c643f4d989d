// A strict checker for the JSON the engine writes, used by the sanitizer
// tools. A document must be exactly one RFC 8259 value, pure ASCII (json_text.h
// promises that), with no key twice in one object (Elasticsearch refuses
// those) and no unpaired surrogate escape.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace json_check {

// Called with each object key (decoded) and the key of the object holding it
// ("" at the top): lets the fuzzer tell new fields from known ones.
using KeyObserver = std::function<void(const std::string &parent, const std::string &key)>;

class Checker {
 public:
  explicit Checker(std::string_view text, const KeyObserver *observer = nullptr) : s_(text), observer_(observer) {}

  // Empty if the text is one valid value, else what is wrong and at which offset.
  std::string problem() {
    skip_space();
    if (!value("", 0)) return error_;
    skip_space();
    if (i_ != s_.size()) fail("text after the value");
    return error_;
  }

 private:
  static constexpr int kMaxDepth = 64;  // the engine nests four deep; far more is a bug, not data

  bool fail(const char *what) {
    if (error_.empty()) error_ = std::string(what) + " at offset " + std::to_string(i_);
    return false;
  }

  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }

  void skip_space() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) i_++;
  }

  bool literal(const char *word) {
    std::string_view w(word);
    if (s_.substr(i_, w.size()) != w) return fail("invalid literal");
    i_ += w.size();
    return true;
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(uint32_t &cp) {
    if (i_ + 4 > s_.size()) return fail("short \\u escape");
    cp = 0;
    for (int k = 0; k < 4; k++) {
      int d = hex_digit(s_[i_ + k]);
      if (d < 0) return fail("bad \\u escape");
      cp = cp * 16 + (uint32_t)d;
    }
    i_ += 4;
    return true;
  }

  static void append_utf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back((char)cp);
    } else if (cp < 0x800) {
      out.push_back((char)(0xC0 | (cp >> 6)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back((char)(0xE0 | (cp >> 12)));
      out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    } else {
      out.push_back((char)(0xF0 | (cp >> 18)));
      out.push_back((char)(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    }
  }

  // A string at s_[i_] == '"'; its decoded text goes to `out`.
  bool read_string(std::string &out) {
    i_++;
    for (;;) {
      if (at_end()) return fail("unterminated string");
      unsigned char c = (unsigned char)s_[i_];
      if (c == '"') { i_++; return true; }
      if (c < 0x20) return fail("control character in a string");
      if (c >= 0x80) return fail("non-ASCII byte");
      if (c != '\\') { out.push_back((char)c); i_++; continue; }
      i_++;
      char e = peek();
      i_++;
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("low surrogate without a high one");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (s_.substr(i_, 2) != "\\u") return fail("high surrogate without a low one");
            i_ += 2;
            if (!hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return fail("high surrogate without a low one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          i_--;
          return fail("invalid escape");
      }
    }
  }

  bool digits() {
    if (!isdigit_ascii(peek())) return fail("digit expected");
    while (isdigit_ascii(peek())) i_++;
    return true;
  }
  static bool isdigit_ascii(char c) { return c >= '0' && c <= '9'; }

  bool number() {
    if (peek() == '-') i_++;
    if (peek() == '0') {
      i_++;
      if (isdigit_ascii(peek())) return fail("leading zero");
    } else if (!digits()) {
      return false;
    }
    if (peek() == '.') { i_++; if (!digits()) return false; }
    if (peek() == 'e' || peek() == 'E') {
      i_++;
      if (peek() == '+' || peek() == '-') i_++;
      if (!digits()) return false;
    }
    return true;
  }

  bool value(const std::string &parent, int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    char c = peek();
    if (c == '{') return object(parent, depth);
    if (c == '[') return array(parent, depth);
    if (c == '"') { std::string ignored; return read_string(ignored); }
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    if (c == '-' || isdigit_ascii(c)) return number();
    return fail(at_end() ? "value expected, found the end" : "value expected");
  }

  bool array(const std::string &parent, int depth) {
    i_++;
    skip_space();
    if (peek() == ']') { i_++; return true; }
    for (;;) {
      skip_space();
      if (!value(parent, depth + 1)) return false;
      skip_space();
      char c = peek();
      i_++;
      if (c == ']') return true;
      if (c != ',') { i_--; return fail("',' or ']' expected"); }
    }
  }

  bool object(const std::string &parent, int depth) {
    i_++;
    std::unordered_set<std::string> keys;
    skip_space();
    if (peek() == '}') { i_++; return true; }
    for (;;) {
      skip_space();
      if (peek() != '"') return fail("key expected");
      size_t key_at = i_;
      std::string key;
      if (!read_string(key)) return false;
      if (!keys.insert(key).second) {
        i_ = key_at;
        return fail(("duplicate key \"" + key + "\"").c_str());
      }
      if (observer_) (*observer_)(parent, key);
      skip_space();
      if (peek() != ':') return fail("':' expected");
      i_++;
      skip_space();
      if (!value(key, depth + 1)) return false;
      skip_space();
      char c = peek();
      i_++;
      if (c == '}') return true;
      if (c != ',') { i_--; return fail("',' or '}' expected"); }
    }
  }

  std::string_view s_;
  const KeyObserver *observer_;
  size_t i_ = 0;
  std::string error_;
};

inline std::string problem(std::string_view text, const KeyObserver *observer = nullptr) {
  return Checker(text, observer).problem();
}

}  // namespace json_check
