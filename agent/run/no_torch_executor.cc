// Executor for builds without libtorch (WATTFLEET_WITH_TORCH=OFF): the agent core still
// registers, heartbeats and reports, but every job is refused with the reason.
#include "wattfleet/run/executor.h"

namespace wattfleet {
namespace {

class NoTorchExecutor final : public Executor {
 public:
  Result<std::unique_ptr<Workload>> Prepare(const JobSpec& job) override {
    return Status::InvalidArgument("this agent was built without libtorch and cannot run jobs");
  }
  std::string torch_version() const override { return ""; }
  int threads() const override { return 0; }
  std::vector<DType> dtypes() const override { return {}; }
  Result<double> MeasurePeakFlops(double) override {
    return Status::Unavailable("built without libtorch");
  }
};

}  // namespace

std::string ExecutorLibtorchVersion() { return ""; }

Result<std::unique_ptr<Executor>> MakeExecutor(const ExecutorOptions& options) {
  if (options.device != "cpu") {
    return Status::InvalidArgument("--device " + options.device +
                                   ": this agent was built without libtorch");
  }
  return std::unique_ptr<Executor>(std::make_unique<NoTorchExecutor>());
}

}  // namespace wattfleet
