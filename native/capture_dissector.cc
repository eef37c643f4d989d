#include "capture_dissector.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <epan/dfilter/dfilter.h>
#include <epan/epan_dissect.h>
#include <epan/frame_data.h>
#include <wiretap/wtap.h>

#include "capture_parts.h"
#include "frame_note.h"
#include "json_text.h"
#include "layer_writer.h"
#include "wireshark_compat.h"
#include "wiretap_error.h"

// epan leaves this struct to the application: it answers epan's questions
// about other frames (time references) and about capture interfaces.
struct packet_provider_data {
  wtap *wth = nullptr;
  const frame_data *ref = nullptr;
  frame_data *prev_dis = nullptr;
  frame_data *prev_cap = nullptr;
  frame_data ref_frame{};
  frame_data prev_dis_frame{};
  frame_data prev_cap_frame{};
  // Live, several workers: the frame before the current one may be another
  // worker's; its time came with the current frame's note.
  guint32 noted_num = 0;
  nstime_t noted_ts{};
};

namespace {

const std::string kNoProtocol = "unknown";

// A number as JavaScript prints it below 1e21: the shortest digits that read
// back as the same double, in fixed notation.
void append_number(std::string &out, double value) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  out.append(buf, r.ptr);
}

nstime_t nstime_from_ns(int64_t ns) { return {(time_t)(ns / 1000000000), (int)(ns % 1000000000)}; }

const nstime_t *provider_frame_ts(packet_provider_data *prov, guint32 frame_num) {
  if (prov->ref && prov->ref->num == frame_num) return &prov->ref->abs_ts;
  if (prov->prev_dis && prov->prev_dis->num == frame_num) return &prov->prev_dis->abs_ts;
  if (prov->prev_cap && prov->prev_cap->num == frame_num) return &prov->prev_cap->abs_ts;
  if (prov->noted_num && prov->noted_num == frame_num) return &prov->noted_ts;
  return nullptr;
}

wtap_block_t interface_block(packet_provider_data *prov, guint32 interface_id) {
  if (!prov->wth) return nullptr;  // records handed over without a file have no interfaces
  wtapng_iface_descriptions_t *idb_info = wtap_file_get_idb_info(prov->wth);
  wtap_block_t block = nullptr;
  if (interface_id < idb_info->interface_data->len)
    block = g_array_index(idb_info->interface_data, wtap_block_t, interface_id);
  g_free(idb_info);
  return block;
}

const char *provider_interface_option(packet_provider_data *prov, guint32 interface_id, guint option) {
  char *value = nullptr;
  wtap_block_t block = interface_block(prov, interface_id);
  if (block && wtap_block_get_string_option_value(block, option, &value) == WTAP_OPTTYPE_SUCCESS) return value;
  return nullptr;
}

const char *provider_interface_name(packet_provider_data *prov, guint32 interface_id) {
  const char *name = provider_interface_option(prov, interface_id, OPT_IDB_NAME);
  return name ? name : "unknown";
}

const char *provider_interface_description(packet_provider_data *prov, guint32 interface_id) {
  return provider_interface_option(prov, interface_id, OPT_IDB_DESCRIPTION);
}

const packet_provider_funcs kProviderFuncs =
    ws_compat::provider_funcs<provider_frame_ts, provider_interface_name, provider_interface_description>();

// The notes a live stream's records carry beside it, read in chunks.
class FrameNotes {
 public:
  explicit FrameNotes(int fd) : fd_(fd) {}
  ~FrameNotes() { close(fd_); }
  // The next record's note; false at the end of the pipe or on an error.
  bool next(FrameNote &note) {
    while (end_ - at_ < sizeof note) {
      memmove(buffer_, buffer_ + at_, end_ - at_);
      end_ -= at_;
      at_ = 0;
      ssize_t n = read(fd_, buffer_ + end_, sizeof buffer_ - end_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      end_ += (size_t)n;
    }
    memcpy(&note, buffer_ + at_, sizeof note);
    at_ += sizeof note;
    return true;
  }

 private:
  int fd_;
  char buffer_[65536];
  size_t at_ = 0, end_ = 0;
};

}  // namespace

struct CaptureDissector::State {
  CaptureOptions options;
  packet_provider_data provider;
  wtap *wth = nullptr;
  int file_type_subtype = 0;
  epan_t *session = nullptr;
  epan_dissect_t *edt = nullptr;
  dfilter_t *filter = nullptr;
  ws_compat::Record record;
  uint64_t records = 0;            // read so far; of a file, also the frame number of the last one
  std::unique_ptr<FrameNotes> frame_notes;  // a live stream's
  uint64_t records_in_session = 0;
  uint64_t session_start_frame = 0;  // the frame number of the session's first record
  uint64_t resets = 0;
  guint32 cum_bytes = 0;
  nstime_t elapsed = NSTIME_INIT_ZERO;
  LayerWriter &writer;
  std::string iso;  // the current packet's timestamp
  std::unique_ptr<PartStream> part_stream;  // reading a part: destroyed after wiretap closed it (members go after ~State's body)

  explicit State(const CaptureOptions &o) : options(o), writer(LayerWriter::for_engine(o.max_bytes)) {
    if (o.frame_notes_fd >= 0) frame_notes = std::make_unique<FrameNotes>(o.frame_notes_fd);
  }

  ~State() {
    close_session();
    if (filter) dfilter_free(filter);
    if (wth) wtap_close(wth);
  }

  void open_session() {
    session = epan_new(&provider, &kProviderFuncs);
    // Full, visible tree: without it epan prunes every field no filter asked for.
    edt = epan_dissect_new(session, TRUE, TRUE);
    provider.ref = nullptr;
    provider.prev_dis = nullptr;
    provider.prev_cap = nullptr;
    records_in_session = 0;
  }

  void close_session() {
    if (edt) epan_dissect_free(edt);
    if (session) epan_free(session);
    edt = nullptr;
    session = nullptr;
  }

  bool compile_filter(CaptureError &error) {
    if (options.display_filter.empty()) return true;
    std::string message;
    if (ws_compat::compile_filter(options.display_filter.c_str(), &filter, message)) return true;
    error.code = ErrorCode::kBadFilter;
    error.message = "invalid display filter \"" + options.display_filter + "\": " + message;
    return false;
  }

  void reset_if_due() {
    if (options.session_packets && records_in_session >= options.session_packets) {
      // Like tshark -M: drop conversation and reassembly state to bound memory.
      close_session();
      open_session();
      resets++;
    }
  }

  // `number`: the record's frame number.
  Step dissect(wtap_rec *rec, const uint8_t *data, gint64 offset, PacketBatch &batch, uint64_t number);

  std::string file_type() const { return wtap_file_type_subtype_name(file_type_subtype); }
};

CaptureDissector::CaptureDissector(std::unique_ptr<State> state) : state_(std::move(state)) {}
CaptureDissector::~CaptureDissector() = default;

std::unique_ptr<CaptureDissector> CaptureDissector::open(const CaptureOptions &options, CaptureError &error) {
  auto state = std::make_unique<State>(options);
  if (!state->compile_filter(error)) return nullptr;

  // wiretap takes an empty file for an ERF capture with no packets; it is a
  // broken capture (nothing was ever written to it), not an empty one.
  struct stat st;
  if (stat(options.path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
    error.code = ErrorCode::kEmpty;
    error.message = "the file is empty (no capture header)";
    return nullptr;
  }

  std::string path = options.path;
  if (options.part) {
    const CaptureOptions::Part &part = *options.part;
    state->part_stream = PartStream::open(options.path, part.header_bytes, part.start, part.end, error);
    if (!state->part_stream) return nullptr;
    path = state->part_stream->path();
    state->records = part.first_record;
  }
  int err = 0;
  gchar *err_info = nullptr;
  state->wth = wtap_open_offline(path.c_str(), WTAP_TYPE_AUTO, &err, &err_info, FALSE);
  if (!state->wth) {
    error = wiretap_error(err, err_info, true);
    return nullptr;
  }
  state->provider.wth = state->wth;
  state->file_type_subtype = wtap_file_type_subtype(state->wth);
  if (options.part && state->file_type() != options.part->file_type) {
    error = {ErrorCode::kReadError, "a part of the capture reads as " + state->file_type() + ", the whole file as " +
                                        options.part->file_type + ": read it with --workers 1"};
    return nullptr;
  }
  state->open_session();

  // Resuming after the previous process was recycled: skip what it finished.
  gint64 offset;
  while (state->records < options.skip_records) {
    if (!state->record.read(state->wth, &err, &err_info, &offset)) {
      if (err) { error = wiretap_error(err, err_info, false); return nullptr; }
      break;
    }
    state->record.reset();
    state->records++;
  }
  return std::unique_ptr<CaptureDissector>(new CaptureDissector(std::move(state)));
}

std::unique_ptr<CaptureDissector> CaptureDissector::without_file(const CaptureOptions &options, CaptureError &error) {
  auto state = std::make_unique<State>(options);
  if (!state->compile_filter(error)) return nullptr;
  state->file_type_subtype = wtap_pcap_file_type_subtype();
  state->open_session();
  return std::unique_ptr<CaptureDissector>(new CaptureDissector(std::move(state)));
}

CaptureDissector::Step CaptureDissector::next(PacketBatch &batch, CaptureError &error) {
  State &s = *state_;
  int err = 0;
  gchar *err_info = nullptr;
  gint64 offset = 0;
  if (!s.record.read(s.wth, &err, &err_info, &offset)) {
    if (err == 0) return Step::kEnd;
    error = wiretap_error(err, err_info, false);
    return Step::kError;
  }
  // Only once there is a record to dissect: a capture (or a part) that ends
  // at a session boundary starts no session it would not use (each new
  // session costs libwireshark 4.0 about 11 MB it keeps, EPAN-NOTES).
  s.reset_if_due();
  uint64_t number = s.records + 1;
  if (s.frame_notes) {
    FrameNote note;
    if (!s.frame_notes->next(note)) {
      error = {ErrorCode::kReadError, "the live stream's frame numbers ended before its packets"};
      return Step::kError;
    }
    number = note.number;
    s.provider.noted_num = (guint32)(number - 1);
    s.provider.noted_ts = nstime_from_ns(note.previous_ns);
    if (!s.provider.ref) {
      // Times are relative to the capture's first packet (frame 1), in every
      // worker and every session, as in a capture read in one go.
      s.provider.ref_frame = frame_data{};
      s.provider.ref_frame.num = 1;
      s.provider.ref_frame.abs_ts = nstime_from_ns(note.first_ns);
      s.provider.ref = &s.provider.ref_frame;
    }
  }
  Step step = s.dissect(s.record.rec(), s.record.data(), offset, batch, number);
  s.record.reset();
  return step;
}

CaptureDissector::Step CaptureDissector::dissect_record(wtap_rec *rec, const uint8_t *data, PacketBatch &batch) {
  state_->reset_if_due();
  return state_->dissect(rec, data, 0, batch, state_->records + 1);
}

// One record, read from the file or handed over: dissected as the next frame,
// its document appended to `batch` if it passes the filter.
CaptureDissector::Step CaptureDissector::State::dissect(wtap_rec *rec, const uint8_t *data, gint64 offset, PacketBatch &batch,
                                                       uint64_t number) {
  State &s = *this;
  s.records++;
  // Per-session counters such as tcp.stream start again with every session:
  // documents carry where theirs started, so that the two identify a stream.
  if (s.records_in_session++ == 0) s.session_start_frame = number;

  frame_data fd;
  // A live worker's numbers have gaps (the other workers' packets): epan only
  // needs them to grow, as they do.
  frame_data_init(&fd, (guint32)number, rec, offset, s.cum_bytes);
  frame_data_set_before_dissect(&fd, &s.elapsed, &s.provider.ref, s.provider.prev_dis);
  if (s.provider.ref == &fd) {
    s.provider.ref_frame = fd;
    s.provider.ref = &s.provider.ref_frame;
  }
  if (s.filter) epan_dissect_prime_with_dfilter(s.edt, s.filter);
  ws_compat::dissect(s.edt, s.file_type_subtype, rec, data, &fd);
  bool passed = !s.filter || dfilter_apply_edt(s.filter, s.edt);

  if (passed) {
    frame_data_set_after_dissect(&fd, &s.cum_bytes);
    std::string &text = batch.text;
    // A record without a time (a pcapng block that is not a packet) is put at
    // the epoch; wiretap may leave an earlier record's time in it.
    nstime_t ts = fd.has_ts ? fd.abs_ts : nstime_t{0, 0};
    bool has_if = rec->rec_type == REC_TYPE_PACKET && (rec->presence_flags & WTAP_HAS_INTERFACE_ID);
    // The document line, and where its parts start: see PacketBatch::Span.
    size_t spans = batch.offsets.size();
    batch.offsets.resize(spans + PacketBatch::kSpansPerPacket);
    auto mark = [&](PacketBatch::Span span) { batch.offsets[spans + span] = (uint32_t)text.size(); };
    s.iso.clear();
    if (!json_text::append_iso_time(s.iso, ts.secs, ts.nsecs)) s.iso = "1970-01-01T00:00:00.000000000Z";
    mark(PacketBatch::kHead);
    text.append("{\"@timestamp\":\"");
    mark(PacketBatch::kTimestamp);
    text.append(s.iso);
    // Epoch milliseconds as a JavaScript number prints them: shortest round trip, fixed notation.
    text.append("\",\"sniff_timestamp\":");
    append_number(text, (double)ts.secs * 1000 + (double)ts.nsecs / 1e6);
    text.append(",\"sniff_date_utc\":\"").append(s.iso, 0, 19).append("\"");
    text.append(s.options.document_fields);
    text.append(",\"frame_number\":");
    append_number(text, (double)number);
    text.append(",\"session_start_frame\":");
    append_number(text, (double)s.session_start_frame);
    text.append(",\"captured_length\":");
    append_number(text, (double)fd.cap_len);
    text.append(",\"length\":");
    append_number(text, (double)fd.pkt_len);
    if (has_if) {
      text.append(",\"interface_id\":");
      append_number(text, (double)rec->rec_header.packet_header.interface_id);
    }
    text.append(",\"layers\":");
    mark(PacketBatch::kLayers);
    const std::string *protocol = &kNoProtocol;
    if (!s.options.dissect_only) {
      protocol = &s.writer.write(s.edt->tree, text);
      s.writer.take_new_fields(batch.new_fields);
    } else {
      text.append("{}");
    }
    mark(PacketBatch::kTail);
    text.append(",\"protocol\":\"");
    mark(PacketBatch::kProtocol);
    text.append(*protocol).append("\"");
    if (!s.options.dissect_only) {
      s.writer.append_protocols(text);
      s.writer.append_ecs_fields(text, *protocol);
    }
    text.append("}\n");
    double meta[PacketBatch::kMetaPerPacket];
    meta[PacketBatch::kFrameNumber] = (double)number;
    meta[PacketBatch::kSeconds] = (double)ts.secs;
    meta[PacketBatch::kNanoseconds] = (double)ts.nsecs;
    meta[PacketBatch::kCapturedLength] = (double)fd.cap_len;
    meta[PacketBatch::kOriginalLength] = (double)fd.pkt_len;
    meta[PacketBatch::kInterfaceId] = has_if ? (double)rec->rec_header.packet_header.interface_id : -1;
    batch.meta.insert(batch.meta.end(), meta, meta + PacketBatch::kMetaPerPacket);
    batch.count++;
    s.provider.prev_dis_frame = fd;
    s.provider.prev_dis = &s.provider.prev_dis_frame;
  }
  s.provider.prev_cap_frame = fd;
  s.provider.prev_cap = &s.provider.prev_cap_frame;
  epan_dissect_reset(s.edt);
  frame_data_destroy(&fd);
  return passed ? Step::kPacket : Step::kFiltered;
}

uint64_t CaptureDissector::records_read() const { return state_->records; }
uint64_t CaptureDissector::session_resets() const { return state_->resets; }
uint64_t CaptureDissector::bytes_read() const {
  if (!state_->wth) return 0;
  gint64 n = wtap_read_so_far(state_->wth);
  if (state_->part_stream && n > (gint64)state_->options.part->header_bytes) n += state_->part_stream->file_offset();
  return n > 0 ? (uint64_t)n : 0;
}
std::string CaptureDissector::file_type() const { return state_->file_type(); }
std::string CaptureDissector::link_type() const {
  if (!state_->wth) return "unknown";
  const char *name = wtap_encap_name(wtap_file_encap(state_->wth));
  return name ? name : "unknown";
}

std::string check_display_filter(const std::string &filter) {
  dfilter_t *compiled = nullptr;
  std::string message;
  if (ws_compat::compile_filter(filter.c_str(), &compiled, message)) {
    dfilter_free(compiled);  // null for an empty filter; dfilter_free takes that
    return "";
  }
  for (char &c : message)
    if (c == '\n' || c == '\r') c = ' ';
  return message;
}
