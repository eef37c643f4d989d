#include "wiretap_error.h"

#include <cctype>
#include <cerrno>

#include <wiretap/wtap.h>

NativeError wiretap_error(int err, gchar *err_info, bool opening) {
  NativeError e;
  switch (err) {
    case ENOENT: e.code = ErrorCode::kNoSuchFile; break;
    case EACCES: case EPERM: e.code = ErrorCode::kPermissionDenied; break;
    case EISDIR: e.code = ErrorCode::kIsDirectory; break;
    case WTAP_ERR_FILE_UNKNOWN_FORMAT: e.code = ErrorCode::kUnknownFormat; break;
    case WTAP_ERR_NOT_REGULAR_FILE: e.code = ErrorCode::kNotRegularFile; break;
    default: e.code = opening ? ErrorCode::kOpenError : ErrorCode::kReadError;
  }
  if (err == WTAP_ERR_FILE_UNKNOWN_FORMAT) e.message = "not a capture file in a format Wireshark reads";
  else if (err == WTAP_ERR_SHORT_READ) e.message = "the capture is cut short in the middle of a packet";
  else e.message = wtap_strerror(err);
  if (err_info) {
    e.message += " (";
    e.message += err_info;
    e.message += ")";
    g_free(err_info);
  }
  if (!e.message.empty() && e.message[0] >= 'A' && e.message[0] <= 'Z' && !(e.message.size() > 1 && isupper((unsigned char)e.message[1])))
    e.message[0] = (char)tolower((unsigned char)e.message[0]);
  // Keep errors one line.
  for (char &c : e.message)
    if (c == '\n' || c == '\r') c = ' ';
  return e;
}
