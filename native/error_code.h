// Every error code the addon gives JavaScript, in one list. JavaScript sees a
// code as the `code` of the Error a call rejects or throws with;
// native/addon.d.ts declares the same names as a union type, and
// test/native-contract.test.ts holds the two lists equal.
#pragma once

#include <string>

#define ESPCAP_ERROR_CODES(X)                                                   \
  /* opening or reading a capture (wiretap) */                                  \
  X(kNoSuchFile, "ENOENT")                                                      \
  X(kPermissionDenied, "EACCES")                                                \
  X(kIsDirectory, "EISDIR")                                                     \
  X(kUnknownFormat, "UNKNOWN_FORMAT")                                           \
  X(kNotRegularFile, "NOT_REGULAR_FILE")                                        \
  X(kEmpty, "EMPTY")                                                            \
  X(kOpenError, "OPEN_ERROR")                                                   \
  X(kReadError, "READ_ERROR")                                                   \
  /* a display filter epan does not compile */                                  \
  X(kBadFilter, "BAD_FILTER")                                                   \
  /* live capture (libpcap) */                                                  \
  X(kNoSuchDevice, "NO_SUCH_DEVICE")                                            \
  X(kCapturePermission, "PERMISSION")                                           \
  X(kBadBpf, "BAD_BPF")                                                         \
  X(kCaptureError, "CAPTURE_ERROR")                                             \
  /* the engine itself: not initialised, failed to start, misused */            \
  X(kEngineError, "ENGINE_ERROR")                                               \
  /* a call from TypeScript that breaks the contract (addon.d.ts): a bug */     \
  X(kInvalidArgument, "INVALID_ARGUMENT")

enum class ErrorCode {
#define ESPCAP_ERROR_ENUM(name, text) name,
  ESPCAP_ERROR_CODES(ESPCAP_ERROR_ENUM)
#undef ESPCAP_ERROR_ENUM
};

inline const char *error_code_name(ErrorCode code) {
  switch (code) {
#define ESPCAP_ERROR_NAME(name, text) \
  case ErrorCode::name:               \
    return text;
    ESPCAP_ERROR_CODES(ESPCAP_ERROR_NAME)
#undef ESPCAP_ERROR_NAME
  }
  return "ENGINE_ERROR";
}

// A failure with a stable code for JavaScript and a one-line message.
struct NativeError {
  ErrorCode code = ErrorCode::kEngineError;
  std::string message;
};
