// Other processes' work on the measured GPU (interference.h), from NVML's per-process
// utilisation samples: the driver keeps, per process with a context on the GPU, the share of
// each of its sampling periods (about 1/6 s) that the process's kernels ran. The share others
// kept over a window is the sum, over every process but the measuring one, of its mean SM
// utilisation in the samples taken since the window began.
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <map>
#include <vector>

#include "interference.h"
#include "nvml_library.h"

namespace wattfleet {
namespace {

using namespace nvml;  // NOLINT: NVML through and through

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

  Result<double> End(double /*wall_s*/) override {
    WF_ASSIGN_OR_RETURN(std::vector<nvmlProcessUtilizationSample_t> samples, Samples(since_));
    std::map<unsigned int, std::pair<double, int>> by_pid;  // sum of smUtil, samples
    for (const auto& s : samples) {
      if (static_cast<pid_t>(s.pid) == self_ || s.timeStamp < since_) continue;
      auto& [sum, n] = by_pid[s.pid];
      sum += s.smUtil;
      ++n;
    }
    double share = 0;
    for (const auto& [pid, acc] : by_pid) share += acc.first / acc.second / 100.0;
    return share;
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
