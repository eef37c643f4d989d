// Chosen frames of a capture read back as they are stored: link type,
// timestamp and bytes, for writing them out again as pcapng (espcap --write).
// wiretap only, no epan: it may run on the JavaScript thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "error_code.h"

struct RawFrame {
  uint64_t frame;        // 1-based record number, as documents count frames
  int link_type;         // pcap LINKTYPE_ value; -1 when the record cannot be written as one (see note)
  std::string note;      // why not, when link_type is -1
  int64_t seconds;
  int32_t nanoseconds;
  uint32_t length;       // on the wire
  std::string data;      // the captured bytes
};

class FrameReader {
 public:
  static std::unique_ptr<FrameReader> open(const std::string &path, NativeError &error);
  ~FrameReader();
  // Reads on to each of `frames` (ascending, each after position()); a frame
  // past the end of the capture is left out of `out`. False with `error` at a read error.
  bool read(const std::vector<uint64_t> &frames, std::vector<RawFrame> &out, NativeError &error);
  // The last record read (0 before the first).
  uint64_t position() const { return position_; }

 private:
  FrameReader() = default;
  struct wtap *wth_ = nullptr;
  uint64_t position_ = 0;
  bool at_end_ = false;
};
