#include "frame_reader.h"

#include <unordered_map>

#include <wiretap/pcap-encap.h>
#include <wiretap/wtap.h>

#include "wireshark_compat.h"
#include "wiretap_error.h"

namespace {

// wiretap exports pcap -> wtap encapsulation only; the inverse, built once.
// Several LINKTYPEs can give one encapsulation: the lowest (the standard one) wins.
int pcap_link_type_of(int encap) {
  static const std::unordered_map<int, int> inverse = [] {
    std::unordered_map<int, int> map;
    for (int link_type = 0; link_type < 1024; link_type++) {
      int e = wtap_pcap_encap_to_wtap_encap(link_type);
      if (e != WTAP_ENCAP_UNKNOWN) map.emplace(e, link_type);
    }
    return map;
  }();
  auto it = inverse.find(encap);
  return it == inverse.end() ? -1 : it->second;
}

}  // namespace

std::unique_ptr<FrameReader> FrameReader::open(const std::string &path, NativeError &error) {
  int err = 0;
  gchar *err_info = nullptr;
  std::unique_ptr<FrameReader> reader(new FrameReader());
  reader->wth_ = wtap_open_offline(path.c_str(), WTAP_TYPE_AUTO, &err, &err_info, FALSE);
  if (!reader->wth_) {
    error = wiretap_error(err, err_info, true);
    return nullptr;
  }
  return reader;
}

FrameReader::~FrameReader() {
  if (wth_) wtap_close(wth_);
}

bool FrameReader::read(const std::vector<uint64_t> &frames, std::vector<RawFrame> &out, NativeError &error) {
  ws_compat::Record record;
  const wtap_rec &rec = *record.rec();
  bool ok = true;
  for (uint64_t wanted : frames) {
    while (!at_end_ && position_ < wanted) {
      int err = 0;
      gchar *err_info = nullptr;
      gint64 offset = 0;
      record.reset();
      if (!record.read(wth_, &err, &err_info, &offset)) {
        at_end_ = true;
        if (err) {
          error = wiretap_error(err, err_info, false);
          ok = false;
        }
        break;
      }
      position_++;
    }
    if (!ok || at_end_ || position_ != wanted) break;
    RawFrame f;
    f.frame = wanted;
    f.seconds = rec.ts.secs;
    f.nanoseconds = rec.ts.nsecs;
    if (rec.rec_type != REC_TYPE_PACKET) {
      f.link_type = -1;
      f.note = "not a packet record";
      f.length = 0;
    } else {
      const auto &h = rec.rec_header.packet_header;
      f.length = h.len;
      f.data.assign((const char *)record.data(), h.caplen);
      f.link_type = pcap_link_type_of(h.pkt_encap);
      // A pseudo-header wiretap took out of the stored bytes cannot be put back by copying them.
      if (f.link_type < 0 || wtap_encap_requires_phdr(h.pkt_encap)) {
        f.link_type = -1;
        f.note = std::string("its link type (") + wtap_encap_name(h.pkt_encap) + ") has no pcapng form without its pseudo-header";
      }
    }
    out.push_back(std::move(f));
  }
  return ok;
}
