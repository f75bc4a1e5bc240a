// A folder that is one user's alone: owned by them, with no permission for anyone else.
// Local doors (Unix sockets) and default spools live in one, so that the filesystem decides
// who may use them.
#pragma once

#include <sys/types.h>

#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

// OK when `dir` is a folder (not a link) owned by the effective user, or by root when
// `root_ok`, with no group or other permission bits. InvalidArgument naming `what`, the
// folder and what is wrong otherwise; NotFound when it is not there.
Status CheckPrivateFolder(const std::string& dir, const std::string& what, bool root_ok = false);

// A file mode's permission bits as `ls` and `chmod` write them: "0755".
std::string ModeText(mode_t mode);

// Creates `dir` with mode 0700 when missing (its parent must exist), then checks it.
Status MakePrivateFolder(const std::string& dir, const std::string& what);

}  // namespace wattfleet
