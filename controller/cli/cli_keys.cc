// `wattfleet keys generate`: CurveZMQ key pairs for the controller and its agents, and the
// allowlist directory the controller admits agents from.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "cli_commands.h"
#include "wattfleet/common/curve_keys.h"

namespace wattfleet {
namespace {

constexpr const char* kControllerName = "controller";

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// mkdir -p: every missing component, 0755 (the secrets inside are 0600 themselves).
Status MakeDirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::InvalidArgument("--out " + dir + ": cannot create " + prefix + " (" +
                                     std::strerror(errno) + ")");
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("--out " + dir + ": not a directory");
  }
  return Status::OK();
}

// The allowlist copy of an agent's public key: same content as NAME.key, never overwriting,
// synced before it counts (a torn enrolment file would make the whole allowlist invalid).
Status WritePublicKeyFile(const std::string& path, const std::string& public_key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return Status::AlreadyExists(path + ": already exists, not overwritten");
    return Status::IOError(path + ": " + std::strerror(err));
  }
  const std::string content = public_key + "\n";
  const bool ok = ::write(fd, content.data(), content.size()) ==
                      static_cast<ssize_t>(content.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::IOError(path + ": cannot write (" + std::strerror(err) + ")");
  }
  return Status::OK();
}

bool ValidAgentName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status Generate(const std::string& out, const std::vector<std::string>& names,
                const std::vector<std::string>& admins) {
  if (out.empty()) return Status::InvalidArgument("--out: empty directory name");
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!ValidAgentName(name)) {
      return Status::InvalidArgument("--agent '" + name +
                                     "': use 1 to 64 letters, digits, '-', '_' or '.' (not "
                                     "first)");
    }
    if (name == kControllerName) {
      return Status::InvalidArgument("--agent controller: the name is taken by the controller's "
                                     "own key pair");
    }
    if (!seen.insert(name).second) return Status::InvalidArgument("--agent " + name + ": given twice");
  }
  for (const std::string& name : admins) {
    if (!ValidAgentName(name) || name == kControllerName) {
      return Status::InvalidArgument("--admin '" + name + "': use 1 to 64 letters, digits, "
                                     "'-', '_' or '.' (not first), not 'controller'");
    }
    if (!seen.insert(name).second) {
      return Status::InvalidArgument("--admin " + name + ": the name is given twice");
    }
  }
  const std::string agents_dir = out + "/agents";
  const std::string admins_dir = out + "/admins";
  // Administrators' keys may be added to an existing set: the controller's pair is kept then.
  const bool new_controller = !Exists(out + "/" + kControllerName + ".key_secret");
  // Every file is checked before any is written: a refused run leaves the directory as it was.
  std::vector<std::string> targets;
  if (new_controller || !names.empty()) {
    targets = {out + "/" + kControllerName + ".key", out + "/" + kControllerName + ".key_secret"};
  }
  for (const std::string& name : names) {
    targets.push_back(out + "/" + name + ".key");
    targets.push_back(out + "/" + name + ".key_secret");
    targets.push_back(agents_dir + "/" + name + ".key");
  }
  for (const std::string& name : admins) {
    targets.push_back(out + "/" + name + ".key");
    targets.push_back(out + "/" + name + ".key_secret");
    targets.push_back(admins_dir + "/" + name + ".key");
  }
  for (const std::string& t : targets) {
    if (Exists(t)) {
      return Status::AlreadyExists(t + ": already exists, not overwritten (remove it, or choose "
                                       "another --out or --agent)");
    }
  }
  if (!names.empty()) WF_RETURN_IF_ERROR(MakeDirs(agents_dir));
  if (!admins.empty()) WF_RETURN_IF_ERROR(MakeDirs(admins_dir));

  if (new_controller || !names.empty()) {
    WF_ASSIGN_OR_RETURN(CurveKeyPair controller, GenerateCurveKeyPair());
    WF_RETURN_IF_ERROR(WriteCurveKeyPair(out, kControllerName, controller));
    std::cout << "wrote " << out << "/controller.key (public) and " << out
              << "/controller.key_secret (secret, mode 0600)\n";
  }
  for (const std::string& name : admins) {
    WF_ASSIGN_OR_RETURN(CurveKeyPair admin, GenerateCurveKeyPair());
    WF_RETURN_IF_ERROR(WriteCurveKeyPair(out, name, admin));
    WF_RETURN_IF_ERROR(WritePublicKeyFile(admins_dir + "/" + name + ".key", admin.public_key));
    std::cout << "wrote " << out << "/" << name << ".key and " << out << "/" << name
              << ".key_secret (secret, mode 0600); enrolled administrator " << admins_dir << "/"
              << name << ".key\n"
              << "  wattfleet serve ... --admin tcp://0.0.0.0:5556 --admin-keys " << admins_dir
              << "\n  wattfleet status --admin tcp://CONTROLLER_HOST:5556 --admin-key " << out
              << "/" << name << ".key_secret --controller-key " << out << "/controller.key\n";
  }
  if (names.empty()) return Status::OK();
  for (const std::string& name : names) {
    WF_ASSIGN_OR_RETURN(CurveKeyPair agent, GenerateCurveKeyPair());
    WF_RETURN_IF_ERROR(WriteCurveKeyPair(out, name, agent));
    WF_RETURN_IF_ERROR(WritePublicKeyFile(agents_dir + "/" + name + ".key", agent.public_key));
    std::cout << "wrote " << out << "/" << name << ".key and " << out << "/" << name
              << ".key_secret (secret, mode 0600); enrolled " << agents_dir << "/" << name
              << ".key\n";
  }

  std::cout << "\nController (keep controller.key_secret on the controller host only):\n"
            << "  wattfleet serve --db DB --bind tcp://0.0.0.0:5555 --curve-secret " << out
            << "/controller.key_secret --agents-dir " << agents_dir << "\n";
  for (const std::string& name : names) {
    std::cout << "Agent " << name << " (copy controller.key and " << name
              << ".key_secret to its host):\n"
              << "  wattfleet-agent --controller tcp://CONTROLLER_HOST:5555 --name " << name
              << " --curve-server-key " << out << "/controller.key --curve-keypair " << out << "/"
              << name << ".key_secret\n";
  }
  std::cout << "Enrol another agent: copy its NAME.key into " << agents_dir
            << "; revoke one: delete its file there (effective at its next connection).\n";
  return Status::OK();
}

}  // namespace

int CmdKeysGenerate(const std::string& out, const std::vector<std::string>& agents,
                    const std::vector<std::string>& admins) {
  // Without names, one agent called "agent"; administrators alone make no agent.
  const std::vector<std::string> names =
      agents.empty() && admins.empty() ? std::vector<std::string>{"agent"} : agents;
  Status s = Generate(out, names, admins);
  if (s.ok()) return 0;
  std::cerr << "wattfleet keys generate: " << s.message() << "\n";
  // Bad names and files in the way are the user's input; anything else is a failure.
  const bool bad_input = s.code() == StatusCode::kInvalidArgument ||
                         s.code() == StatusCode::kAlreadyExists;
  return bad_input ? 2 : 1;
}

}  // namespace wattfleet
