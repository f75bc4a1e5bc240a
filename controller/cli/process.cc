#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace wattfleet {

Result<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                         const std::string& log_path, bool search_path,
                                         bool stdout_to_stderr) {
  if (argv.empty()) return Status::InvalidArgument("no program to start");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  } else if (stdout_to_stderr) {
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  }
  pid_t pid = -1;
  const int rc = search_path
                     ? posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ)
                     : posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT) return Status::NotFound("cannot start " + argv[0] + ": " + std::strerror(rc));
  if (rc != 0) {
    return Status::IOError("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Stop(2);
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Stop(5);
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exit_code_ >= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    exit_code_ = 255;  // not our child any more: nothing to wait for
  }
  return false;
}

void ChildProcess::Signal(int signo) {
  if (Running()) ::kill(pid_, signo);
}

Result<int> ChildProcess::Wait(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Timeout("process " + std::to_string(pid_) + " still running");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

int ChildProcess::WaitForExit() {
  if (pid_ <= 0 || exit_code_ >= 0) return exit_code_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    exit_code_ = 255;
  }
  return exit_code_;
}

int ChildProcess::Stop(double grace_s) {
  if (pid_ <= 0) return exit_code_;
  Signal(SIGTERM);
  auto code = Wait(grace_s);
  if (!code.ok()) {
    Signal(SIGKILL);
    code = Wait(5);
  }
  pid_ = -1;
  return code.ok() ? *code : -1;
}

std::string SelfDirectory() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

Result<std::string> FindSiblingBinary(const std::string& name, const std::string& sibling_dir,
                                      const char* env_override) {
  if (const char* env = env_override ? std::getenv(env_override) : nullptr; env && *env) {
    if (::access(env, X_OK) == 0) return std::string(env);
    return Status::NotFound(std::string(env_override) + "=" + env + " is not executable");
  }
  const std::string dir = SelfDirectory();
  for (const std::string& candidate :
       {dir + "/" + name, dir + "/../" + sibling_dir + "/" + name}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  if (const char* path = std::getenv("PATH")) {
    std::string p(path);
    size_t start = 0;
    while (start <= p.size()) {
      const size_t end = p.find(':', start);
      const std::string d = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
      const std::string candidate = (d.empty() ? "." : d) + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return Status::NotFound("cannot find " + name + " next to " + dir + " or on PATH");
}

}  // namespace wattfleet
