// Dissects capture files with the engine's own code, without Node, for
// sanitizer builds: one file after another in one process, as a dissecting
// process does: libwireshark started and every file opened and pumped on the
// engine thread (EngineThread, ReaderCore::pump in engine_thread.cc), the
// batches taken on this thread as JavaScript takes them, and checked.
//
//   dissect_file [--max-bytes N] [--session-packets N] [--filter EXPR] [--config-dir DIR] FILE...
//
// stdout, one line per event, for scripts/sanitize.js:
//   file PATH                      starting on PATH
//   done PATH records=N packets=N resets=N
//   capture-error PATH CODE        the one-line message is on stderr
//   invalid-document PATH frame=N PROBLEM
// Exit code: 0 every file read to its end, 1 a capture error, 2 usage or
// start-up failure, 3 a document that is not strict JSON.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "../capture_dissector.h"
#include "../engine_thread.h"
#include "../epan_runtime.h"
#include "json_check.h"

namespace {

// What espcap passes when it reads a file (src/engine/engine.ts, src/cli/args.ts).
constexpr uint32_t kBatchSize = 512, kReadAhead = 4;
constexpr uint32_t kMaxBytes = 64;          // --max-bytes
constexpr uint64_t kSessionPackets = 100000;    // --session-packets

struct Counts {
  uint64_t packets = 0;
  uint64_t invalid = 0;
};

// Every document of the batch must be one strict JSON line, its layers span
// a JSON object of its own, exactly where the offsets say.
void check_batch(const std::string &path, const PacketBatch &batch, Counts &counts) {
  const std::string &text = batch.text;
  auto report = [&](double frame, const std::string &problem) {
    counts.invalid++;
    printf("invalid-document %s frame=%.0f %s\n", path.c_str(), frame, problem.c_str());
  };
  if (batch.offsets.size() != (size_t)batch.count * PacketBatch::kSpansPerPacket ||
      batch.meta.size() != (size_t)batch.count * PacketBatch::kMetaPerPacket) {
    report(-1, "batch offsets or meta do not match its count");
    return;
  }
  for (uint32_t p = 0; p < batch.count; p++) {
    const uint32_t *span = &batch.offsets[p * PacketBatch::kSpansPerPacket];
    size_t end = p + 1 < batch.count ? batch.offsets[(p + 1) * PacketBatch::kSpansPerPacket] : text.size();
    double frame = batch.meta[p * PacketBatch::kMetaPerPacket + PacketBatch::kFrameNumber];
    // Written in the order of PacketBatch::Span, so ascending.
    bool ordered = true;
    for (int k = 1; k < PacketBatch::kSpansPerPacket; k++) ordered = ordered && span[k - 1] <= span[k];
    ordered = ordered && span[PacketBatch::kSpansPerPacket - 1] <= end;
    size_t head = span[PacketBatch::kHead], layers = span[PacketBatch::kLayers], tail = span[PacketBatch::kTail];
    if (!ordered || end > text.size() || end == head || text[end - 1] != '\n') {
      report(frame, "document spans out of order or not ending in a newline");
      continue;
    }
    std::string_view line(text.data() + head, end - 1 - head);
    std::string problem = json_check::problem(line);
    if (problem.empty()) problem = json_check::problem(std::string_view(text.data() + layers, tail - layers));
    if (problem.empty() && text[layers] != '{') problem = "layers is not an object";
    if (!problem.empty()) report(frame, problem);
  }
}

// What this thread waits for from the engine thread: a job done, or a batch ready.
struct Waiter {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t notices = 0;
  void notify() {
    std::lock_guard<std::mutex> lock(mutex);
    notices++;
    cv.notify_all();
  }
  uint64_t seen() {
    std::lock_guard<std::mutex> lock(mutex);
    return notices;
  }
  // Waits for a notice after `since` (seen() before looking for work, so none is missed).
  void wait_after(uint64_t since) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return notices != since; });
  }
};

// Returns false at a capture error (reported on stderr as one line).
bool dissect(EngineThread &engine, const CaptureOptions &options, Counts &counts) {
  printf("file %s\n", options.path.c_str());
  fflush(stdout);
  // Shared: the engine thread's last notice may come after this function has seen `pumped` and returned.
  auto waiter = std::make_shared<Waiter>();
  ReaderLimits limits;
  limits.batch_size = kBatchSize;
  limits.read_ahead = kReadAhead;
  limits.max_packets = 0;
  ReaderCore reader(limits, [waiter] { waiter->notify(); });
  std::atomic<bool> pumped{false};
  CaptureError open_error;
  bool opened = false;
  // As the addon's open(): opened and pumped on the engine thread.
  engine.post([&, waiter] {
    CaptureError error;
    std::unique_ptr<CaptureDissector> dissector = CaptureDissector::open(options, error);
    opened = dissector != nullptr;
    if (!opened) open_error = error;
    if (opened) reader.pump(std::move(dissector), engine);
    pumped = true;  // the last use of this function's locals
    waiter->notify();
  });
  // As JavaScript: take what is ready, until the pump has ended and nothing is left.
  for (;;) {
    uint64_t since = waiter->seen();
    std::unique_ptr<PacketBatch> batch = reader.take();
    if (batch) {
      counts.packets += batch->count;
      check_batch(options.path, *batch, counts);
      continue;
    }
    if (pumped) {
      // Everything was handed over before `pumped`: take what came meanwhile.
      while ((batch = reader.take())) {
        counts.packets += batch->count;
        check_batch(options.path, *batch, counts);
      }
      break;
    }
    waiter->wait_after(since);
  }
  std::optional<CaptureError> error = opened ? reader.error() : std::optional<CaptureError>(open_error);
  if (error) {
    printf("capture-error %s %s\n", options.path.c_str(), error_code_name(error->code));
    fprintf(stderr, "dissect_file: %s: %s (%s)\n", options.path.c_str(), error->message.c_str(), error_code_name(error->code));
  } else {
    printf("done %s records=%llu packets=%llu resets=%llu\n", options.path.c_str(), (unsigned long long)reader.records.load(),
           (unsigned long long)counts.packets, (unsigned long long)reader.resets.load());
  }
  fflush(stdout);
  return !error;
}

bool parse_count(const char *text, uint64_t &out) {
  char *end = nullptr;
  unsigned long long v = strtoull(text, &end, 10);
  if (!*text || *end) return false;
  out = v;
  return true;
}

int usage() {
  fprintf(stderr, "usage: dissect_file [--max-bytes N] [--session-packets N] [--filter EXPR] [--config-dir DIR] FILE...\n");
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  // Each wmem and GSlice allocation its own malloc, so ASan bounds every
  // value the engine reads out of epan (set before epan starts its allocators).
  setenv("WIRESHARK_DEBUG_WMEM_OVERRIDE", "simple", 0);
  setenv("G_SLICE", "always-malloc", 0);
  CaptureOptions base;
  base.max_bytes = kMaxBytes;
  base.session_packets = kSessionPackets;
  base.skip_records = 0;
  base.dissect_only = false;
  RuntimeOptions runtime;
  runtime.config_dir = ESPCAP_CONFIG_DIR;
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    uint64_t n;
    if (arg == "--max-bytes" && has_value && parse_count(argv[i + 1], n)) base.max_bytes = (uint32_t)n, i++;
    else if (arg == "--session-packets" && has_value && parse_count(argv[i + 1], n)) base.session_packets = n, i++;
    else if (arg == "--filter" && has_value) base.display_filter = argv[++i];
    else if (arg == "--config-dir" && has_value) runtime.config_dir = argv[++i];
    else if (arg.rfind("--", 0) == 0) return usage();
    else files.push_back(arg);
  }
  if (files.empty()) return usage();

  EngineThread engine;
  engine.start();
  std::string error;
  bool started = false;
  auto waiter = std::make_shared<Waiter>();
  engine.post([&, waiter] {
    started = runtime_init(runtime, error);
    waiter->notify();
  });
  waiter->wait_after(0);  // its one notice: init done
  if (!started) {
    fprintf(stderr, "dissect_file: %s\n", error.c_str());
    engine.stop();
    return 2;
  }
  bool capture_error = false;
  uint64_t invalid = 0;
  for (const std::string &file : files) {
    CaptureOptions options = base;
    options.path = file;
    Counts counts;
    if (!dissect(engine, options, counts)) capture_error = true;
    invalid += counts.invalid;
  }
  engine.stop();
  if (invalid) return 3;
  return capture_error ? 1 : 0;
}
