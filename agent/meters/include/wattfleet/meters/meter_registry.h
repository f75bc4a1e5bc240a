// Every meter backend an agent can open, in one table: what `--sensor` accepts and its help
// lists, what `probe` shows, what `auto` tries and in which order, and where a window's
// interference is read. Adding a backend is its own meter_*.cc (its factory declared in
// meter.h), one entry in meter_registry.cc, and its test.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/meters/meter.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// Where the backends read their files and libraries (tests point them at fakes), the device
// they measure, and what the modeled meter assumes.
struct SensorRoots {
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string device = "cpu";  // "cuda:N" makes nvml measure GPU N
  // What the modeled meter assumes (its proc_root is the one above): --modeled-core-w,
  // --modeled-package-w, --modeled-idle-fraction.
  ModeledMeterOptions modeled;
};

// N of "cuda:N"; 0 for anything else.
int CudaIndex(const std::string& device);

// What else may share a backend's energy with a job: other processes' CPU time, or other
// processes' kernels on the GPU (a GPU's counter sees no CPU work).
enum class InterferenceSource { kCpuTime, kGpuProcesses };

struct MeterBackend {
  std::string_view name;
  std::string_view help;  // one line: what it measures, or why it is there
  // Place in `auto`'s order on a CPU and on a CUDA device, lowest first; 0: `auto` never
  // picks it. An estimate comes after every hardware counter.
  int auto_cpu = 0;
  int auto_cuda = 0;
  InterferenceSource interference = InterferenceSource::kCpuTime;
  Result<std::unique_ptr<Meter>> (*open)(const SensorRoots& roots) = nullptr;
};

// In the order `probe` lists them.
const std::vector<MeterBackend>& MeterBackends();
// Null for a name no backend has.
const MeterBackend* FindMeterBackend(std::string_view name);
// "auto|nvml|rapl|hwmon|android|modeled|simulated": what --sensor takes.
std::string MeterBackendChoices();

}  // namespace wattfleet
