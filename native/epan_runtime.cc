#include "epan_runtime.h"

#include <cstdarg>
#include <cstdio>

#include <epan/addr_resolv.h>
#include <epan/epan.h>
#include <epan/prefs.h>
#include <epan/proto.h>
#include <epan/timestamp.h>
#include <wiretap/wtap.h>
#include <wsutil/filesystem.h>
#include <wsutil/privileges.h>
#include <wsutil/report_message.h>
#include <wsutil/wslog.h>

#include "layer_writer.h"
#include "wireshark_compat.h"

namespace {

// Wireshark reports configuration and file problems through these; espcap
// prints them as one-line warnings rather than losing them.
void warn(const char *kind, const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  for (char *p = msg; *p; p++)
    if (*p == '\n') *p = ' ';
  fprintf(stderr, "espcap: wireshark %s: %s\n", kind, msg);
}
void vfailure(const char *fmt, va_list ap) { warn("error", fmt, ap); }
void vwarning(const char *fmt, va_list ap) { warn("warning", fmt, ap); }
void file_problem(const char *what, const char *file, const char *error) {
  fprintf(stderr, "espcap: wireshark: cannot %s %s: %s\n", what, file, error);
}

std::string registry_cell(const char *s) {
  std::string out = s ? s : "";
  for (char &c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

bool runtime_init(const RuntimeOptions &options, std::string &error) {
  ws_compat::log_init("espcap");
  // Dissector bugs and similar warnings already show in the packet itself
  // (_ws.malformed, expert items); printing each would flood the terminal.
  // WIRESHARK_LOG_LEVEL still overrides, as in every Wireshark tool.
  if (!g_getenv("WIRESHARK_LOG_LEVEL")) ws_log_set_level(LOG_LEVEL_CRITICAL);
  init_process_policies();
  char *config_err = ws_compat::configuration_init("espcap");
  if (config_err) g_free(config_err);  // only the program directory could not be found: harmless
  if (!options.config_dir.empty()) set_persconffile_dir(options.config_dir.c_str());
  ws_compat::init_report_message("espcap", {vfailure, vwarning, file_problem});
  timestamp_set_type(TS_RELATIVE);
  timestamp_set_precision(TS_PREC_AUTO);
  timestamp_set_seconds_type(TS_SECONDS_DEFAULT);

  // wiretap first: file-type-specific block handlers register against it.
  wtap_init(TRUE);
  if (!epan_init(NULL, NULL, TRUE)) {
    error = "libwireshark failed to initialise its dissectors";
    return false;
  }
  epan_load_settings();
  // Resolved names only reach hidden fields and labels, which documents leave
  // out; off, as tshark -n, so that nothing depends on this machine's files.
  disable_name_resolution();
  prefs_apply_all();
  return true;
}

std::string runtime_field_registry() {
  std::string out;
  LayerWriter paths(0, false);
  auto line = [&](const header_field_info *hf) {
    LayerWriter::Path path = paths.path_of(hf);
    out += path.layer + "\t" + path.key + "\t" + registry_cell(hf->abbrev) + "\t" + ftype_name(hf->type) + "\t" +
           registry_cell(hf->name) + "\n";
  };
  void *proto_cookie = nullptr;
  for (int proto_id = proto_get_first_protocol(&proto_cookie); proto_id != -1;
       proto_id = proto_get_next_protocol(&proto_cookie)) {
    // Mostly FT_PROTOCOL; a protocol registered "in name only" has a value type of its own (tcp.options.nop: FT_BYTES).
    line(proto_registrar_get_nth(proto_id));
    void *field_cookie = nullptr;
    for (header_field_info *hf = proto_get_first_protocol_field(proto_id, &field_cookie); hf;
         hf = proto_get_next_protocol_field(proto_id, &field_cookie))
      if (hf->id != hf_text_only) line(hf);
  }
  return out;
}

std::string runtime_version() { return epan_get_version(); }
