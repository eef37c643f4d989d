// wiretap's errors (an errno value or a WTAP_ERR_* code, with an optional
// detail string) as the addon reports them: a stable code and a one-line
// message. Used by everything that opens or reads a capture with wiretap.
#pragma once

#include <glib.h>

#include "error_code.h"

// `opening`: the error came from opening the capture (OPEN_ERROR), else from
// reading it (READ_ERROR), for errors without a code of their own. Frees
// err_info (g_free), as every wiretap caller must.
NativeError wiretap_error(int err, gchar *err_info, bool opening);
