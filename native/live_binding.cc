// N-API surface of live capture (live_capture.h), declared for TypeScript in
// native/addon.d.ts. Synchronous calls: opening an interface and reading
// counters are quick; the capture itself runs on its own threads and
// JavaScript polls its counters.
//
//   listInterfaces() -> [{name, description, addresses, loopback, up, running}]
//   openLive({interface, sourceFile, bpf, snaplen, promisc, bufferBytes, queueBytes, maxPackets}) -> capture
//     (throws an Error with `code` NO_SUCH_DEVICE, PERMISSION, BAD_BPF or CAPTURE_ERROR;
//     options are checked by JsOptions: only bpf and sourceFile may be left out)
//   capture.start([{records, frames}, ...]) (a stream per worker, so as many workers), capture.switchTo(worker, {records, frames}),
//   capture.switchedAt(worker) -> records or -1, capture.stop(),
//   capture.stats() -> {captured, written, queueDrops, kernelReceived, kernelDrops, interfaceDrops,
//     queuedBytes, finished, error, workers: [{captured, written, queueDrops, queuedBytes}]},
//   capture.linkType, capture.flowsKnown (whether the link type is spread by flow)
//   makePipe() -> [readFd, writeFd] (close-on-exec), closeFd(fd)
#include <fcntl.h>
#include <napi.h>
#include <unistd.h>

#include <memory>

#include "js_options.h"
#include "flow_hash.h"
#include "live_capture.h"

namespace {

// A file descriptor argument: a whole number of 0 or more.
int fd_argument(const Napi::CallbackInfo &info, const char *call) {
  double fd = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(fd >= 0 && fd <= INT32_MAX) || (double)(int)fd != fd) throw invalid_argument(info.Env(), call, "needs a file descriptor");
  return (int)fd;
}

// A worker index argument of a capture with `workers` workers.
uint32_t worker_argument(const Napi::CallbackInfo &info, uint32_t workers, const char *call) {
  double w = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(w >= 0 && w < workers) || (double)(uint32_t)w != w) throw invalid_argument(info.Env(), call, "needs a worker index");
  return (uint32_t)w;
}

// {records, frames}: the two write ends of a worker's stream.
StreamFds stream_argument(const Napi::Env &env, const Napi::Value &value, const char *call) {
  if (!value.IsObject()) throw invalid_argument(env, call, "needs {records, frames}");
  Napi::Object o = value.As<Napi::Object>();
  StreamFds s;
  for (auto [name, fd] : {std::pair<const char *, int *>{"records", &s.records}, {"frames", &s.frames}}) {
    Napi::Value v = o.Get(name);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= INT32_MAX) || (double)(int)d != d) throw invalid_argument(env, call, std::string("needs a file descriptor as ") + name);
    *fd = (int)d;
  }
  return s;
}

Napi::Value ListInterfaces(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string error;
  auto interfaces = list_interfaces(error);
  if (!error.empty()) throw Napi::Error::New(env, "cannot list interfaces: " + error);
  Napi::Array out = Napi::Array::New(env, interfaces.size());
  for (size_t i = 0; i < interfaces.size(); i++) {
    const InterfaceInfo &it = interfaces[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", it.name);
    o.Set("description", it.description);
    Napi::Array addresses = Napi::Array::New(env, it.addresses.size());
    for (size_t j = 0; j < it.addresses.size(); j++) addresses.Set(j, it.addresses[j]);
    o.Set("addresses", addresses);
    o.Set("loopback", it.loopback);
    o.Set("up", it.up);
    o.Set("running", it.running);
    out.Set(i, o);
  }
  return out;
}

Napi::Value OpenLive(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  JsOptions o(info, "openLive");
  LiveOptions options;
  options.interface = o.string("interface");
  options.source_file = o.optional_string("sourceFile");
  options.bpf = o.optional_string("bpf");
  options.snaplen = (int)o.integer("snaplen", 1, 262144);
  options.promisc = o.boolean("promisc");
  options.buffer_bytes = (int)o.integer("bufferBytes", 1, INT32_MAX);
  options.queue_bytes = (size_t)o.integer("queueBytes", 1 << 20, 1ull << 40);
  options.max_packets = o.integer("maxPackets", 0, (1ull << 53) - 1);
  o.finish();
  LiveError error;
  std::shared_ptr<LiveCapture> capture(LiveCapture::open(options, error).release());
  if (!capture) {
    Napi::Error err = Napi::Error::New(env, error.message);
    err.Set("code", error_code_name(error.code));
    throw err;
  }
  Napi::Object c = Napi::Object::New(env);
  c.Set("linkType", capture->link_type());
  c.Set("flowsKnown", flow_hash_knows(capture->link_type()));
  c.Set("start", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (capture->workers() || info.Length() < 1 || !info[0].IsArray() || info[0].As<Napi::Array>().Length() < 1 || info[0].As<Napi::Array>().Length() > 1024)
      throw invalid_argument(env, "start", "needs a stream for each of 1 to 1024 workers, once");
    Napi::Array array = info[0].As<Napi::Array>();
    std::vector<StreamFds> streams;
    for (uint32_t i = 0; i < array.Length(); i++) streams.push_back(stream_argument(env, array.Get(i), "start"));
    capture->start(streams);
  }));
  c.Set("switchTo", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) {
    uint32_t worker = worker_argument(info, capture->workers(), "switchTo");
    capture->switch_to(worker, stream_argument(info.Env(), info[1], "switchTo"));
  }));
  c.Set("switchedAt", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) -> Napi::Value {
    return Napi::Number::New(info.Env(), (double)capture->switched_at(worker_argument(info, capture->workers(), "switchedAt")));
  }));
  c.Set("stop", Napi::Function::New(env, [capture](const Napi::CallbackInfo &) { capture->stop(); }));
  c.Set("stats", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object s = Napi::Object::New(env);
    uint64_t written = 0, drops = 0, queued = 0;
    Napi::Array workers = Napi::Array::New(env, capture->workers());
    for (uint32_t i = 0; i < capture->workers(); i++) {
      LiveCapture::WorkerStats w = capture->worker_stats(i);
      Napi::Object o = Napi::Object::New(env);
      o.Set("captured", (double)w.captured);
      o.Set("written", (double)w.written);
      o.Set("queueDrops", (double)w.queue_drops);
      o.Set("queuedBytes", (double)w.queued_bytes);
      workers.Set(i, o);
      written += w.written, drops += w.queue_drops, queued += w.queued_bytes;
    }
    s.Set("captured", (double)capture->captured.load());
    s.Set("written", (double)written);
    s.Set("queueDrops", (double)drops);
    s.Set("kernelReceived", (double)capture->kernel_received.load());
    s.Set("kernelDrops", (double)capture->kernel_drops.load());
    s.Set("interfaceDrops", (double)capture->interface_drops.load());
    s.Set("queuedBytes", (double)queued);
    s.Set("finished", capture->finished());
    s.Set("error", capture->error());
    s.Set("workers", workers);
    return s;
  }));
  return c;
}

Napi::Value MakePipe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw Napi::Error::New(env, std::string("cannot make a pipe: ") + strerror(errno));
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);  // fewer wake-ups; a larger buffer between the writer and the reader
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  close(fd_argument(info, "closeFd"));
  return info.Env().Undefined();
}

}  // namespace

void register_live(Napi::Env env, Napi::Object exports) {
  exports.Set("listInterfaces", Napi::Function::New(env, ListInterfaces));
  exports.Set("openLive", Napi::Function::New(env, OpenLive));
  exports.Set("makePipe", Napi::Function::New(env, MakePipe));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
}
