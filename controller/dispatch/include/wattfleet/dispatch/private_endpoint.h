// Local doors decided by the filesystem: an ipc:// endpoint in a folder only its user can
// enter (mode 0700), so that no other local user can connect to it, whatever the socket's
// own mode. The admin socket of `serve` and the agents' socket of an embedded `run` use one.
#pragma once

#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

// This user's folder for such sockets: $XDG_RUNTIME_DIR/wattfleet when that is set and this
// user's own (systemd makes it 0700 and per user), /tmp/wattfleet-UID otherwise.
std::string PrivateRuntimeFolder();

// ipc://FOLDER/admin in PrivateRuntimeFolder(): where `serve` offers admin and the CLI asks.
std::string DefaultAdminEndpoint();

// Before binding `endpoint` (`flag` names it in errors) when it is ipc://: creates its folder
// (mode 0700) when missing, and refuses one owned by another user or that others may enter,
// a path too long for a Unix socket, and a socket another live process is listening on
// (binding would take it over). A socket left by a process that died is removed.
// Other transports: OK, unchecked.
Status PreparePrivateIpc(const std::string& flag, const std::string& endpoint);

// Before connecting to `endpoint` when it is ipc://: its folder must exist and be this user's
// (or root's) alone, or whoever made it could pose as the controller. Unavailable when it is
// not there. Other transports: OK, unchecked.
Status CheckPrivateIpc(const std::string& flag, const std::string& endpoint);

// After binding: the socket file itself readable and writable by its user only.
void RestrictIpcSocket(const std::string& endpoint);

bool IsIpcEndpoint(const std::string& endpoint);

// A fresh folder of mode 0700 in PrivateRuntimeFolder() (which must be this user's and
// closed to others: whoever owns the folder above could swap the one below), removed with
// what is left in it (sockets) when this goes out of scope.
class PrivateFolder {
 public:
  static Result<PrivateFolder> Make(const std::string& prefix);
  PrivateFolder(PrivateFolder&& other) noexcept;
  PrivateFolder& operator=(PrivateFolder&&) = delete;
  PrivateFolder(const PrivateFolder&) = delete;
  PrivateFolder& operator=(const PrivateFolder&) = delete;
  ~PrivateFolder();
  const std::string& path() const { return path_; }

 private:
  explicit PrivateFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace wattfleet
