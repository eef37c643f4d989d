// N-API surface of live capture (live_capture.h), declared for TypeScript in
// native/addon.d.ts. Synchronous calls: opening
// an interface and reading counters are quick; the capture itself runs on its
// own threads and JavaScript polls its counters.
//
//   listInterfaces() -> [{name, description, addresses, loopback, up, running}]
//   openLive({interface, bpf, snaplen, promisc, bufferBytes, queueBytes, maxPackets}) -> capture
//     (throws an Error with `code` NO_SUCH_DEVICE, PERMISSION, BAD_BPF or CAPTURE_ERROR;
//     options are checked by JsOptions: only bpf may be left out)
//   capture.start(fd), capture.switchTo(fd), capture.switchedAt() -> records or -1,
//   capture.stop(), capture.stats() -> {captured, written, queueDrops, kernelReceived,
//     kernelDrops, interfaceDrops, queuedBytes, finished, error}, capture.linkType
//   makePipe() -> [readFd, writeFd] (close-on-exec), closeFd(fd)
#include <fcntl.h>
#include <napi.h>
#include <unistd.h>

#include <memory>

#include "js_options.h"
#include "live_capture.h"

namespace {

// A file descriptor argument: a whole number of 0 or more.
int fd_argument(const Napi::CallbackInfo &info, const char *call) {
  double fd = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(fd >= 0 && fd <= INT32_MAX) || (double)(int)fd != fd) throw invalid_argument(info.Env(), call, "needs a file descriptor");
  return (int)fd;
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
  c.Set("start", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) {
    capture->start(fd_argument(info, "start"));
  }));
  c.Set("switchTo", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) {
    capture->switch_to(fd_argument(info, "switchTo"));
  }));
  c.Set("switchedAt", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) -> Napi::Value {
    return Napi::Number::New(info.Env(), (double)capture->switched_at());
  }));
  c.Set("stop", Napi::Function::New(env, [capture](const Napi::CallbackInfo &) { capture->stop(); }));
  c.Set("stats", Napi::Function::New(env, [capture](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object s = Napi::Object::New(env);
    s.Set("captured", (double)capture->captured.load());
    s.Set("written", (double)capture->written.load());
    s.Set("queueDrops", (double)capture->queue_drops.load());
    s.Set("kernelReceived", (double)capture->kernel_received.load());
    s.Set("kernelDrops", (double)capture->kernel_drops.load());
    s.Set("interfaceDrops", (double)capture->interface_drops.load());
    s.Set("queuedBytes", (double)capture->queued_bytes.load());
    s.Set("finished", capture->finished.load());
    s.Set("error", capture->error());
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
