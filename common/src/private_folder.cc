// Folders of one user's own (private_folder.h).
#include "wattfleet/common/private_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wattfleet {

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Status CheckPrivateFolder(const std::string& dir, const std::string& what, bool root_ok) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(what + ": " + dir + " does not exist");
    return Status::InvalidArgument(what + ": " + dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(what + ": " + dir + " is not a folder");
  }
  if (st.st_uid != ::geteuid() && !(root_ok && st.st_uid == 0)) {
    return Status::InvalidArgument(what + ": " + dir + " belongs to user " +
                                   std::to_string(st.st_uid) + ", not to this user (" +
                                   std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::InvalidArgument(what + ": other users may enter " + dir + " (mode " +
                                   ModeText(st.st_mode) +
                                   "); use a folder of mode 0700 (chmod 700 " + dir + ")");
  }
  return Status::OK();
}

Status MakePrivateFolder(const std::string& dir, const std::string& what) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::InvalidArgument(what + ": cannot create " + dir + ": " + std::strerror(errno));
  }
  return CheckPrivateFolder(dir, what);
}

}  // namespace wattfleet
