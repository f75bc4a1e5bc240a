#include "sysfs_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "wattfleet/common/text.h"
#include "wattfleet/common/unique_fd.h"

namespace wattfleet {
namespace sysfs {

Status ErrnoToStatus(int err, const std::string& path, const std::string& what) {
  const std::string reason = std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status::NotFound(path + ": no such file (" + reason + ")");
    case EACCES:
    case EPERM:
      // The common case on stock kernels: energy_uj has been root-only since the PLATYPUS
      // side channel (CVE-2020-8694), and some hwmon/power_supply nodes are restricted too.
      return Status::PermissionDenied(
          path + ": permission denied (" + reason +
          "); the file is readable by root only. Run the agent as root, or make the file "
          "world-readable, e.g. `sudo chmod a+r " + path +
          "` (lost at reboot) or a udev rule running `chmod a+r` on it at boot");
    default:
      return Status::IOError(path + ": cannot " + what + " (" + reason + ")");
  }
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoToStatus(errno, path, "open");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, path, "stat");
  if (S_ISDIR(st.st_mode)) return ErrnoToStatus(EISDIR, path, "read");
  // sysfs attributes are regular files; anything else (FIFO, socket, device) could block or
  // stream forever, and is certainly not the attribute we expected.
  if (!S_ISREG(st.st_mode)) {
    return Status::IOError(path + ": not a regular file (a FIFO, socket or device)");
  }
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, path, "read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return Status::Corruption(path + ": longer than " + std::to_string(max_bytes) +
                                " bytes; not a sysfs attribute");
    }
  }
  return out;
}

Result<std::string> ReadTrimmed(const std::string& path) {
  WF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return Trim(text);
}

Result<int64_t> ParseInt(const std::string& text, const std::string& path) {
  const std::string t = Trim(text);
  const auto bad = [&](const std::string& why) {
    std::string shown = t.size() > 40 ? t.substr(0, 40) + "..." : t;
    return Status::Corruption(path + ": " + why + " (read \"" + shown + "\")");
  };
  if (t.empty()) return bad("empty, expected an integer");
  size_t i = t[0] == '-' ? 1 : 0;
  if (i == t.size()) return bad("not an integer");
  for (size_t k = i; k < t.size(); ++k) {
    if (t[k] < '0' || t[k] > '9') return bad("not an integer");
  }
  errno = 0;
  const long long v = std::strtoll(t.c_str(), nullptr, 10);
  if (errno == ERANGE) return bad("integer out of range");
  return static_cast<int64_t>(v);
}

Result<int64_t> ReadInt(const std::string& path) {
  WF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseInt(text, path);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace sysfs
}  // namespace wattfleet
