// Other processes' work on the measured GPU (interference.h), from NVML's per-process
// utilisation samples: the driver keeps, per process that ran kernels, the share of each of
// its sampling periods (about 1/6 s) that they ran. The share of the GPU others kept over a
// window is the sum of their samples' shares since the window began, over the number of
// sampling periods in the window (a process that ran in one period of six kept a sixth).
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <set>
#include <vector>

#include "wattfleet/monitor/interference.h"
#include "wattfleet/meters/nvml_library.h"

namespace wattfleet {
namespace {

using namespace nvml;  // NOLINT: NVML through and through

// The driver's per-process sampling period (about 1/6 s on current GPUs; NVML documents none).
constexpr double kSamplePeriodS = 1.0 / 6.0;
// Windows at least this long, of the agent's own work, must show its own samples; shorter
// ones (the idle baseline's) may not.
constexpr double kJudgeWindowS = 0.5;

// NVML's sample timestamps are CPU time in microseconds since the epoch.
unsigned long long NowMicros() {
  return static_cast<unsigned long long>(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

class NvmlInterference final : public InterferenceProbe {
 public:
  NvmlInterference(OpenedDevice opened, pid_t self)
      : lib_(std::move(opened.lib)),
        device_(opened.device),
        index_(opened.nvml_index),
        model_(std::move(opened.model)),
        self_(self) {}

  Status Begin() override {
    since_ = NowMicros();
    return Status::OK();
  }

  Result<double> End(double wall_s) override {
    if (unmatched_) return Unmatched();
    WF_ASSIGN_OR_RETURN(std::vector<nvmlProcessUtilizationSample_t> samples, Samples(since_));
    double others = 0;  // the sum of other processes' per-period shares
    bool self_ran = false;
    std::set<unsigned long long> periods;
    for (const auto& s : samples) {
      if (s.timeStamp < since_) continue;
      periods.insert(s.timeStamp);
      if (static_cast<pid_t>(s.pid) == self_) {
        self_ran = true;
      } else {
        others += s.smUtil / 100.0;
      }
    }
    // NVML names processes by the host's pids: in a container (another PID namespace) this
    // process's own kernels would read as another's. A timed window of its own work during
    // which only "others" ran means exactly that: say so rather than discard every window.
    if (!self_ran && others > 0 && wall_s >= kJudgeWindowS) {
      unmatched_ = true;
      return Unmatched();
    }
    const double n = std::max(static_cast<double>(periods.size()), wall_s / kSamplePeriodS);
    return n > 0 ? others / std::max(n, 1.0) : 0.0;
  }

 private:
  Result<std::vector<nvmlProcessUtilizationSample_t>> Samples(unsigned long long since) {
    unsigned int count = 0;
    nvmlReturn_t rc = lib_->get_process_utilization(device_, nullptr, &count, since);
    // No process ran a kernel since `since`: nothing shared the GPU.
    if (rc == NVML_ERROR_NOT_FOUND || (rc == NVML_SUCCESS && count == 0)) return std::vector<nvmlProcessUtilizationSample_t>{};
    if (rc != NVML_SUCCESS && rc != NVML_ERROR_INSUFFICIENT_SIZE) return Error(rc);
    // Room for processes that start between the two calls.
    std::vector<nvmlProcessUtilizationSample_t> samples(count + 16);
    count = static_cast<unsigned int>(samples.size());
    rc = lib_->get_process_utilization(device_, samples.data(), &count, since);
    if (rc == NVML_ERROR_NOT_FOUND) return std::vector<nvmlProcessUtilizationSample_t>{};
    if (rc != NVML_SUCCESS) return Error(rc);
    samples.resize(std::min<size_t>(count, samples.size()));
    return samples;
  }

  Status Unmatched() const {
    return Status::Unavailable(
        "nvml interference: " + Describe(index_, model_) + "'s process samples never name "
        "this process (pid " + std::to_string(self_) + "; in another PID namespace?): GPU "
        "interference not measured");
  }

  Status Error(nvmlReturn_t rc) const {
    return Status::Unavailable("nvmlDeviceGetProcessUtilization(" + Describe(index_, model_) +
                               "): " + lib_->ErrorString(rc));
  }

  std::unique_ptr<NvmlLibrary> lib_;
  nvmlDevice_t device_;
  int index_;
  std::string model_;
  pid_t self_;
  unsigned long long since_ = 0;
  bool unmatched_ = false;
};

}  // namespace

Result<std::unique_ptr<InterferenceProbe>> MakeNvmlInterference(int device_index,
                                                                const std::string& library,
                                                                pid_t self) {
  WF_ASSIGN_OR_RETURN(OpenedDevice opened,
                      OpenDevice(device_index, library, "nvml interference"));
  if (opened.lib->get_process_utilization == nullptr) {
    return Status::Unavailable(library + " has no nvmlDeviceGetProcessUtilization: GPU "
                               "interference cannot be measured with this driver");
  }
  // One call now, so that a GPU without per-process samples says so at start-up rather than
  // at the first window.
  auto probe = std::make_unique<NvmlInterference>(std::move(opened), self);
  WF_RETURN_IF_ERROR(probe->Begin());
  WF_RETURN_IF_ERROR(probe->End(0).status());
  return std::unique_ptr<InterferenceProbe>(std::move(probe));
}

}  // namespace wattfleet
