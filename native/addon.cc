// N-API surface of the engine; native/addon.d.ts declares it for TypeScript.
// Every call that makes epan work (dissecting, compiling a filter, listing
// fields) returns a promise at once; the work happens on the engine thread,
// and the promise settles on this thread when it is done. One crossing per
// batch of packets, never one per packet. Options objects are read by JsOptions (js_options.h), which
// refuses a missing, mistyped or unknown option; failures carry an ErrorCode
// (error_code.h) as `code`. Live capture: see live_binding.cc.
#include <napi.h>

#include <deque>
#include <mutex>

#include "document_contract.h"
#include "capture_parts.h"
#include "engine_thread.h"
#include "epan_runtime.h"
#include "frame_reader.h"
#include "js_options.h"

void register_live(Napi::Env env, Napi::Object exports);  // live_binding.cc

namespace {

EngineThread g_engine;
bool g_started = false;
bool g_initialised = false;
std::string g_version;

// Completions queued by the engine thread, run on the JavaScript thread.
Napi::ThreadSafeFunction g_wake;
std::mutex g_completions_mutex;
std::deque<std::function<void(Napi::Env)>> g_completions;
int g_pending = 0;  // promises waiting on the engine; the event loop stays alive while > 0

void post_to_js(std::function<void(Napi::Env)> fn) {
  {
    std::lock_guard<std::mutex> lock(g_completions_mutex);
    g_completions.push_back(std::move(fn));
  }
  g_wake.NonBlockingCall([](Napi::Env env, Napi::Function) {
    std::deque<std::function<void(Napi::Env)>> ready;
    {
      std::lock_guard<std::mutex> lock(g_completions_mutex);
      ready.swap(g_completions);
    }
    for (auto &f : ready) f(env);
  });
}

void hold(Napi::Env env) {
  if (g_pending++ == 0) g_wake.Ref(env);
}
void release(Napi::Env env) {
  if (--g_pending == 0) g_wake.Unref(env);
}

Napi::Error native_error(Napi::Env env, ErrorCode code, const std::string &message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", error_code_name(code));
  return err;
}

Napi::Error capture_error(Napi::Env env, const CaptureError &e) { return native_error(env, e.code, e.message); }

// A promise rejected at once, for calls made before init() or out of turn.
Napi::Value rejected(Napi::Env env, const std::string &message) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(native_error(env, ErrorCode::kEngineError, message).Value());
  return deferred.Promise();
}

void ensure_started(Napi::Env env) {
  if (g_started) return;
  g_wake = Napi::ThreadSafeFunction::New(env, Napi::Function(), "espcap-engine", 0, 1);
  g_wake.Unref(env);
  g_engine.start();
  g_started = true;
  env.AddCleanupHook([] {
    g_engine.stop();
    g_wake.Abort();
  });
}

Napi::Value Init(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  JsOptions o(info, "init");
  RuntimeOptions options;
  options.config_dir = o.string("configDir");
  o.finish();
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
  if (g_initialised) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("version", g_version);
    deferred->Resolve(result);
    return deferred->Promise();
  }
  ensure_started(env);
  hold(env);
  g_engine.post([options, deferred] {
    std::string error;
    bool ok = runtime_init(options, error);
    std::string version = ok ? runtime_version() : "";
    post_to_js([ok, error, version, deferred](Napi::Env env) {
      release(env);
      if (!ok) { deferred->Reject(native_error(env, ErrorCode::kEngineError, error).Value()); return; }
      g_initialised = true;
      g_version = version;
      Napi::Object result = Napi::Object::New(env);
      result.Set("version", version);
      deferred->Resolve(result);
    });
  });
  return deferred->Promise();
}

Napi::Value FieldRegistry(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!g_initialised) return rejected(env, "fieldRegistry(): the engine is not initialised");
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
  hold(env);
  g_engine.post([deferred] {
    auto text = std::make_shared<std::string>(runtime_field_registry());
    post_to_js([deferred, text](Napi::Env env) {
      release(env);
      deferred->Resolve(Napi::String::New(env, *text));
    });
  });
  return deferred->Promise();
}

Napi::Value BatchToJs(Napi::Env env, std::unique_ptr<PacketBatch> batch) {
  Napi::Object out = Napi::Object::New(env);
  uint32_t count = batch->count;
  auto offsets = Napi::Uint32Array::New(env, batch->offsets.size() + 1);
  std::copy(batch->offsets.begin(), batch->offsets.end(), offsets.Data());
  offsets[batch->offsets.size()] = (uint32_t)batch->text.size();
  auto meta = Napi::Float64Array::New(env, batch->meta.size());
  std::copy(batch->meta.begin(), batch->meta.end(), meta.Data());
  // The text is handed over without a copy; the batch is freed when JavaScript drops it.
  PacketBatch *raw = batch.release();
  auto text = Napi::Buffer<char>::New(env, raw->text.data(), raw->text.size(),
                                      [](Napi::Env, char *, PacketBatch *b) { delete b; }, raw);
  out.Set("count", count);
  out.Set("text", text);
  out.Set("offsets", offsets);
  out.Set("meta", meta);
  out.Set("newFields", Napi::String::New(env, raw->new_fields));
  return out;
}

// Settles a pending next() from what the reader has: a batch, the end (null), or its error.
bool settle(Napi::Env env, ReaderCore &core, Napi::Promise::Deferred &deferred) {
  if (auto batch = core.take()) {
    deferred.Resolve(BatchToJs(env, std::move(batch)));
    return true;
  }
  if (!core.finished()) return false;
  if (auto err = core.error()) deferred.Reject(capture_error(env, *err).Value());
  else deferred.Resolve(env.Null());
  return true;
}

struct ReaderHandle {
  std::shared_ptr<ReaderCore> core;
  std::shared_ptr<Napi::Promise::Deferred> waiting;  // a next() not settled yet
};

Napi::Object MakeReader(Napi::Env env, std::shared_ptr<ReaderHandle> handle) {
  Napi::Object reader = Napi::Object::New(env);
  reader.Set("next", Napi::Function::New(env, [handle](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Env env = info.Env();
    auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
    if (handle->waiting) {
      deferred->Reject(native_error(env, ErrorCode::kEngineError, "next() called while another next() is pending").Value());
    } else if (!settle(env, *handle->core, *deferred)) {
      handle->waiting = deferred;
      hold(env);
    }
    return deferred->Promise();
  }));
  reader.Set("stats", Napi::Function::New(env, [handle](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Env env = info.Env();
    ReaderCore &core = *handle->core;
    Napi::Object s = Napi::Object::New(env);
    s.Set("records", (double)core.records.load());
    s.Set("packets", (double)core.packets.load());
    s.Set("resets", (double)core.resets.load());
    s.Set("bytes", (double)core.bytes.load());
    s.Set("fileType", core.file_type);
    s.Set("linkType", core.link_type);
    return s;
  }));
  reader.Set("stopAfter", Napi::Function::New(env, [handle](const Napi::CallbackInfo &info) -> Napi::Value {
    // The engine is ahead of JavaScript: a record it has passed ends the reader at once.
    if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 1)
      throw invalid_argument(info.Env(), "stopAfter", "needs a record number of 1 or more");
    handle->core->stop_after = (uint64_t)info[0].As<Napi::Number>().Int64Value();
    return info.Env().Undefined();
  }));
  reader.Set("close", Napi::Function::New(env, [handle](const Napi::CallbackInfo &info) -> Napi::Value {
    handle->core->close();
    if (handle->waiting) {
      handle->waiting->Resolve(info.Env().Null());
      handle->waiting.reset();
      release(info.Env());
    }
    return info.Env().Undefined();
  }));
  return reader;
}

Napi::Value Open(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!g_initialised) return rejected(env, "open(): the engine is not initialised");
  constexpr uint64_t kMaxSafe = (1ull << 53) - 1;
  JsOptions o(info, "open");
  CaptureOptions options;
  ReaderLimits limits;
  options.path = o.string("path");
  options.display_filter = o.optional_string("filter");
  options.max_bytes = (uint32_t)o.integer("maxBytes", 0, UINT32_MAX);
  options.session_packets = o.integer("sessionPackets", 0, kMaxSafe);
  options.skip_records = o.integer("skipRecords", 0, kMaxSafe);
  options.dissect_only = o.boolean("dissectOnly");
  options.document_fields = o.string("documentFields");
  limits.batch_size = (uint32_t)o.integer("batchSize", 1, 1 << 20);
  limits.read_ahead = (uint32_t)o.integer("readAhead", 1, 1024);
  limits.max_packets = o.integer("maxPackets", 0, kMaxSafe);
  // A live stream comes on standard input, its frame notes on this descriptor.
  if (auto fd = o.optional_integer("frameNotesFd", 0, INT32_MAX)) {
    limits.live_fd = 0;
    options.frame_notes_fd = (int)*fd;
  }
  if (auto part = o.optional_object("part")) {
    CaptureOptions::Part p;
    p.first_record = part->integer("firstRecord", 0, kMaxSafe);
    p.start = part->integer("start", 1, kMaxSafe);
    p.end = part->integer("end", 0, kMaxSafe);
    p.header_bytes = part->integer("headerBytes", 1, kMaxSafe);
    p.file_type = part->string("fileType");
    part->finish();
    if (options.skip_records < p.first_record) throw invalid_argument(env, "open", "skipRecords must be at least part.firstRecord");
    options.part = p;
  }
  o.finish();
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);

  auto handle = std::make_shared<ReaderHandle>();
  // Runs on the JavaScript thread whenever the engine has pushed a batch or finished.
  std::weak_ptr<ReaderHandle> weak = handle;
  handle->core = std::make_shared<ReaderCore>(limits, [weak] {
    post_to_js([weak](Napi::Env env) {
      auto h = weak.lock();
      if (!h || !h->waiting) return;
      if (settle(env, *h->core, *h->waiting)) {
        h->waiting.reset();
        release(env);
      }
    });
  });

  hold(env);
  g_engine.post([options, handle, deferred] {
    CaptureError error;
    std::unique_ptr<CaptureDissector> dissector = CaptureDissector::open(options, error);
    bool ok = dissector != nullptr;
    if (ok) {
      handle->core->file_type = dissector->file_type();
      handle->core->link_type = dissector->link_type();
    }
    post_to_js([ok, error, handle, deferred](Napi::Env env) {
      release(env);
      if (!ok) deferred->Reject(capture_error(env, error).Value());
      else deferred->Resolve(MakeReader(env, handle));
    });
    if (ok) handle->core->pump(std::move(dissector), g_engine);
  });
  return deferred->Promise();
}

// Checks a display filter with epan (on the engine thread): resolves "" or epan's message.
Napi::Value CheckFilter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!g_initialised) return rejected(env, "checkFilter(): the engine is not initialised");
  if (info.Length() != 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "checkFilter(filter): filter must be a string");
  std::string filter = info[0].As<Napi::String>();
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
  hold(env);
  g_engine.post([filter, deferred] {
    auto message = std::make_shared<std::string>(check_display_filter(filter));
    post_to_js([deferred, message](Napi::Env env) {
      release(env);
      deferred->Resolve(Napi::String::New(env, *message));
    });
  });
  return deferred->Promise();
}

// Plans the parts of a capture file for several dissecting processes
// (capture_parts.h), on the engine thread (wiretap reads the whole file):
//   planParts(path, every) -> {fileType, records, headerBytes, starts: [offsets], wholeReason}
Napi::Value PlanParts(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!g_initialised) return rejected(env, "planParts(): the engine is not initialised");
  double every = info.Length() == 2 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  if (!info[0].IsString() || !(every >= 1 && every <= 9007199254740991.0) || every != (double)(uint64_t)every)
    throw invalid_argument(env, "planParts", "needs a path and a whole number of records per part, 1 or more");
  std::string path = info[0].As<Napi::String>();
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
  hold(env);
  g_engine.post([path, every, deferred] {
    auto plan = std::make_shared<CapturePlan>();
    CaptureError error;
    bool ok = plan_capture_parts(path, (uint64_t)every, *plan, error);
    post_to_js([ok, error, plan, deferred](Napi::Env env) {
      release(env);
      if (!ok) { deferred->Reject(capture_error(env, error).Value()); return; }
      Napi::Object out = Napi::Object::New(env);
      out.Set("fileType", plan->file_type);
      out.Set("records", (double)plan->records);
      out.Set("headerBytes", (double)plan->header_bytes);
      Napi::Array starts = Napi::Array::New(env, plan->starts.size());
      for (size_t i = 0; i < plan->starts.size(); i++) starts.Set((uint32_t)i, (double)plan->starts[i]);
      out.Set("starts", starts);
      out.Set("wholeReason", plan->whole_reason);
      deferred->Resolve(out);
    });
  });
  return deferred->Promise();
}

// Opens a capture to read chosen frames back (wiretap only; synchronous, on
// this thread: --write reads a few frames at a time, never during dissection).
Napi::Value OpenFrames(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!g_initialised) throw native_error(env, ErrorCode::kEngineError, "openFrames(): the engine is not initialised");
  if (info.Length() != 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "openFrames(path): path must be a string");
  CaptureError error;
  // Shared by the handle's functions; close() ends it at once instead of at garbage collection.
  auto reader = std::make_shared<std::unique_ptr<FrameReader>>(FrameReader::open(info[0].As<Napi::String>(), error));
  if (!*reader) throw capture_error(env, error);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("position", Napi::Function::New(env, [reader](const Napi::CallbackInfo &info) -> Napi::Value {
    return Napi::Number::New(info.Env(), *reader ? (double)(*reader)->position() : 0);
  }));
  handle.Set("close", Napi::Function::New(env, [reader](const Napi::CallbackInfo &info) -> Napi::Value {
    reader->reset();
    return info.Env().Undefined();
  }));
  handle.Set("read", Napi::Function::New(env, [holder = reader](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (!*holder) throw native_error(env, ErrorCode::kEngineError, "read(): the reader is closed");
    FrameReader *reader = holder->get();
    if (info.Length() != 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "read(frames): frames must be an array of numbers");
    Napi::Array given = info[0].As<Napi::Array>();
    std::vector<uint64_t> frames;
    uint64_t last = reader->position();
    for (uint32_t i = 0; i < given.Length(); i++) {
      Napi::Value v = given[i];
      double n = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
      if (!(n > (double)last) || n != (double)(uint64_t)n)
        throw Napi::RangeError::New(env, "read(frames): frames must be whole numbers, ascending, after position()");
      frames.push_back((uint64_t)n);
      last = (uint64_t)n;
    }
    std::vector<RawFrame> out;
    CaptureError error;
    if (!reader->read(frames, out, error)) throw capture_error(env, error);
    Napi::Array result = Napi::Array::New(env, out.size());
    for (size_t i = 0; i < out.size(); i++) {
      RawFrame &f = out[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("frame", (double)f.frame);
      o.Set("linkType", f.link_type);
      if (!f.note.empty()) o.Set("note", f.note);
      o.Set("seconds", (double)f.seconds);
      o.Set("nanoseconds", f.nanoseconds);
      o.Set("length", f.length);
      o.Set("data", Napi::Buffer<char>::Copy(env, f.data.data(), f.data.size()));
      result.Set((uint32_t)i, o);
    }
    return result;
  }));
  return handle;
}

// The engine's half of the document contract (document_contract.h):
//   {packetFields: [{name, json, always}], valueKinds: {FT_UINT8: "uint32", ...}}
Napi::Value DocumentContract(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  // The FT_* names come from epan's type table, which init() fills: before it, reading them crashed.
  if (!g_initialised) throw native_error(env, ErrorCode::kEngineError, "documentContract(): the engine is not initialised");
  Napi::Object out = Napi::Object::New(env);
  Napi::Array fields = Napi::Array::New(env);
  for (const PacketField &f : kPacketFields) {
    Napi::Object field = Napi::Object::New(env);
    field.Set("name", f.name);
    field.Set("json", f.json);
    field.Set("always", f.always);
    fields.Set(fields.Length(), field);
  }
  out.Set("packetFields", fields);
  Napi::Object kinds = Napi::Object::New(env);
  for (int t = 0; t < FT_NUM_TYPES; t++) kinds.Set(ftype_name((ftenum_t)t), value_kind_name(value_kind((ftenum_t)t)));
  out.Set("valueKinds", kinds);
  return out;
}

Napi::Value ErrorCodes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array codes = Napi::Array::New(env);
#define ESPCAP_ERROR_ITEM(name, text) codes.Set(codes.Length(), text);
  ESPCAP_ERROR_CODES(ESPCAP_ERROR_ITEM)
#undef ESPCAP_ERROR_ITEM
  return codes;
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  register_live(env, exports);
  // The libwireshark release linked, known without starting it (espcap --version).
  exports.Set("wiresharkVersion", runtime_version());
  exports.Set("documentContract", Napi::Function::New(env, DocumentContract));
  exports.Set("errorCodes", Napi::Function::New(env, ErrorCodes));
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("fieldRegistry", Napi::Function::New(env, FieldRegistry));
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("checkFilter", Napi::Function::New(env, CheckFilter));
  exports.Set("planParts", Napi::Function::New(env, PlanParts));
  exports.Set("openFrames", Napi::Function::New(env, OpenFrames));
  return exports;
}

}  // namespace

NODE_API_MODULE(espcap, Module)
