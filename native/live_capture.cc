#include "live_capture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace {

constexpr size_t kBlockBytes = 1 << 20;  // records are written to the pipe in blocks up to this size

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
  pcap_t *p = pcap_create(options.interface.c_str(), errbuf);
  if (!p) {
    error = {ErrorCode::kCaptureError, std::string("cannot capture on ") + options.interface + ": " + errbuf};
    return nullptr;
  }
  pcap_set_snaplen(p, options.snaplen);
  pcap_set_promisc(p, options.promisc ? 1 : 0);
  pcap_set_buffer_size(p, options.buffer_bytes);
  // pcap_dispatch returns at least every 100 ms, so stop and the statistics are timely.
  pcap_set_timeout(p, 100);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);  // falls back to microseconds where unsupported
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
      nanoseconds_(pcap_get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO) {
  current_.bytes.reserve(kBlockBytes + 65536);
}

LiveCapture::~LiveCapture() {
  stop();
  if (capture_thread_.joinable()) capture_thread_.join();
  if (writer_thread_.joinable()) writer_thread_.join();
  pcap_close(pcap_);
  if (fd_ >= 0) close(fd_);
  if (next_fd_ >= 0) close(next_fd_);
}

void LiveCapture::start(int fd) {
  fd_ = fd;
  write_header(fd_);
  writer_thread_ = std::thread([this] { writer_loop(); });
  capture_thread_ = std::thread([this] { capture_loop(); });
}

void LiveCapture::switch_to(int fd) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (next_fd_ >= 0) close(next_fd_);
  next_fd_ = fd;
  switched_at_ = -1;
  cv_.notify_all();
}

void LiveCapture::stop() {
  if (stopping_.exchange(true)) return;
  pcap_breakloop(pcap_);
}

std::string LiveCapture::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

void LiveCapture::capture_loop() {
  auto handler = [](u_char *user, const struct pcap_pkthdr *header, const u_char *data) {
    reinterpret_cast<LiveCapture *>(user)->append(header, data);
  };
  auto last_stats = std::chrono::steady_clock::now();
  while (!stopping_) {
    int n = pcap_dispatch(pcap_, -1, handler, reinterpret_cast<u_char *>(this));
    hand_over_block();
    if (n == PCAP_ERROR) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::string("capture on ") + options_.interface + " failed: " + pcap_geterr(pcap_);
      break;
    }
    if (options_.max_packets && captured >= options_.max_packets) break;
    auto now = std::chrono::steady_clock::now();
    if (now - last_stats >= std::chrono::milliseconds(100)) {
      update_stats();
      last_stats = now;
    }
  }
  update_stats();
  hand_over_block();
  std::lock_guard<std::mutex> lock(mutex_);
  capture_done_ = true;
  cv_.notify_all();
}

void LiveCapture::append(const struct pcap_pkthdr *header, const u_char *data) {
  if (options_.max_packets && captured >= options_.max_packets) {
    pcap_breakloop(pcap_);
    return;
  }
  size_t size = sizeof(RecordHeader) + header->caplen;
  if (queued_bytes + current_.bytes.size() + size > options_.queue_bytes) {
    queue_drops++;
    return;
  }
  RecordHeader r{(uint32_t)header->ts.tv_sec, (uint32_t)header->ts.tv_usec, header->caplen, header->len};
  current_.bytes.append(reinterpret_cast<const char *>(&r), sizeof r);
  current_.bytes.append(reinterpret_cast<const char *>(data), header->caplen);
  current_.records++;
  captured++;
  if (current_.bytes.size() >= kBlockBytes) hand_over_block();
}

void LiveCapture::hand_over_block() {
  if (!current_.records) return;
  std::lock_guard<std::mutex> lock(mutex_);
  queued_bytes += current_.bytes.size();
  queue_.push_back(std::move(current_));
  current_ = Block();
  current_.bytes.reserve(kBlockBytes + 65536);
  cv_.notify_all();
}

void LiveCapture::update_stats() {
  struct pcap_stat st;
  if (pcap_stats(pcap_, &st) != 0) return;
  kernel_received = st.ps_recv;
  kernel_drops = st.ps_drop;
  interface_drops = st.ps_ifdrop;
}

bool LiveCapture::write_all(int fd, const char *data, size_t size) {
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

void LiveCapture::write_header(int fd) {
  struct {
    uint32_t magic;
    uint16_t major, minor;
    int32_t zone;
    uint32_t sigfigs, snaplen, linktype;
  } h{nanoseconds_ ? 0xa1b23c4du : 0xa1b2c3d4u, 2, 4, 0, 0, (uint32_t)options_.snaplen, (uint32_t)link_type_};
  write_all(fd, reinterpret_cast<const char *>(&h), sizeof h);
}

void LiveCapture::writer_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return !queue_.empty() || capture_done_ || next_fd_ >= 0; });
    if (next_fd_ >= 0) {
      // Between two blocks: the old stream ends after a whole record.
      close(fd_);
      fd_ = next_fd_;
      next_fd_ = -1;
      lock.unlock();
      write_header(fd_);
      switched_at_ = (int64_t)written.load();
      lock.lock();
      continue;
    }
    if (queue_.empty()) break;  // capture is done and everything is written
    Block block = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    // A reader that went away (a dissecting process that died) loses this block; it is counted.
    if (!write_all(fd_, block.bytes.data(), block.bytes.size())) queue_drops += block.records;
    else written += block.records;
    queued_bytes -= block.bytes.size();
    lock.lock();
  }
  close(fd_);
  fd_ = -1;
  finished = true;
}
