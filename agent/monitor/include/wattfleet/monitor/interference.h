// What else kept the measured device busy while a window ran (docs/measurement.md,
// "Interference"): the measurement loop asks before and after each window and discards the
// windows that shared the device. A CPU package's or a board's meter is shared with every
// process's CPU work; a GPU's NVML counter with other processes' kernels on that GPU.
#pragma once

#include <memory>
#include <sys/types.h>

#include "wattfleet/monitor/cpu_activity.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

class InterferenceProbe {
 public:
  virtual ~InterferenceProbe() = default;
  // Right before a window.
  virtual Status Begin() = 0;
  // Right after it, `wall_s` later: how much of the device others kept busy on average, in the
  // device's unit: CPU cores for a CPU meter, GPUs (the share of the SMs) for a GPU's.
  virtual Result<double> End(double wall_s) = 0;
};

// Others' busy CPU cores from `source` (procfs: the machine against the measuring process).
class CpuInterference final : public InterferenceProbe {
 public:
  explicit CpuInterference(CpuActivitySource& source) : source_(source) {}
  Status Begin() override;
  Result<double> End(double wall_s) override;

 private:
  CpuActivitySource& source_;
  CpuActivity before_;
};

// Others' share of NVIDIA GPU `device_index` (cuda:N, mapped as the meter maps it), from
// NVML's per-process utilisation samples of every process but `self` (the one running the
// jobs). Unavailable where the driver keeps no per-process samples (the loop then measures
// no interference rather than failing jobs).
Result<std::unique_ptr<InterferenceProbe>> MakeNvmlInterference(int device_index,
                                                                const std::string& library,
                                                                pid_t self);

}  // namespace wattfleet
