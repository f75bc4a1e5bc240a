// How jobs are run. In this process: how a failure is classified. In a child process (job
// isolation): a crash is KILLED, a hang is TIMEOUT, and the runner (so the agent) carries on
// with a fresh worker. The misbehaving worker is a stand-in
// behind the runner's command line; the real exec-worker runs a real libtorch job.
#include <gtest/gtest.h>

#include <chrono>

#include "../unit/fake_meter.h"
#include "wattfleet/run/job_runner.h"
#include "wattfleet/common/architecture.h"

namespace wattfleet {
namespace {

JobSpec Job(int64_t id, const std::string& subject, int64_t lease_ms = 10000) {
  JobSpec job;
  job.job_id = id;
  job.attempt = 1;
  job.batch = 1;
  job.subject = subject;
  job.lease_ms = lease_ms;
  auto arch = BuildSequential("t", "t", {8}, {{LayerType::kLinear, {{"in_features", 8}, {"out_features", 4}}, ""}});
  job.graph = *arch;
  return job;
}

std::unique_ptr<JobRunner> FakeRunner() {
  ChildRunnerOptions o;
  o.argv = {FAKE_EXEC_WORKER};
  return MakeChildProcessRunner(o);
}

// Real time per iteration: the in-process runner measures on the system clock.
class SpinWorkload final : public Workload {
 public:
  Status Run(int64_t iterations) override {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20) * iterations;
    while (std::chrono::steady_clock::now() < until) {
    }
    return Status::OK();
  }
};

// An executor whose every job spins, or is refused.
class FakeExecutor final : public Executor {
 public:
  Result<std::unique_ptr<Workload>> Prepare(const JobSpec& job) override {
    if (job.subject == "refused") return Status::InvalidArgument("no kernel for this layer");
    return std::unique_ptr<Workload>(std::make_unique<SpinWorkload>());
  }
  std::string torch_version() const override { return ""; }
  int threads() const override { return 1; }
  std::vector<DType> dtypes() const override { return {DType::kFloat32}; }
  Result<double> MeasurePeakFlops(double) override { return 1e9; }
};

// How a job ended is decided by the Status code, not by the words of its message: a meter
// error is a SENSOR failure (retried elsewhere), a job the executor refuses is FAILED.
TEST(InProcessRunner, AMeterErrorIsASensorFailureAndARefusedJobFailed) {
  testing::FakeClock clock;
  testing::FakeMeter meter(clock);
  meter.tamper = [](int, double) -> Result<double> { return Status::IOError("energy_uj: gone"); };
  FakeExecutor executor;
  InProcessRunner runner(executor, meter, "fake-device");

  const JobResult sensor = runner.Run(Job(1, "ok"));
  EXPECT_EQ(sensor.outcome, Outcome::kSensor) << sensor.error;
  EXPECT_NE(sensor.error.find("energy_uj: gone"), std::string::npos) << sensor.error;

  const JobResult refused = runner.Run(Job(2, "refused"));
  EXPECT_EQ(refused.outcome, Outcome::kFailed) << refused.error;
  EXPECT_NE(refused.error.find("no kernel"), std::string::npos) << refused.error;
}

TEST(ChildRunner, HealthyJobsShareOneWorker) {
  auto runner = FakeRunner();
  JobResult a = runner->Run(Job(1, "ok"));
  JobResult b = runner->Run(Job(2, "ok"));
  ASSERT_EQ(a.outcome, Outcome::kDone) << a.error;
  ASSERT_EQ(b.outcome, Outcome::kDone) << b.error;
  EXPECT_EQ(a.job_id, 1);
  EXPECT_EQ(a.measurement.device, b.measurement.device);  // same worker process
}

TEST(ChildRunner, CrashIsKilledAndTheNextJobGetsAFreshWorker) {
  auto runner = FakeRunner();
  JobResult before = runner->Run(Job(1, "ok"));
  JobResult crash = runner->Run(Job(2, "crash"));
  EXPECT_EQ(crash.outcome, Outcome::kKilled);
  EXPECT_NE(crash.error.find("signal 6"), std::string::npos) << crash.error;
  EXPECT_EQ(crash.job_id, 2);
  JobResult after = runner->Run(Job(3, "ok"));
  ASSERT_EQ(after.outcome, Outcome::kDone) << after.error;
  EXPECT_NE(after.measurement.device, before.measurement.device);  // a new process
}

TEST(ChildRunner, ExitIsKilledWithItsCode) {
  auto runner = FakeRunner();
  JobResult r = runner->Run(Job(1, "exit"));
  EXPECT_EQ(r.outcome, Outcome::kKilled);
  EXPECT_NE(r.error.find("code 3"), std::string::npos) << r.error;
}

TEST(ChildRunner, HangIsTimedOutAtItsLease) {
  auto runner = FakeRunner();
  const auto start = std::chrono::steady_clock::now();
  JobResult r = runner->Run(Job(1, "hang", /*lease_ms=*/300));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
  EXPECT_GE(took, 0.3);
  EXPECT_LT(took, 10.0);
  EXPECT_EQ(runner->Run(Job(2, "ok")).outcome, Outcome::kDone);
}

TEST(ChildRunner, GarbageAnswerIsKilled) {
  auto runner = FakeRunner();
  EXPECT_EQ(runner->Run(Job(1, "garbage")).outcome, Outcome::kKilled);
  EXPECT_EQ(runner->Run(Job(2, "ok")).outcome, Outcome::kDone);
}

TEST(ChildRunner, MissingWorkerBinaryIsKilledNotACrash) {
  ChildRunnerOptions o;
  o.argv = {"/nonexistent/wattfleet-exec-worker"};
  auto runner = MakeChildProcessRunner(o);
  JobResult r = runner->Run(Job(1, "ok"));
  EXPECT_EQ(r.outcome, Outcome::kKilled);
}

#ifdef WATTFLEET_AGENT_BIN
TEST(ChildRunner, RealExecWorkerMeasuresAndTimesOut) {
  ChildRunnerOptions o;
  o.argv = {WATTFLEET_AGENT_BIN, "--sensor", "simulated", "--threads", "1", "--log-level",
            "warn", "exec-worker"};
  auto runner = MakeChildProcessRunner(o);
  JobSpec job = Job(1, "linear");
  job.settings.warmup_ms = 5;
  job.settings.min_window_ms = 20;
  job.settings.min_repeats = 2;
  job.settings.max_repeats = 3;
  job.settings.cooldown_ms = 0;
  job.settings.target_rel_ci = 0.5;
  JobResult r = runner->Run(job);
  ASSERT_EQ(r.outcome, Outcome::kDone) << r.error;
  EXPECT_EQ(r.measurement.sensor, "simulated");
  EXPECT_GT(r.measurement.time_per_iter_s, 0);
  EXPECT_FALSE(r.measurement.torch_version.empty());

  // A real job far longer than its lease: killed at the lease, reported TIMEOUT.
  JobSpec slow = Job(2, "slow", /*lease_ms=*/1000);
  auto big = BuildSequential("big", "t", {4096}, {{LayerType::kLinear, {{"in_features", 4096}, {"out_features", 4096}}, ""}});
  slow.graph = *big;
  slow.batch = 512;
  slow.settings = job.settings;
  slow.settings.warmup_ms = 60000;  // a minute of warm-up alone
  JobResult t = runner->Run(slow);
  EXPECT_EQ(t.outcome, Outcome::kTimeout) << t.error;
  EXPECT_EQ(runner->Run(job).outcome, Outcome::kDone);
}
#endif

}  // namespace
}  // namespace wattfleet
