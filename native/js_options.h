// The one place that turns a JavaScript options object into C++ values, with
// hard checks: every option native/addon.d.ts declares as required must be
// there, of its type and in its range, and an option the call does not know is
// refused. Nothing falls back to a default here: defaults are decided once, in
// TypeScript (src/cli/args.ts and src/engine/). A wrong value is a bug in
// espcap's own TypeScript, never a user's mistake, so it throws at once, as a
// TypeError with the code INVALID_ARGUMENT, every message worded the same way:
//   open(): option "maxBytes" must be a whole number from 0 to 4294967295, got "64"
#pragma once

#include <napi.h>

#include <cmath>
#include <optional>
#include <set>
#include <string>

#include "error_code.h"

// The error every invalid parameter gets (also for arguments that are not options objects).
inline Napi::Error invalid_argument(Napi::Env env, const std::string &call, const std::string &what) {
  Napi::Error err = Napi::TypeError::New(env, call + "(): " + what);
  err.Set("code", error_code_name(ErrorCode::kInvalidArgument));
  return err;
}

class JsOptions {
 public:
  // `call` names the addon function, for messages; the options object is info[index].
  JsOptions(const Napi::CallbackInfo &info, const char *call, size_t index = 0) : env_(info.Env()), call_(call) {
    if (info.Length() <= index || !info[index].IsObject() || info[index].IsArray())
      throw invalid_argument(env_, call_, "needs an options object");
    object_ = info[index].As<Napi::Object>();
  }

  std::string string(const char *key) {
    Napi::Value v = take(key);
    if (!v.IsString()) throw wrong(key, "a string", v);
    return v.As<Napi::String>().Utf8Value();
  }

  // An option whose absence means "none" (a filter, a BPF expression): "" then.
  std::string optional_string(const char *key) {
    if (!present(key)) return std::string();
    return string(key);
  }

  bool boolean(const char *key) {
    Napi::Value v = take(key);
    if (!v.IsBoolean()) throw wrong(key, "true or false", v);
    return v.As<Napi::Boolean>().Value();
  }

  // A whole number in [min, max]; max at most 2^53 - 1, the largest a JavaScript number holds exactly.
  uint64_t integer(const char *key, uint64_t min, uint64_t max) {
    Napi::Value v = take(key);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d >= (double)min && d <= (double)max) || std::floor(d) != d)
      throw wrong(key, "a whole number from " + std::to_string(min) + " to " + std::to_string(max), v);
    return (uint64_t)d;
  }

  // A whole number whose absence means "none" (a descriptor only a live stream has).
  std::optional<uint64_t> optional_integer(const char *key, uint64_t min, uint64_t max) {
    if (!present(key)) return std::nullopt;
    return integer(key, min, max);
  }

  // An options object inside this one, whose absence means "none" (a part of a capture).
  std::optional<JsOptions> optional_object(const char *key) {
    if (!present(key)) return std::nullopt;
    Napi::Value v = object_.Get(key);
    if (!v.IsObject() || v.IsArray()) throw wrong(key, "an options object", v);
    return JsOptions(env_, call_ + "." + key, v.As<Napi::Object>());
  }

  // After the last option is read: an option nobody read is a mistake in the caller.
  void finish() {
    Napi::Array names = object_.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string name = names.Get(i).ToString().Utf8Value();
      if (!read_.count(name) && !object_.Get(name).IsUndefined())
        throw invalid_argument(env_, call_, "unknown option \"" + name + "\"");
    }
  }

 private:
  JsOptions(Napi::Env env, std::string call, Napi::Object object) : env_(env), call_(std::move(call)), object_(object) {}

  bool present(const char *key) {
    read_.insert(key);
    return !object_.Get(key).IsUndefined();
  }

  Napi::Value take(const char *key) {
    if (!present(key)) throw invalid_argument(env_, call_, std::string("option \"") + key + "\" is required");
    return object_.Get(key);
  }

  Napi::Error wrong(const char *key, const std::string &expected, Napi::Value got) {
    std::string shown = got.IsString() ? "\"" + got.As<Napi::String>().Utf8Value() + "\"" : got.ToString().Utf8Value();
    return invalid_argument(env_, call_, std::string("option \"") + key + "\" must be " + expected + ", got " + shown);
  }

  Napi::Env env_;
  std::string call_;
  Napi::Object object_;
  std::set<std::string> read_;
};
