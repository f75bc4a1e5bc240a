// Bounded reads of files from outside (bounded_file.h).
#include "wattfleet/common/bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "wattfleet/common/unique_fd.h"

namespace wattfleet {

Result<std::string> ReadBoundedFile(const std::string& path, const std::string& what,
                                    const FileBounds& bounds) {
  const std::string named = what + " " + path;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
  if (!bounds.follow_links) flags |= O_NOFOLLOW;
  UniqueFd fd(::open(path.c_str(), flags));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(named + ": no such file");
    if (err == ELOOP) return Status::InvalidArgument(named + ": a symbolic link, not a file");
    if (err == EACCES) return Status::PermissionDenied(named + ": cannot be read (" +
                                                       std::strerror(err) + ")");
    return Status::IOError(named + ": cannot be opened (" + std::strerror(err) + ")");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Status::IOError(named + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(named + ": not a regular file");
  }
  if (static_cast<unsigned long long>(st.st_size) > bounds.max_bytes) {
    return Status::InvalidArgument(named + ": " + std::to_string(st.st_size) +
                                   " bytes, more than the " + std::to_string(bounds.max_bytes) +
                                   " allowed");
  }
  // Read to the bound, not to the size stat gave: a file that grows meanwhile stops there.
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (text.size() >= bounds.max_bytes + 1) break;
      text.resize(std::min(bounds.max_bytes + 1, text.size() + 65536));
    }
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(named + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > bounds.max_bytes) {
    return Status::InvalidArgument(named + ": more than the " +
                                   std::to_string(bounds.max_bytes) + " bytes allowed");
  }
  text.resize(got);
  return text;
}

}  // namespace wattfleet
