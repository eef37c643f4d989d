#include "capture_parts.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <wiretap/wtap.h>

#include "wireshark_compat.h"
#include "wiretap_error.h"

namespace {

// Formats whose parts read as captures of their own once the header is put in front.
bool splittable_format(const std::string &name) { return name == "pcap" || name == "nsecpcap" || name == "pcapng"; }

guint interface_count(wtap *wth) {
  wtapng_iface_descriptions_t *idb = wtap_file_get_idb_info(wth);
  guint n = idb->interface_data->len;
  g_free(idb);
  return n;
}

}  // namespace

bool plan_capture_parts(const std::string &path, uint64_t every, CapturePlan &plan, NativeError &error) {
  int err = 0;
  gchar *err_info = nullptr;
  wtap *wth = wtap_open_offline(path.c_str(), WTAP_TYPE_AUTO, &err, &err_info, FALSE);
  if (!wth) {
    error = wiretap_error(err, err_info, true);
    return false;
  }
  plan.file_type = wtap_file_type_subtype_name(wtap_file_type_subtype(wth));
  if (wtap_get_compression_type(wth) != WTAP_UNCOMPRESSED) {
    plan.whole_reason = "it is compressed (a compressed file cannot be read from a point in its middle)";
  } else if (!splittable_format(plan.file_type)) {
    plan.whole_reason = "its format (" + plan.file_type + ") is read whole";
  } else {
    ws_compat::Record record;
    gint64 offset = 0;
    guint interfaces = 0;
    while (record.read(wth, &err, &err_info, &offset)) {
      record.reset();
      if (plan.records == 0) {
        plan.header_bytes = (uint64_t)offset;
        interfaces = interface_count(wth);
      } else if (plan.records % every == 0) {
        plan.starts.push_back((uint64_t)offset);
      }
      plan.records++;
    }
    g_free(err_info);  // a read error ends the plan; the last part meets it again
    // A part's stream carries only what precedes the first packet: interfaces
    // or sections described later would be missing from it.
    if (plan.records && (interface_count(wth) != interfaces || wtap_file_get_num_shbs(wth) != 1))
      plan.whole_reason = "it describes interfaces or sections after its first packet";
  }
  if (!plan.whole_reason.empty()) plan.starts.clear();
  wtap_close(wth);
  return true;
}

std::unique_ptr<PartStream> PartStream::open(const std::string &file, uint64_t header_bytes, uint64_t start, uint64_t end,
                                             NativeError &error) {
  std::unique_ptr<PartStream> s(new PartStream());
  s->header_bytes_ = header_bytes;
  s->start_ = start;
  s->end_ = end;
  s->file_fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  int fds[2];
  if (s->file_fd_ < 0 || pipe2(fds, O_CLOEXEC) != 0) {
    error = {s->file_fd_ < 0 && errno == ENOENT ? ErrorCode::kNoSuchFile : ErrorCode::kOpenError,
             std::string("cannot read a part of the capture: ") + strerror(errno)};
    return nullptr;
  }
  s->read_fd_ = fds[0];
  s->write_fd_ = fds[1];
  fcntl(s->write_fd_, F_SETPIPE_SZ, 1 << 20);
  s->feeder_ = std::thread([p = s.get()] { p->feed(); });
  return s;
}

PartStream::~PartStream() {
  // wiretap has closed its end: a feeder still writing gets EPIPE and ends.
  if (read_fd_ >= 0) close(read_fd_);
  if (feeder_.joinable()) feeder_.join();
  if (file_fd_ >= 0) close(file_fd_);
}

std::string PartStream::path() const { return "/proc/self/fd/" + std::to_string(read_fd_); }

void PartStream::feed() {
  // A reader gone (the part ended early) is an EPIPE here, not a signal for the process.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  std::vector<char> buf(1 << 20);
  auto copy = [&](uint64_t from, uint64_t to) {  // to 0: the end of the file
    while (to == 0 || from < to) {
      size_t want = to ? std::min<uint64_t>(buf.size(), to - from) : buf.size();
      ssize_t n = pread(file_fd_, buf.data(), want, (off_t)from);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // the end of the file (or it cannot be read: wiretap sees the stream end)
      for (ssize_t done = 0; done < n;) {
        ssize_t w = write(write_fd_, buf.data() + done, (size_t)(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        done += w;
      }
      from += (uint64_t)n;
    }
    return true;
  };
  if (header_bytes_ == 0 || copy(0, header_bytes_)) copy(start_, end_);
  close(write_fd_);
  write_fd_ = -1;
}
