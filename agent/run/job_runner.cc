#include "wattfleet/run/job_runner.h"

#include <spdlog/spdlog.h>

#include "wattfleet/run/allocator_regime.h"

namespace wattfleet {

InProcessRunner::InProcessRunner(Executor& executor, Meter& meter, std::string device,
                                 Telemetry* telemetry, InterferenceProbe* interference)
    : executor_(executor),
      meter_(meter),
      device_(std::move(device)),
      telemetry_(telemetry),
      interference_(interference),
      idle_(meter, SystemClock()) {
  // This process runs the jobs: every one of them in the same allocator regime.
  spdlog::info("{}", PinAllocatorRegime());
}

JobResult InProcessRunner::Run(const JobSpec& job) {
  JobResult result;
  result.job_id = job.job_id;
  result.attempt = job.attempt;
  try {
    auto workload = executor_.Prepare(job);
    if (!workload.ok()) {
      result.outcome = Outcome::kFailed;
      result.error = workload.status().message();
      return result;
    }
    auto measurement =
        Measure(**workload, meter_, idle_, job.settings, SystemClock(), telemetry_, interference_);
    if (!measurement.ok()) {
      const Status& s = measurement.status();
      result.outcome = s.code() == StatusCode::kSensor ? Outcome::kSensor : Outcome::kFailed;
      result.error = s.message();
      return result;
    }
    result.measurement = std::move(measurement).value();
    result.measurement.torch_version = executor_.torch_version();
    result.measurement.device = device_;
    result.measurement.threads = executor_.threads();
  } catch (const std::exception& e) {
    // A job must never take its runner down.
    result.outcome = Outcome::kFailed;
    result.error = std::string("unexpected error: ") + e.what();
  }
  return result;
}

}  // namespace wattfleet
