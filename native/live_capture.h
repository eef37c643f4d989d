// Live capture with libpcap, in the process that holds the capture privilege.
// No libwireshark here: packets leave as pcap streams written into pipes, one
// per dissecting process, which reads its stream like a capture file. So a
// dissecting process can be replaced (a new stream on a new pipe) while
// capture goes on, and several share a link.
//
//   capture thread:  pcap_dispatch -> flow hash (flow_hash.h) picks the
//                    worker -> the record is appended to that worker's block
//                    -> its bounded queue (a full queue drops the packet and
//                    counts it: the kernel ring is never left to overflow
//                    silently behind our back)
//   a writer thread per worker: queue -> write() into its current pipes; a
//                    switch to new pipes happens between two blocks, so no
//                    record is split
//
// Every packet gets its capture-wide frame number (1, 2, 3... in capture
// order) here. A worker's stream holds only its share of the packets, so the
// numbers travel beside it: a second pipe carries a FrameNote per record,
// written before the records themselves, so that a reader always finds the
// note of a record it has read.
#pragma once

#include <pcap/pcap.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "error_code.h"
#include "flow_hash.h"
#include "frame_note.h"

// openLive()'s options (live_binding.cc). No defaults here (TypeScript
// decides them, addon.d.ts): whoever makes one sets every member but the two
// strings, which are empty when left out.
struct LiveOptions {
  std::string interface;
  // Benchmarks only: packets come from this capture file, as fast as the
  // workers take them (a full queue waits instead of dropping); then capture ends.
  std::string source_file;
  std::string bpf;              // kernel filter, empty for none
  int snaplen;
  bool promisc;
  int buffer_bytes;             // the kernel ring
  size_t queue_bytes;           // between capture and each worker's writer
  uint64_t max_packets;         // stop after this many; 0 for no limit
};

// An interface that cannot be opened, or a BPF filter that does not compile.
using LiveError = NativeError;

struct InterfaceInfo {
  std::string name, description;
  std::vector<std::string> addresses;
  bool loopback = false, up = false, running = false;
};

std::vector<InterfaceInfo> list_interfaces(std::string &error);

// Where a worker's stream goes: the records, and their frame notes.
struct StreamFds {
  int records = -1, frames = -1;
};

class LiveCapture {
 public:
  // Opens and activates the interface and sets the filter; null and `error` on failure.
  static std::unique_ptr<LiveCapture> open(const LiveOptions &options, LiveError &error);
  ~LiveCapture();

  // Starts capturing for as many workers as there are streams; worker i's
  // stream goes to streams[i] (this object owns the descriptors from now on).
  void start(const std::vector<StreamFds> &streams);
  // Worker `worker`'s later records go to a new stream; the current one is
  // closed after its last record. switched_at() then tells how many records
  // went to the streams before (-1 while the switch is pending).
  void switch_to(uint32_t worker, StreamFds stream);
  int64_t switched_at(uint32_t worker) const;
  // Stops capturing; what is queued is still written, then the streams are closed.
  void stop();

  int link_type() const { return link_type_; }
  uint32_t workers() const { return (uint32_t)lanes_.size(); }

  struct WorkerStats {
    uint64_t captured, written, queue_drops, queued_bytes;
  };
  WorkerStats worker_stats(uint32_t worker) const;

  std::atomic<uint64_t> captured{0};     // records taken from libpcap and queued
  std::atomic<uint64_t> kernel_received{0}, kernel_drops{0}, interface_drops{0};
  std::atomic<uint64_t> finished_lanes{0};
  // Capture ended and everything is written.
  bool finished() const { return !lanes_.empty() && finished_lanes.load() == lanes_.size(); }
  std::string error() const;

 private:
  struct Block {
    std::string bytes;   // pcap records
    std::string frames;  // their FrameNotes
    uint32_t records = 0;
  };
  // One worker's share: filled by the capture thread, emptied by its writer.
  struct Lane {
    Block current;  // capture thread only
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<Block> queue;
    StreamFds stream;       // writer only
    StreamFds next;         // a pending switch (records >= 0)
    std::atomic<int64_t> switched_at{0};
    std::atomic<uint64_t> captured{0}, written{0}, queue_drops{0}, queued_bytes{0};
    std::thread writer;
  };

  explicit LiveCapture(pcap_t *pcap, const LiveOptions &options);
  void capture_loop();
  void writer_loop(Lane &lane);
  void append(const struct pcap_pkthdr *header, const u_char *data);
  void hand_over(Lane &lane);  // capture thread: the lane's current block goes to its queue
  void update_stats();
  void write_header(int fd);

  pcap_t *pcap_;
  LiveOptions options_;
  int link_type_;
  bool nanoseconds_;
  bool paced_;  // a file source: wait for room instead of dropping
  int64_t previous_ns_ = 0, first_ns_ = 0;  // capture thread: the last and the first packet's time
  FlowHash flow_hash_;  // capture thread only
  std::vector<std::unique_ptr<Lane>> lanes_;

  mutable std::mutex error_mutex_;
  std::string error_;
  std::atomic<bool> capture_done_{false};
  std::atomic<bool> stopping_{false};
  std::thread capture_thread_;
};
