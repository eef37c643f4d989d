// One capture read with wiretap and dissected with epan, record by record.
// Runs only on the engine thread: epan is process-global and single-threaded.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <wiretap/wtap.h>

#include "error_code.h"
#include "packet_batch.h"

// How to read a capture: open() in addon.cc fills it from JavaScript. The
// values have no defaults here (TypeScript decides them, addon.d.ts): whoever
// makes one sets every member without an initializer. The initialized ones
// are the options that may be left out, set to what leaving them out means.
struct CaptureOptions {
  std::string path;            // a capture file, a FIFO, or "-" for standard input
  std::string display_filter;  // Wireshark display filter, empty for none
  uint32_t max_bytes;          // byte fields longer than this are left out; 0 keeps all
  uint64_t session_packets;    // --session-packets: reset epan's session state every N records; 0 never
  uint64_t skip_records;       // records to read without dissecting (resume after a recycle)
  bool dissect_only;           // --dissect-only: a full tree but no layers written (benchmark floor)
  std::string document_fields; // the capture's own document fields, each preceded by a comma (document.ts)
  // A live stream's frame notes: a pipe carrying a FrameNote (frame_note.h)
  // per record; -1 for a file, whose records are numbered 1, 2, 3...
  int frame_notes_fd = -1;
  // A part of the file only (capture_parts.h): its records, numbered from first_record + 1.
  struct Part {
    uint64_t first_record;      // records of the file before the part
    uint64_t start, end;        // its bytes; end 0: to the end of the file
    uint64_t header_bytes;      // the file's header, put in front of the part's bytes
    std::string file_type;      // what wiretap made of the whole file; the part must read the same
  };
  std::optional<Part> part;
};

// A capture that cannot be opened or read, or a display filter that does not compile.
using CaptureError = NativeError;

// Compiles a Wireshark display filter on the engine thread: "" if it is
// valid, or epan's own message saying what is wrong with it.
std::string check_display_filter(const std::string &filter);

class CaptureDissector {
 public:
  // Returns null and fills `error` when the capture or the filter cannot be opened.
  static std::unique_ptr<CaptureDissector> open(const CaptureOptions &options, CaptureError &error);
  // No capture file (options.path is unused): the caller hands over records
  // itself through dissect_record(), as if read from a pcap file. For the
  // packet fuzzer, which must take the very path a capture record takes.
  static std::unique_ptr<CaptureDissector> without_file(const CaptureOptions &options, CaptureError &error);
  ~CaptureDissector();

  enum class Step { kPacket, kFiltered, kEnd, kError };
  // Reads and dissects one record; on kPacket it is appended to `batch`.
  Step next(PacketBatch &batch, CaptureError &error);
  // Dissects a record the caller made (its header, and `data` with its caplen
  // bytes) as the next one, exactly as next() dissects a record it reads:
  // kPacket (appended to `batch`) or kFiltered.
  Step dissect_record(wtap_rec *rec, const uint8_t *data, PacketBatch &batch);

  uint64_t records_read() const;
  uint64_t bytes_read() const;  // of the file as stored (compressed bytes for a compressed file)
  uint64_t session_resets() const;
  std::string file_type() const;
  std::string link_type() const;

 private:
  struct State;  // capture_dissector.cc
  explicit CaptureDissector(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};
