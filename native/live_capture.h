// Live capture with libpcap, in the process that holds the capture privilege.
// No libwireshark here: packets leave as a pcap stream written into a pipe,
// which a dissecting process reads like a capture file. So a dissecting
// process can be replaced (a new stream on a new pipe) while capture goes on.
//
//   capture thread:  pcap_dispatch -> records appended to blocks -> bounded queue
//                    (a full queue drops the packet and counts it: the kernel
//                    ring is never left to overflow silently behind our back)
//   writer thread:   queue -> write() into the current pipe; a switch to a new
//                    pipe happens between two blocks, so no record is split
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

struct LiveOptions {
  std::string interface;
  std::string bpf;              // kernel filter, empty for none
  int snaplen = 262144;
  bool promisc = true;
  int buffer_bytes = 32 << 20;  // the kernel ring
  size_t queue_bytes = 64 << 20;  // between capture and writer
  uint64_t max_packets = 0;     // stop after this many; 0 for no limit
};

// An interface that cannot be opened, or a BPF filter that does not compile.
using LiveError = NativeError;

struct InterfaceInfo {
  std::string name, description;
  std::vector<std::string> addresses;
  bool loopback = false, up = false, running = false;
};

std::vector<InterfaceInfo> list_interfaces(std::string &error);

class LiveCapture {
 public:
  // Opens and activates the interface and sets the filter; null and `error` on failure.
  static std::unique_ptr<LiveCapture> open(const LiveOptions &options, LiveError &error);
  ~LiveCapture();

  // Starts capturing; the pcap stream goes to `fd` (this object owns it from now on).
  void start(int fd);
  // Later records go to a new pcap stream on `fd`; the current one is closed
  // after its last record. switched_at() then tells how many records went to
  // the streams before (-1 while the switch is pending).
  void switch_to(int fd);
  int64_t switched_at() const { return switched_at_.load(); }
  // Stops capturing; what is queued is still written, then the stream is closed.
  void stop();

  int link_type() const { return link_type_; }

  std::atomic<uint64_t> captured{0};     // records taken from libpcap
  std::atomic<uint64_t> written{0};      // records written into streams
  std::atomic<uint64_t> queue_drops{0};  // records dropped because the queue was full
  std::atomic<uint64_t> kernel_received{0}, kernel_drops{0}, interface_drops{0};
  std::atomic<uint64_t> queued_bytes{0};
  std::atomic<bool> finished{false};     // capture ended and everything is written
  std::string error() const;

 private:
  struct Block {
    std::string bytes;
    uint32_t records = 0;
  };

  explicit LiveCapture(pcap_t *pcap, const LiveOptions &options);
  void capture_loop();
  void writer_loop();
  void append(const struct pcap_pkthdr *header, const u_char *data);
  void hand_over_block();  // capture thread: the current block goes to the queue
  void update_stats();
  bool write_all(int fd, const char *data, size_t size);
  void write_header(int fd);

  pcap_t *pcap_;
  LiveOptions options_;
  int link_type_;
  bool nanoseconds_;
  Block current_;  // capture thread only

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Block> queue_;
  bool capture_done_ = false;
  int next_fd_ = -1;  // a pending switch
  std::string error_;

  int fd_ = -1;  // writer thread only
  std::atomic<int64_t> switched_at_{0};
  std::atomic<bool> stopping_{false};
  std::thread capture_thread_, writer_thread_;
};
