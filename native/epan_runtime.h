// Process-wide libwireshark set-up, done once on the engine thread.
#pragma once

#include <string>

struct RuntimeOptions {
  // Personal configuration directory epan reads instead of the user's own
  // (~/.config/wireshark): preferences, disabled protocols, plugins. espcap
  // points it at an empty directory so results do not depend on who runs it.
  std::string config_dir;
};

// Returns false with a one-line message if libwireshark cannot start.
bool runtime_init(const RuntimeOptions &options, std::string &error);

// Every registered field, one per line, tab-separated:
//   layer  key  abbrev  type  name
// `layer` and `key` are the field's path, layers.<layer>.<key>, exactly as
// LayerWriter writes it (key empty for a protocol: its layer object). `type`
// is the FT_* name of the field's Wireshark type. A batch's new fields
// (LayerWriter::take_new_fields) come in the same order of columns.
std::string runtime_field_registry();

std::string runtime_version();
