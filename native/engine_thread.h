// The one thread of the process that calls into libwireshark, and the readers
// it feeds. epan keeps all its state in process globals, so every epan call
// happens here; JavaScript only ever sees finished batches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "capture_dissector.h"

class EngineThread {
 public:
  using Job = std::function<void()>;
  void start();
  void post(Job job);
  // Stops after the current job; pumping readers notice and stop early.
  void stop();
  bool stopping() const { return stopping_.load(); }

 private:
  void run();
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::atomic<bool> stopping_{false};
};

// As CaptureOptions: no defaults here but for live_fd, which only a live stream has.
struct ReaderLimits {
  uint32_t batch_size;         // packets per batch handed to JavaScript
  uint32_t read_ahead;         // batches dissected ahead of what JavaScript took
  uint64_t max_packets;        // stop after this many packets; 0 for no limit
  int live_fd = -1;            // a live stream's pipe: hand over a batch as soon as no more is waiting in it
};

// Dissected batches waiting for JavaScript, bounded by read_ahead: when
// JavaScript stops pulling, the engine thread stops reading (backpressure).
class ReaderCore {
 public:
  ReaderCore(ReaderLimits limits, std::function<void()> notify_js) : limits_(limits), notify_js_(std::move(notify_js)) {}

  // Engine thread: dissects until the end of the capture, an error, the
  // packet limit, close(), or engine stop.
  void pump(std::unique_ptr<CaptureDissector> dissector, const EngineThread &engine);

  // JavaScript thread.
  std::unique_ptr<PacketBatch> take();  // null if none is ready
  bool finished() const;                // no more batches will come
  std::optional<CaptureError> error() const;
  void close();

  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> resets{0};
  std::atomic<uint64_t> bytes{0};   // position in the capture file, for progress
  // Set from JavaScript: end the reader once this record is read (0: no such end).
  std::atomic<uint64_t> stop_after{0};
  std::string file_type, link_type;   // set before the first batch

 private:
  ReaderLimits limits_;
  std::function<void()> notify_js_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<PacketBatch>> ready_;
  bool finished_ = false;
  bool closed_ = false;
  std::optional<CaptureError> error_;
};
