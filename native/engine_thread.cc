#include "engine_thread.h"

#include <poll.h>

#include <algorithm>
#include <chrono>

void EngineThread::start() { thread_ = std::thread([this] { run(); }); }

void EngineThread::post(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void EngineThread::stop() {
  stopping_ = true;
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void EngineThread::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void ReaderCore::pump(std::unique_ptr<CaptureDissector> dissector, const EngineThread &engine) {
  uint64_t delivered = 0;
  size_t last_text_size = 0;
  for (;;) {
    auto batch = std::make_unique<PacketBatch>();
    // Sized from the previous batch: growing a megabyte string copies it whole.
    batch->text.reserve(std::max<size_t>(last_text_size + last_text_size / 4, limits_.batch_size * 2048));
    batch->offsets.reserve(limits_.batch_size * PacketBatch::kSpansPerPacket);
    batch->meta.reserve(limits_.batch_size * PacketBatch::kMetaPerPacket);
    CaptureError err;
    bool end = false, failed = false;
    while (batch->count < limits_.batch_size) {
      if (limits_.max_packets && delivered + batch->count >= limits_.max_packets) { end = true; break; }
      uint64_t stop = stop_after.load();
      if (stop && dissector->records_read() >= stop) { end = true; break; }
      // Live: a quiet link must not hold packets back until a batch is full.
      if (limits_.live_fd >= 0 && batch->count) {
        struct pollfd waiting{limits_.live_fd, POLLIN, 0};
        if (poll(&waiting, 1, 0) == 0) break;
      }
      CaptureDissector::Step step = dissector->next(*batch, err);
      records = dissector->records_read();
      if (step == CaptureDissector::Step::kEnd) { end = true; break; }
      if (step == CaptureDissector::Step::kError) { failed = true; break; }
    }
    resets = dissector->session_resets();
    bytes = dissector->bytes_read();
    last_text_size = batch->text.size();
    delivered += batch->count;
    packets = delivered;
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (batch->count) ready_.push_back(std::move(batch));
      if (failed) error_ = err;
      if (end || failed) finished_ = true;
      stop = finished_ || closed_;
    }
    notify_js_();
    if (stop) break;
    std::unique_lock<std::mutex> lock(mutex_);
    // Engine stop does not know this reader: look at it every 100 ms.
    while (!(ready_.size() < limits_.read_ahead || closed_ || engine.stopping()))
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (closed_ || engine.stopping()) break;
  }
  // Closing the capture and freeing the epan session are epan calls: here, not in JavaScript.
  dissector.reset();
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
}

std::unique_ptr<PacketBatch> ReaderCore::take() {
  std::unique_ptr<PacketBatch> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (ready_.empty()) return nullptr;
    batch = std::move(ready_.front());
    ready_.pop_front();
  }
  cv_.notify_one();
  return batch;
}

bool ReaderCore::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_ && ready_.empty();
}

std::optional<CaptureError> ReaderCore::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

void ReaderCore::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    ready_.clear();
  }
  cv_.notify_one();
}
