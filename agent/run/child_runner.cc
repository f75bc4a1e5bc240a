// Jobs in a child process: the one place where the agent survives a job that crashes, hangs or
// exhausts memory (docs/measurement.md, "Isolation").
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wattfleet/run/exec_worker.h"
#include "wattfleet/run/job_runner.h"
#include "wattfleet/common/protocol.h"

extern char** environ;

namespace wattfleet {
namespace {

class ChildProcessRunner final : public JobRunner {
 public:
  explicit ChildProcessRunner(ChildRunnerOptions options) : options_(std::move(options)) {}
  ~ChildProcessRunner() override { Stop(); }

  JobResult Run(const JobSpec& job) override {
    JobResult result;
    result.job_id = job.job_id;
    result.attempt = job.attempt;
    if (Status s = EnsureStarted(); !s.ok()) {
      result.outcome = Outcome::kKilled;
      result.error = s.message();
      return result;
    }
    if (Status s = WriteFrame(to_child_, Encode(job)); !s.ok()) {
      result.outcome = Outcome::kKilled;
      result.error = "exec-worker " + Reap();
      return result;
    }
    const double limit = job.lease_ms > 0
                             ? job.lease_ms / 1000.0 * options_.time_limit_factor
                             : options_.default_time_limit_s;
    auto frame = ReadFrame(from_child_, limit);
    if (!frame.ok()) {
      if (frame.status().code() == StatusCode::kTimeout) {
        Kill();
        result.outcome = Outcome::kTimeout;
        result.error = "job exceeded its time limit of " + std::to_string(limit) +
                       " s; its worker process was killed";
      } else {
        result.outcome = Outcome::kKilled;
        result.error = "exec-worker " + Reap();
      }
      return result;
    }
    auto decoded = DecodeJobResult(*frame);
    if (!decoded.ok() || decoded->job_id != job.job_id) {
      Kill();
      result.outcome = Outcome::kKilled;
      result.error = "exec-worker sent an unreadable result: " +
                     (decoded.ok() ? std::string("wrong job id") : decoded.status().message());
      return result;
    }
    return std::move(decoded).value();
  }

 private:
  Status EnsureStarted() {
    if (pid_ > 0) return Status::OK();
    if (options_.argv.empty()) return Status::InvalidArgument("no exec-worker command");
    int in[2], out[2];  // in: parent -> child stdin; out: child stdout -> parent
    if (::pipe2(in, O_CLOEXEC) != 0) return Status::IOError(std::strerror(errno));
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return Status::IOError(std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (auto& a : options_.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, options_.argv[0].c_str(), &actions, nullptr, args.data(),
                                 environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      return Status::IOError("cannot start exec-worker " + options_.argv[0] + ": " +
                             std::strerror(rc));
    }
    pid_ = pid;
    to_child_ = in[1];
    from_child_ = out[0];
    spdlog::debug("agent: exec-worker {} started", pid_);
    return Status::OK();
  }

  // Waits for the child after its stream ended and says how it ended.
  std::string Reap() {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    std::string how;
    if (r != pid_) {
      how = "vanished";
    } else if (WIFSIGNALED(status)) {
      const int sig = WTERMSIG(status);
      how = "killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")" +
            (sig == SIGKILL ? ", e.g. by the out-of-memory killer" : "");
    } else {
      how = "exited with code " + std::to_string(WEXITSTATUS(status));
    }
    CloseFds();
    pid_ = -1;
    return how;
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    Reap();
  }

  // Closing its stdin ends a healthy worker; one that does not go is killed.
  void Stop() {
    if (pid_ <= 0) return;
    ::close(to_child_);
    to_child_ = -1;
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        CloseFds();
        return;
      }
      ::usleep(20000);
    }
    Kill();
  }

  void CloseFds() {
    if (to_child_ >= 0) ::close(to_child_);
    if (from_child_ >= 0) ::close(from_child_);
    to_child_ = from_child_ = -1;
  }

  ChildRunnerOptions options_;
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
};

}  // namespace

std::unique_ptr<JobRunner> MakeChildProcessRunner(ChildRunnerOptions options) {
  return std::make_unique<ChildProcessRunner>(std::move(options));
}

}  // namespace wattfleet
