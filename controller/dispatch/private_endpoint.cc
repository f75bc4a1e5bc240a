// ipc:// endpoints in private folders (private_endpoint.h).
#include "wattfleet/dispatch/private_endpoint.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "wattfleet/common/private_folder.h"

namespace wattfleet {
namespace {

constexpr const char* kIpc = "ipc://";

// Whether a process accepts connections on the Unix socket at `path`.
bool Listening(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

bool IsIpcEndpoint(const std::string& endpoint) { return endpoint.rfind(kIpc, 0) == 0; }

std::string PrivateRuntimeFolder() {
  // $XDG_RUNTIME_DIR only when it is this user's own: after `su` or `sudo -E` it may name
  // another user's.
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/' &&
      CheckPrivateFolder(runtime, "XDG_RUNTIME_DIR").ok()) {
    return std::string(runtime) + "/wattfleet";
  }
  return "/tmp/wattfleet-" + std::to_string(::geteuid());
}

std::string DefaultAdminEndpoint() { return kIpc + PrivateRuntimeFolder() + "/admin"; }

namespace {

// The socket's path, and its folder, of an ipc:// endpoint; InvalidArgument for one that is
// not an absolute path short enough for a Unix socket.
Status SplitIpc(const std::string& where, const std::string& endpoint, std::string* path,
                std::string* folder) {
  *path = endpoint.substr(std::strlen(kIpc));
  if (path->empty() || (*path)[0] != '/') {
    return Status::InvalidArgument(where + ": an ipc:// endpoint here is an absolute path "
                                   "(ipc:///folder/name)");
  }
  if (path->size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::InvalidArgument(where + ": the path is longer than a Unix socket's " +
                                   std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                   " bytes; choose a shorter one");
  }
  *folder = path->substr(0, path->rfind('/'));
  if (folder->empty()) *folder = "/";
  return Status::OK();
}

}  // namespace

Status PreparePrivateIpc(const std::string& flag, const std::string& endpoint) {
  if (!IsIpcEndpoint(endpoint)) return Status::OK();
  const std::string where = flag + " " + endpoint;
  std::string path, folder;
  WF_RETURN_IF_ERROR(SplitIpc(where, endpoint, &path, &folder));
  // The folder is the lock on the door: another user's, or one others may enter, is not.
  WF_RETURN_IF_ERROR(MakePrivateFolder(folder, where));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::InvalidArgument(where + ": " + path + " exists and is not a socket");
    }
    if (Listening(path)) {
      return Status::InvalidArgument(where + ": another process is listening there (another "
                                     "controller?); give this one its own endpoint");
    }
    ::unlink(path.c_str());  // left by a process that died
  }
  return Status::OK();
}

Status CheckPrivateIpc(const std::string& flag, const std::string& endpoint) {
  if (!IsIpcEndpoint(endpoint)) return Status::OK();
  const std::string where = flag + " " + endpoint;
  std::string path, folder;
  WF_RETURN_IF_ERROR(SplitIpc(where, endpoint, &path, &folder));
  Status s = CheckPrivateFolder(folder, where, /*root_ok=*/true);
  if (s.code() == StatusCode::kNotFound) {
    return Status::Unavailable("no controller's admin socket at " + endpoint +
                               " (is `wattfleet serve` running, as this user, with that "
                               "--admin?)");
  }
  return s;
}

Result<PrivateFolder> PrivateFolder::Make(const std::string& prefix) {
  const std::string runtime = PrivateRuntimeFolder();
  // Checks (and makes) the runtime folder as an ipc:// endpoint's folder would be.
  WF_RETURN_IF_ERROR(MakePrivateFolder(runtime, "private folder"));
  std::string templ = runtime + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {  // mode 0700
    return Status::IOError("cannot create a folder in " + runtime + ": " + std::strerror(errno));
  }
  return PrivateFolder(std::string(buf.data()));
}

PrivateFolder::PrivateFolder(PrivateFolder&& other) noexcept
    : path_(std::exchange(other.path_, std::string())) {}

PrivateFolder::~PrivateFolder() {
  if (path_.empty()) return;
  if (DIR* d = ::opendir(path_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink((path_ + "/" + name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(path_.c_str());
}

void RestrictIpcSocket(const std::string& endpoint) {
  if (!IsIpcEndpoint(endpoint)) return;
  ::chmod(endpoint.substr(std::strlen(kIpc)).c_str(), 0600);
}

}  // namespace wattfleet
