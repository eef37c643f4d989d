#include "live_capture.h"

#include "flow_hash.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace {

constexpr size_t kBlockBytes = 1 << 20;  // records are written to the pipe in blocks up to this size
// ... and of at most this many records: their frame notes (24 bytes each) fit
// in half a pipe of the smallest size, 64 KiB, so that writing them never
// waits for a reader that waits for records (see live_capture.h).
constexpr uint32_t kBlockRecords = 2048;

std::string address_text(const struct sockaddr *sa) {
  char text[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in *>(sa)->sin_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 *>(sa)->sin6_addr, text, sizeof text);
  return text;
}

// pcap's file record header, as written by the capturing host.
struct RecordHeader {
  uint32_t seconds, fraction, caplen, len;
};

bool write_all(int fd, const char *data, size_t size) {
  while (size) {
    ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= (size_t)n;
  }
  return true;
}

void close_stream(StreamFds &s) {
  if (s.records >= 0) close(s.records);
  if (s.frames >= 0) close(s.frames);
  s = StreamFds();
}

}  // namespace

std::vector<InterfaceInfo> list_interfaces(std::string &error) {
  std::vector<InterfaceInfo> out;
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_if_t *all = nullptr;
  if (pcap_findalldevs(&all, errbuf) != 0) {
    error = errbuf;
    return out;
  }
  for (pcap_if_t *d = all; d; d = d->next) {
    InterfaceInfo info;
    info.name = d->name;
    info.description = d->description ? d->description : "";
    info.loopback = d->flags & PCAP_IF_LOOPBACK;
    info.up = d->flags & PCAP_IF_UP;
    info.running = d->flags & PCAP_IF_RUNNING;
    for (pcap_addr_t *a = d->addresses; a; a = a->next) {
      if (!a->addr) continue;
      std::string text = address_text(a->addr);
      if (!text.empty()) info.addresses.push_back(text);
    }
    out.push_back(std::move(info));
  }
  pcap_freealldevs(all);
  return out;
}

std::unique_ptr<LiveCapture> LiveCapture::open(const LiveOptions &options, LiveError &error) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p;
  if (!options.source_file.empty()) {
    p = pcap_open_offline_with_tstamp_precision(options.source_file.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) {
      error = {ErrorCode::kCaptureError, "cannot read " + options.source_file + ": " + errbuf};
      return nullptr;
    }
  } else {
    p = pcap_create(options.interface.c_str(), errbuf);
    if (!p) {
      error = {ErrorCode::kCaptureError, std::string("cannot capture on ") + options.interface + ": " + errbuf};
      return nullptr;
    }
    // pcap_dispatch returns at least every 100 ms, so stop and the statistics are timely.
    // These fail only on a handle already activated (libpcap 1.11 warns when unchecked).
    if (pcap_set_snaplen(p, options.snaplen) != 0 || pcap_set_promisc(p, options.promisc ? 1 : 0) != 0 ||
        pcap_set_buffer_size(p, options.buffer_bytes) != 0 || pcap_set_timeout(p, 100) != 0) {
      error = {ErrorCode::kCaptureError, std::string("cannot set up the capture on ") + options.interface + ": " + pcap_geterr(p)};
      pcap_close(p);
      return nullptr;
    }
    if (pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) != 0) {
      // not supported here: microseconds, which pcap gives by default
    }
    int status = pcap_activate(p);
    if (status < 0) {
      std::string detail = pcap_geterr(p);
      const std::string &nic = options.interface;
      if (status == PCAP_ERROR_NO_SUCH_DEVICE)
        error = {ErrorCode::kNoSuchDevice, "no interface " + nic + " to capture on (see --list-interfaces)"};
      else if (status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED)
        error = {ErrorCode::kCapturePermission, "no permission to capture on " + nic +
                                   ": run espcap as root, or give it CAP_NET_RAW and CAP_NET_ADMIN"};
      else if (status == PCAP_ERROR_IFACE_NOT_UP)
        error = {ErrorCode::kCaptureError, "interface " + nic + " is down"};
      else
        error = {ErrorCode::kCaptureError, "cannot capture on " + nic + ": " + (detail.empty() ? pcap_statustostr(status) : detail)};
      pcap_close(p);
      return nullptr;
    }
  }
  if (!options.bpf.empty()) {
    struct bpf_program program;
    if (pcap_compile(p, &program, options.bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      error = {ErrorCode::kBadBpf, "invalid --bpf expression \"" + options.bpf + "\": " + pcap_geterr(p)};
      pcap_close(p);
      return nullptr;
    }
    int set = pcap_setfilter(p, &program);
    pcap_freecode(&program);
    if (set != 0) {
      error = {ErrorCode::kBadBpf, "cannot apply --bpf \"" + options.bpf + "\": " + pcap_geterr(p)};
      pcap_close(p);
      return nullptr;
    }
  }
  return std::unique_ptr<LiveCapture>(new LiveCapture(p, options));
}

LiveCapture::LiveCapture(pcap_t *pcap, const LiveOptions &options)
    : pcap_(pcap), options_(options), link_type_(pcap_datalink(pcap)),
      nanoseconds_(pcap_get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO), paced_(!options.source_file.empty()),
      flow_hash_(link_type_) {}

LiveCapture::~LiveCapture() {
  stop();
  if (capture_thread_.joinable()) capture_thread_.join();
  for (auto &lane : lanes_) {
    if (lane->writer.joinable()) lane->writer.join();
    close_stream(lane->stream);
    close_stream(lane->next);
  }
  pcap_close(pcap_);
}

void LiveCapture::start(const std::vector<StreamFds> &streams) {
  for (const StreamFds &stream : streams) {
    lanes_.push_back(std::make_unique<Lane>());
    lanes_.back()->stream = stream;
  }
  for (auto &owned : lanes_) {
    Lane &lane = *owned;
    write_header(lane.stream.records);
    lane.writer = std::thread([this, &lane] { writer_loop(lane); });
  }
  capture_thread_ = std::thread([this] { capture_loop(); });
}

void LiveCapture::switch_to(uint32_t worker, StreamFds stream) {
  Lane &lane = *lanes_[worker];
  std::lock_guard<std::mutex> lock(lane.mutex);
  close_stream(lane.next);
  lane.next = stream;
  lane.switched_at = -1;
  lane.cv.notify_all();
}

int64_t LiveCapture::switched_at(uint32_t worker) const { return lanes_[worker]->switched_at.load(); }

LiveCapture::WorkerStats LiveCapture::worker_stats(uint32_t worker) const {
  const Lane &lane = *lanes_[worker];
  return {lane.captured.load(), lane.written.load(), lane.queue_drops.load(), lane.queued_bytes.load()};
}

void LiveCapture::stop() {
  if (stopping_.exchange(true)) return;
  pcap_breakloop(pcap_);
  for (auto &lane : lanes_) {  // a paced capture may be waiting for room
    std::lock_guard<std::mutex> lock(lane->mutex);
    lane->cv.notify_all();
  }
}

std::string LiveCapture::error() const {
  std::lock_guard<std::mutex> lock(error_mutex_);
  return error_;
}

void LiveCapture::capture_loop() {
  auto handler = [](u_char *user, const struct pcap_pkthdr *header, const u_char *data) {
    reinterpret_cast<LiveCapture *>(user)->append(header, data);
  };
  auto last_stats = std::chrono::steady_clock::now();
  while (!stopping_) {
    int n = pcap_dispatch(pcap_, paced_ ? 256 : -1, handler, reinterpret_cast<u_char *>(this));
    // Partly filled blocks go too: a quiet link's packets are not held back.
    if (!paced_) for (auto &lane : lanes_) hand_over(*lane);
    if (n == PCAP_ERROR) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      error_ = std::string("capture on ") + options_.interface + " failed: " + pcap_geterr(pcap_);
      break;
    }
    if (paced_ && n == 0) break;  // the end of the source file
    if (options_.max_packets && captured >= options_.max_packets) break;
    auto now = std::chrono::steady_clock::now();
    if (!paced_ && now - last_stats >= std::chrono::milliseconds(100)) {
      update_stats();
      last_stats = now;
    }
  }
  if (!paced_) update_stats();
  for (auto &lane : lanes_) hand_over(*lane);
  capture_done_ = true;
  for (auto &lane : lanes_) {
    std::lock_guard<std::mutex> lock(lane->mutex);
    lane->cv.notify_all();
  }
}

void LiveCapture::append(const struct pcap_pkthdr *header, const u_char *data) {
  if (options_.max_packets && captured >= options_.max_packets) {
    pcap_breakloop(pcap_);
    return;
  }
  Lane &lane = *lanes_[lanes_.size() == 1 ? 0 : flow_hash_(data, header->caplen) % lanes_.size()];
  size_t size = sizeof(RecordHeader) + header->caplen;
  if (lane.queued_bytes + lane.current.bytes.size() + size > options_.queue_bytes) {
    if (!paced_) {
      lane.queue_drops++;
      return;
    }
    for (auto &other : lanes_) hand_over(*other);  // the other workers are not kept waiting meanwhile
    std::unique_lock<std::mutex> lock(lane.mutex);
    lane.cv.wait(lock, [&] { return stopping_ || lane.queue.empty() || lane.queued_bytes + size <= options_.queue_bytes; });
    if (stopping_) return;
  }
  if (lane.current.bytes.empty()) {
    lane.current.bytes.reserve(kBlockBytes + 65536);
    lane.current.frames.reserve(kBlockRecords * sizeof(FrameNote));
  }
  RecordHeader r{(uint32_t)header->ts.tv_sec, (uint32_t)header->ts.tv_usec, header->caplen, header->len};
  lane.current.bytes.append(reinterpret_cast<const char *>(&r), sizeof r);
  lane.current.bytes.append(reinterpret_cast<const char *>(data), header->caplen);
  int64_t ns = (int64_t)header->ts.tv_sec * 1000000000 + (int64_t)header->ts.tv_usec * (nanoseconds_ ? 1 : 1000);
  if (captured == 0) first_ns_ = ns;
  FrameNote note{++captured, previous_ns_, first_ns_};
  lane.current.frames.append(reinterpret_cast<const char *>(&note), sizeof note);
  previous_ns_ = ns;
  lane.current.records++;
  lane.captured++;
  if (lane.current.bytes.size() >= kBlockBytes || lane.current.records >= kBlockRecords) hand_over(lane);
}

void LiveCapture::hand_over(Lane &lane) {
  if (!lane.current.records) return;
  std::lock_guard<std::mutex> lock(lane.mutex);
  lane.queued_bytes += lane.current.bytes.size();
  lane.queue.push_back(std::move(lane.current));
  lane.current = Block();
  lane.cv.notify_all();
}

void LiveCapture::update_stats() {
  struct pcap_stat st;
  if (pcap_stats(pcap_, &st) != 0) return;
  kernel_received = st.ps_recv;
  kernel_drops = st.ps_drop;
  interface_drops = st.ps_ifdrop;
}

void LiveCapture::write_header(int fd) {
  struct {
    uint32_t magic;
    uint16_t major, minor;
    int32_t zone;
    uint32_t sigfigs, snaplen, linktype;
  } h{nanoseconds_ ? 0xa1b23c4du : 0xa1b2c3d4u, 2, 4, 0, 0, (uint32_t)options_.snaplen, (uint32_t)link_type_};
  write_all(fd, reinterpret_cast<const char *>(&h), sizeof h);
}

void LiveCapture::writer_loop(Lane &lane) {
  std::unique_lock<std::mutex> lock(lane.mutex);
  for (;;) {
    lane.cv.wait(lock, [&] { return !lane.queue.empty() || capture_done_ || lane.next.records >= 0; });
    if (lane.next.records >= 0) {
      // Between two blocks: the old stream ends after a whole record.
      close_stream(lane.stream);
      lane.stream = lane.next;
      lane.next = StreamFds();
      lock.unlock();
      write_header(lane.stream.records);
      lane.switched_at = (int64_t)lane.written.load();
      lock.lock();
      continue;
    }
    if (lane.queue.empty()) break;  // capture is done and everything is written
    Block block = std::move(lane.queue.front());
    lane.queue.pop_front();
    lock.unlock();
    // The notes first: a reader finds the note of every record it reads.
    // A reader that went away (a dissecting process that died) loses this block; it is counted.
    bool sent = write_all(lane.stream.frames, block.frames.data(), block.frames.size()) &&
                write_all(lane.stream.records, block.bytes.data(), block.bytes.size());
    (sent ? lane.written : lane.queue_drops) += block.records;
    lane.queued_bytes -= block.bytes.size();
    lock.lock();
    lane.cv.notify_all();  // a paced capture may wait for room
  }
  close_stream(lane.stream);
  finished_lanes++;
}
