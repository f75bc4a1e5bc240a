// The real `wattfleet` binary under a pseudo-terminal and with stdout to a pipe: a progress bar
// ('\r' redraws, a percentage, clipped to the terminal's width, finished before the results)
// on the terminal, no '\r' in the pipe, and a --json document left alone. Then `status`'s table
// against a real `wattfleet serve`: agents alive and gone with when they were last seen, and
// quarantined jobs with their last error.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include <nlohmann/json.hpp>

#include "../unit/synthetic_dataset.h"
#include "wattfleet/campaign/campaign.h"
#include "fake_agent.h"
#include "harness.h"
#include "wattfleet/plan/planner.h"
#include "process.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

using testing::Slurp;
using testing::TempDir;

constexpr int kColumns = 72;

struct Captured {
  int code = -1;
  std::string out;  // the terminal's whole output, or stdout alone for a pipe
  std::string err;  // a pipe's stderr
};

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Waits for `pid` until `deadline`, killing it past that; the exit code, or -1.
int Reap(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "timed out";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads `fds` until each has reached its end or `deadline` has passed.
void Drain(std::vector<std::pair<int, std::string*>> fds,
           std::chrono::steady_clock::time_point deadline) {
  while (!fds.empty() && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> polled;
    for (const auto& [fd, sink] : fds) polled.push_back({fd, POLLIN, 0});
    if (::poll(polled.data(), polled.size(), 100) <= 0) continue;
    for (size_t i = polled.size(); i-- > 0;) {
      if (polled[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(polled[i].fd, buf, sizeof(buf));
      if (n > 0) {
        fds[i].second->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        // End of file, or EIO: the terminal's other side was closed by the exiting program.
        fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
  }
}

// `wattfleet ARGS` with a pseudo-terminal of kColumns columns as stdin, stdout and stderr.
// Raw mode: no "\n" -> "\r\n" translation, so every '\r' read was written by the program.
Captured RunInTerminal(const std::vector<std::string>& args, double timeout_s = 120) {
  std::vector<std::string> all{WATTFLEET_BIN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(all);
  termios raw{};
  ::cfmakeraw(&raw);
  ::cfsetispeed(&raw, B38400);
  ::cfsetospeed(&raw, B38400);
  winsize size{};
  size.ws_row = 24;
  size.ws_col = kColumns;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, &raw, &size);
  Captured c;
  if (pid < 0) {
    ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    return c;
  }
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Drain({{master, &c.out}}, deadline);
  ::close(master);
  c.code = Reap(pid, deadline);
  return c;
}

// `wattfleet ARGS` with stdout and stderr to two pipes.
Captured RunInPipes(const std::vector<std::string>& args, double timeout_s = 120) {
  std::vector<std::string> all{WATTFLEET_BIN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(all);
  int out[2], err[2];
  Captured c;
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return c;
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid > 0) Drain({{out[0], &c.out}, {err[0], &c.err}}, deadline);
  ::close(out[0]);
  ::close(err[0]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return c;
  }
  c.code = Reap(pid, deadline);
  return c;
}

// A '\r' that only ends a line ("\r\n") redraws nothing.
std::vector<size_t> Redraws(const std::string& s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) at.push_back(i);
  }
  return at;
}

// What the terminal showed after each redraw: up to the next '\r' or newline.
std::vector<std::string> Frames(const std::string& s) {
  std::vector<std::string> frames;
  for (size_t at : Redraws(s)) {
    const size_t end = s.find_first_of("\r\n", at + 1);
    frames.push_back(s.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1));
  }
  return frames;
}

// A bar that was drawn, fitted the terminal, reached 100 % and was finished with a newline
// before `result` (text the command prints once done) appeared.
void ExpectBarBefore(const Captured& c, const std::string& label, const std::string& result) {
  const std::vector<std::string> frames = Frames(c.out);
  ASSERT_FALSE(frames.empty()) << "no '\\r' redraw on a terminal:\n" << c.out;
  const std::regex figures("\\d+/\\d+ +\\d+%");
  bool percentage = false;
  for (const std::string& f : frames) {
    EXPECT_LE(f.size(), static_cast<size_t>(kColumns - 1)) << "wider than the terminal: " << f;
    percentage = percentage || std::regex_search(f, figures);
  }
  EXPECT_TRUE(percentage) << c.out;
  EXPECT_EQ(frames.back().rfind(label + " [", 0), 0u) << frames.back();
  EXPECT_NE(frames.back().find("100%"), std::string::npos) << frames.back();
  const size_t last = Redraws(c.out).back();
  const size_t shown = c.out.find(result, last);
  ASSERT_NE(shown, std::string::npos) << "'" << result << "' not after the bar:\n" << c.out;
  EXPECT_LT(c.out.find('\n', last), shown) << "results on the bar's line:\n" << c.out;
}

TEST(ProgressCli, FitDrawsABarOnATerminalAndNoCarriageReturnInAPipe) {
  TempDir dir;
  const std::string db = dir.File("dataset.db");
  testing::BuildSyntheticDataset(db);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::vector<std::string> fit = {"fit", "--db", db, "--estimator", "wattlayer"};

  const Captured tty = RunInTerminal(fit);
  ASSERT_EQ(tty.code, 0) << tty.out;
  ExpectBarBefore(tty, "fit", "median APE");

  const Captured piped = RunInPipes(fit);
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_NE(piped.out.find("median APE"), std::string::npos) << piped.out;
  EXPECT_EQ(piped.out.find('\r'), std::string::npos) << piped.out;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
}

// Sets an environment variable for the children this test starts; restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ProgressCli, FitJsonKeepsStdoutOneDocumentEvenOnATerminal) {
  TempDir dir;
  const std::string db = dir.File("dataset.db");
  testing::BuildSyntheticDataset(db);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::vector<std::string> fit = {"fit", "--db", db, "--estimator", "wattlayer", "--json"};

  // A plain line on every update (the fit ends long before the default 5 s): the lines are
  // printed, and must all go to stderr.
  const ScopedEnv every_update("WATTFLEET_PROGRESS_INTERVAL_S", "0");
  const Captured piped = RunInPipes(fit);
  ASSERT_EQ(piped.code, 0) << piped.err;
  const auto doc = nlohmann::json::parse(piped.out);  // the document and nothing else
  EXPECT_FALSE(doc["results"].empty());
  EXPECT_TRUE(std::regex_search(piped.err, std::regex("(^|\n)fit: \\d+/\\d+")))
      << "no progress line on stderr:\n" << piped.err;

  const Captured tty = RunInTerminal(fit);
  ASSERT_EQ(tty.code, 0) << tty.out;
  EXPECT_TRUE(Redraws(tty.out).empty()) << "a bar with --json:\n" << tty.out;
  EXPECT_NE(tty.out.find("\"results\""), std::string::npos) << tty.out;
}

TEST(ProgressCli, ImportDrawsABarOnATerminalAndNoCarriageReturnInAPipe) {
  TempDir dir;
  {
    std::ofstream(dir.File("ops.csv")) << "op,flops,ms\n"
                                          "matmul,2e9,4\n"
                                          "matmul,4e9,6\n"
                                          "softmax,1e6,1\n";
    std::ofstream(dir.File("map.yaml")) << "source: toy\n"
                                           "csv: ops.csv\n"
                                           "device: {name: gpu-a, peak_flops: 10e12}\n"
                                           "record:\n"
                                           "  kind: operation\n"
                                           "  name: \"{op}\"\n"
                                           "  flops: flops\n"
                                           "  time_s: ms / 1000\n";
  }
  const Captured tty = RunInTerminal(
      {"import", "--db", dir.File("a.db"), "--mapping", dir.File("map.yaml")});
  ASSERT_EQ(tty.code, 0) << tty.out;
  ExpectBarBefore(tty, "storing CSVs", "3 rows stored");
  EXPECT_NE(tty.out.find("reading CSVs ["), std::string::npos) << tty.out;

  const Captured piped =
      RunInPipes({"import", "--db", dir.File("b.db"), "--mapping", dir.File("map.yaml")});
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_NE(piped.out.find("3 rows stored"), std::string::npos) << piped.out;
  EXPECT_EQ(piped.out.find('\r'), std::string::npos) << piped.out;
}

// One line of `status`'s agent table.
std::string AgentLine(const std::string& status, const std::string& name) {
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) return line;
  }
  return "";
}

TEST(ProgressCli, SubmitWaitDrawsABarAndStatusShowsAgentsAndQuarantinedJobs) {
  TempDir dir;
  const std::string campaign = dir.File("small.yaml");
  std::ofstream(campaign) << "name: small\n"
                             "devices: [{class: cpu}]\n"
                             "architectures:\n"
                             "  - family: mlp\n"
                             "    sweep: {depth: [1], width: [16], input: [32]}\n"
                             "plan: {layers: distinct, whole_models: true}\n";
  auto parsed = LoadCampaignFile(campaign);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto plan = MakePlan(*parsed);
  ASSERT_TRUE(plan.ok());
  const size_t planned = plan->jobs.size();
  ASSERT_GE(planned, 2u);

  // Heartbeats every 2 s: the test's agent answers jobs and status runs well within 3 of them.
  auto serve = ChildProcess::Start(
      {WATTFLEET_BIN, "serve", "--db", dir.File("lab.db"), "--bind", "tcp://127.0.0.1:*",
       "--admin", "ipc://" + dir.File("admin"), "--heartbeat-ms", "2000", "--max-attempts", "1",
       "--ready-file", dir.File("ready.json")},
      dir.File("serve.log"));
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  const auto endpoints =
      testing::WaitForReady(*serve, dir.File("ready.json"), dir.File("serve.log"));
  ASSERT_TRUE(endpoints);

  zmq::context_t ctx(1);
  testing::FakeAgent agent(ctx, endpoints->endpoint, "fa-1");
  agent.Send(Command::kReady, Encode(testing::Ready("fa-1")));
  auto welcome = agent.Receive();
  ASSERT_TRUE(welcome && welcome->command == Command::kWelcome);

  Captured submit;
  std::thread waiting([&] {
    submit = RunInTerminal({"submit", campaign, "--admin", endpoints->admin, "--wait"}, 60);
  });
  // The first job fails with an infrastructure error and, at one attempt allowed, is
  // quarantined; the others are measured.
  size_t answered = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (answered < planned && std::chrono::steady_clock::now() < until) {
    auto msg = agent.Receive(std::chrono::milliseconds(1000));
    if (!msg || msg->command != Command::kJob) continue;
    auto job = DecodeJob(msg->body);
    if (!job.ok()) {  // no ASSERT while `waiting` runs: it must be joined
      ADD_FAILURE() << job.status().ToString();
      break;
    }
    if (answered++ == 0) {
      JobResult failed;
      failed.job_id = job->job_id;
      failed.attempt = job->attempt;
      failed.outcome = Outcome::kTimeout;
      failed.error = "ran past its lease on purpose";
      agent.Send(Command::kNack, Encode(failed));
    } else {
      agent.Send(Command::kResult, Encode(testing::Done(*job)));
    }
  }
  waiting.join();
  EXPECT_EQ(answered, planned);
  // Done, but with a job quarantined: as `run`, the wait is not a success, and says so.
  ASSERT_EQ(submit.code, 1) << submit.out;
  ExpectBarBefore(submit, "campaign 1", "campaign 1 done");
  EXPECT_NE(submit.out.find("1 job(s) unmeasured"), std::string::npos) << submit.out;

  agent.Send(Command::kHeartbeat, EncodeEmpty());
  const Captured alive = RunInPipes({"status", "--admin", endpoints->admin}, 20);
  ASSERT_EQ(alive.code, 0) << alive.err;
  EXPECT_NE(alive.out.find("quarantined 1"), std::string::npos) << alive.out;  // jobs by state
  EXPECT_NE(alive.out.find("quarantined jobs"), std::string::npos) << alive.out;
  EXPECT_NE(alive.out.find("ran past its lease on purpose"), std::string::npos) << alive.out;
  EXPECT_NE(alive.out.find("last seen"), std::string::npos) << alive.out;
  const std::regex alive_row("^fa-1 +yes +cpu +simulated +0 +[0-9]+\\.[0-9] s ago$");
  EXPECT_TRUE(std::regex_search(AgentLine(alive.out, "fa-1"), alive_row)) << alive.out;

  // A departed agent stays listed, not alive, with when it was last seen and why it left.
  agent.Send(Command::kDisconnect, Encode(DisconnectMsg{"done for today"}));
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    const Captured json = RunInPipes({"status", "--admin", endpoints->admin, "--json"}, 20);
    ASSERT_EQ(json.code, 0) << json.err;
    const auto doc = nlohmann::json::parse(json.out);
    ASSERT_EQ(doc["agents"].size(), 1u) << json.out;
    gone = doc["agents"][0]["alive"] == false;
    if (gone) {
      EXPECT_GE(doc["agents"][0]["last_seen_s"].get<double>(), 0) << json.out;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(gone) << Slurp(dir.File("serve.log"));
  const Captured after = RunInPipes({"status", "--admin", endpoints->admin}, 20);
  ASSERT_EQ(after.code, 0) << after.err;
  const std::regex gone_row(
      "^fa-1 +no +cpu +simulated +0 +[0-9]+\\.[0-9] s ago  \\(agent said DISCONNECT\\)$");
  EXPECT_TRUE(std::regex_search(AgentLine(after.out, "fa-1"), gone_row)) << after.out;

  serve->Signal(SIGTERM);
  auto code = serve->Wait(30);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << Slurp(dir.File("serve.log"));
}

}  // namespace
}  // namespace wattfleet
