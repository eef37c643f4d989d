// A growable byte buffer whose appends are inline: the layer writer makes
// about a hundred small appends per packet, and std::string's out-of-line
// append was a measurable share of writing a document.
#pragma once

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

class TextBuffer {
 public:
  TextBuffer() = default;
  TextBuffer(const TextBuffer &) = delete;
  TextBuffer &operator=(const TextBuffer &) = delete;
  ~TextBuffer() { free(data_); }

  size_t size() const { return size_; }
  const char *data() const { return data_; }
  char &operator[](size_t i) { return data_[i]; }
  void clear() { size_ = 0; }
  // Shrinks, or grows leaving the new bytes for the caller to write.
  void resize(size_t n) {
    if (n > capacity_) grow(n - size_);
    size_ = n;
  }
  void push_back(char c) {
    if (size_ == capacity_) grow(1);
    data_[size_++] = c;
  }
  void append(const char *s, size_t n) {
    if (size_ + n > capacity_) grow(n);
    memcpy(data_ + size_, s, n);
    size_ += n;
  }
  void append(const char *s) { append(s, strlen(s)); }
  void append(const std::string &s) { append(s.data(), s.size()); }

 private:
  void grow(size_t more) {
    size_t want = capacity_ ? capacity_ * 2 : 64 * 1024;
    while (want < size_ + more) want *= 2;
    char *p = static_cast<char *>(realloc(data_, want));
    if (!p) throw std::bad_alloc();
    data_ = p;
    capacity_ = want;
  }

  char *data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};
