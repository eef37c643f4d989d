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
//   layer  key  abbrev  type  name  foreign_key
// `layer` is the layer key of the field's protocol and `key` the field's key
// inside that layer, both exactly as LayerWriter writes them; `foreign_key` is
// the key the field gets inside another protocol's layer. `type` is the FT_*
// name of the field's Wireshark type.
std::string runtime_field_registry();

std::string runtime_version();
