// How a job is run: in this process (the executor and the meter right here), or in a child
// process that can be killed when the job crashes, hangs or exhausts memory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wattfleet/run/executor.h"
#include "wattfleet/monitor/measurement_loop.h"
#include "wattfleet/meters/meter.h"
#include "wattfleet/common/job.h"

namespace wattfleet {

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Runs one job to its end and says how it ended; never throws. Fills the measurement's
  // torch_version, device and threads; the agent adds its own name and version.
  virtual JobResult Run(const JobSpec& job) = 0;
};

// Prepare + Measure in the calling thread. The idle baseline is cached across jobs. With
// `telemetry`, every measurement records temperature and clock before and after.
class InProcessRunner final : public JobRunner {
 public:
  // With `interference`, every window's interference is measured (measurement_loop.h).
  InProcessRunner(Executor& executor, Meter& meter, std::string device,
                  Telemetry* telemetry = nullptr, InterferenceProbe* interference = nullptr);
  JobResult Run(const JobSpec& job) override;

 private:
  Executor& executor_;
  Meter& meter_;
  std::string device_;
  Telemetry* telemetry_;
  InterferenceProbe* interference_;
  IdleBaseline idle_;
};

struct ChildRunnerOptions {
  // The worker's command line; it must speak the exec-worker protocol (exec_worker.h) on its
  // stdin/stdout. Normally `wattfleet-agent exec-worker ...` with the agent's own flags.
  std::vector<std::string> argv;
  // A job may take at most its lease (JobSpec::lease_ms) times this before it is killed.
  double time_limit_factor = 1.0;
  // A limit for jobs without a lease, in seconds.
  double default_time_limit_s = 3600;
};

// Runs each job in a long-lived child process (started on the first job, restarted after a
// kill). A job that outlives its time limit is killed and reported TIMEOUT; a child that dies
// (a crash, the out-of-memory killer) is reported KILLED. The agent itself survives both.
std::unique_ptr<JobRunner> MakeChildProcessRunner(ChildRunnerOptions options);

}  // namespace wattfleet
