// Reading sysfs attribute files for the hardware meters (rapl, hwmon, android).
//
// sysfs attributes are small text files holding one value. Every error names the file, and
// the errno of a failed open or read is mapped to a Status code callers can act on:
// ENOENT -> NotFound, EACCES/EPERM -> PermissionDenied (with how to fix it), else IOError.
#pragma once

#include <cstdint>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {
namespace sysfs {

// The Status for `err` (an errno value) raised while accessing `path`; `what` says what was
// being done ("open", "read"). Public so that tests can check the mapping without having to
// provoke EACCES, which they cannot when they run as root.
Status ErrnoToStatus(int err, const std::string& path, const std::string& what = "open");

// The whole content of a small regular file. Anything but a regular file (a directory, a FIFO,
// a device) is an IOError rather than a blocking read; content past `max_bytes` is Corruption.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 4096);

// The content without surrounding whitespace (sysfs values end with a newline).
Result<std::string> ReadTrimmed(const std::string& path);

// Strictly parses one decimal integer (optional leading '-', surrounding whitespace allowed,
// nothing else); `path` names the file in the Corruption message.
Result<int64_t> ParseInt(const std::string& text, const std::string& path);

// ReadFile + ParseInt.
Result<int64_t> ReadInt(const std::string& path);

// True when `path` exists (as anything); used to tell "absent" from "present but unreadable".
bool Exists(const std::string& path);

}  // namespace sysfs
}  // namespace wattfleet
