// One capture file read by several dissecting processes side by side: it is
// cut into parts at its session resets (every --session-packets records),
// where a single process starts a fresh epan session anyway, so each part
// dissected on its own in a fresh session gives the very documents a single
// process gives.
//
// plan_capture_parts() finds where each part starts with wiretap itself (the
// offset wiretap reports for the record), so the cut is exactly wiretap's
// notion of a record. PartStream then gives a part to wiretap as a capture of
// its own: the file's header (pcap: its file header; pcapng: the section
// header and interface blocks before the first packet) followed by the part's
// bytes, written into a pipe by a thread of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "error_code.h"

struct CapturePlan {
  std::string file_type;         // wiretap's name of the format ("pcap", "nsecpcap", "pcapng")
  uint64_t records = 0;          // records read by the plan (to the end, or to a read error)
  uint64_t header_bytes = 0;     // bytes before the first record: every part's stream starts with them
  std::vector<uint64_t> starts;  // byte offset of record k * every + 1, for k = 1, 2, ...
  std::string whole_reason;      // why the file must be read whole by one process; empty if it can be split
};

// Reads the capture once with wiretap (no dissection). A read error ends the
// plan there: the last part then runs to the end of the file and meets the
// same error a single process meets. Fails (`error`) only if it cannot open.
bool plan_capture_parts(const std::string &path, uint64_t every, CapturePlan &plan, NativeError &error);

// Bytes [0, header_bytes) then [start, end) of a file (end 0: to its end) as
// a pipe wiretap opens by path(). Destroy it after wiretap closed the path.
class PartStream {
 public:
  static std::unique_ptr<PartStream> open(const std::string &file, uint64_t header_bytes, uint64_t start, uint64_t end,
                                          NativeError &error);
  ~PartStream();
  std::string path() const;
  // Bytes of the file before the stream's first part byte, less the header: maps stream positions to file positions.
  int64_t file_offset() const { return (int64_t)start_ - (int64_t)header_bytes_; }

 private:
  PartStream() = default;
  void feed();
  int file_fd_ = -1, read_fd_ = -1, write_fd_ = -1;
  uint64_t header_bytes_ = 0, start_ = 0, end_ = 0;
  std::thread feeder_;
};
