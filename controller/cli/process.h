// A child process owned by RAII: started with posix_spawn, asked to stop with SIGTERM and, if
// it does not, killed when the handle goes away. Used by embedded mode to run real agent
// processes and by integration tests to run the real binaries.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`. stdout/stderr go to `log_path` when given (appended),
  // otherwise they are inherited. With `search_path`, a name without '/' is looked up on PATH
  // as a shell would. With `stdout_to_stderr` (and no log), the child's stdout is this
  // process's stderr. NotFound when there is no such program.
  static Result<ChildProcess> Start(const std::vector<std::string>& argv,
                                    const std::string& log_path = "", bool search_path = false,
                                    bool stdout_to_stderr = false);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Stops the process (SIGTERM, then SIGKILL after a grace period) if still running.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Non-blocking: true while the process runs.
  bool Running();
  // Sends a signal; OK when the process is already gone.
  void Signal(int signo);
  // Waits up to `timeout_s` for the exit; returns the exit code (128 + signal for a signal),
  // or Timeout.
  Result<int> Wait(double timeout_s);
  // Blocks until the process exits (no polling: its end is seen at once); its exit code.
  int WaitForExit();
  // SIGTERM, wait `grace_s`, then SIGKILL; returns the exit code.
  int Stop(double grace_s = 10);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// The directory of the running executable.
std::string SelfDirectory();
// Finds `name` next to the running executable, in the build tree's sibling folder
// (../agent/NAME), or on PATH; the environment variable `env_override` wins when set.
Result<std::string> FindSiblingBinary(const std::string& name, const std::string& sibling_dir,
                                      const char* env_override);

}  // namespace wattfleet
