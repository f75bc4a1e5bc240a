// What this device is, and which sensor backends work here: for READY and `probe --json`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "interference.h"
#include "meter.h"
#include "telemetry.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct DeviceInfo {
  std::string hostname;
  std::string cpu_model;
  int64_t cores = 0;
  int64_t memory_bytes = 0;
  std::string os;  // kernel release
};

DeviceInfo ProbeDevice(const std::string& proc_root = "/proc");

struct SensorProbe {
  std::string backend;
  bool available = false;
  std::string reason;  // why (not) available
};

struct SensorRoots {
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string device = "cpu";  // "cuda:N" makes nvml measure GPU N
  // What the modeled meter assumes (its proc_root is the one above): --modeled-core-w,
  // --modeled-package-w, --modeled-idle-fraction.
  ModeledMeterOptions modeled;
};

// Every backend of docs/measurement.md with its availability here.
std::vector<SensorProbe> ProbeSensors(const SensorRoots& roots);

// Opens the named backend; "auto" picks the best available one for the device and says why
// in `why`: nvml for a cuda device, then rapl, hwmon, android, and modeled last. `simulated`
// is only ever opened when asked for by name.
Result<std::unique_ptr<Meter>> OpenMeter(const std::string& backend, const SensorRoots& roots,
                                         std::string* why);

// Temperature and clock for `roots.device`: NVML for a cuda device when libnvidia-ml loads,
// else sysfs (the CPU). Never fails, since a device that exposes nothing still measures;
// `why` says which backend and, after a fallback, why.
std::unique_ptr<Telemetry> OpenTelemetry(const SensorRoots& roots, std::string* why = nullptr);

// What may share `meter`'s energy with the jobs of process `self` (interference.h): other
// processes' kernels on the GPU for nvml (NVML's per-process samples), other processes' CPU
// work, read from `cpu`, for every other meter. Null when it cannot be measured here; `why`
// says which and, when null, why.
std::unique_ptr<InterferenceProbe> OpenInterference(const Meter& meter, const SensorRoots& roots,
                                                    CpuActivitySource& cpu, pid_t self,
                                                    std::string* why = nullptr);

}  // namespace wattfleet
