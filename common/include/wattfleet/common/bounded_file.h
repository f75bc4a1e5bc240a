// Reading a file that someone else may have put there: a regular file of at most a given
// size, opened without waiting on a FIFO or a device, and, where asked, without following a
// symbolic link. What is not such a file is an error naming it, never a hang or an
// allocation the size of /dev/zero.
#pragma once

#include <cstddef>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct FileBounds {
  size_t max_bytes = 0;
  // A link is refused (O_NOFOLLOW) where the file's place is ours (a spool record); a user's
  // own input may be a link.
  bool follow_links = true;
};

// The contents of `path`. InvalidArgument names `what` and the path when it is not a regular
// file (a FIFO, a device, a folder, a link where none is allowed) or is larger than the
// bound; NotFound when it is not there; IOError or PermissionDenied when it cannot be read.
Result<std::string> ReadBoundedFile(const std::string& path, const std::string& what,
                                    const FileBounds& bounds);

}  // namespace wattfleet
