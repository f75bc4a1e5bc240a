// What this device is, and which sensor backends work here: for READY and `probe --json`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wattfleet/monitor/interference.h"
#include "wattfleet/meters/meter.h"
#include "wattfleet/meters/meter_registry.h"
#include "wattfleet/meters/telemetry.h"
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

// The BLAS this process has loaded, which libtorch's CPU matrix products (Linear, attention,
// some 1x1 convolutions) run through: the library's path from `<proc_root>/self/maps` and
// what it is ("reference", "OpenBLAS", "BLIS", "MKL", "ATLAS" or "unknown"); both empty when
// none is mapped. Debian's default is the reference implementation, many times slower than
// an optimised one (docs/operations.md, "Matrix products and the system BLAS").
struct BlasInfo {
  std::string path;
  std::string kind;
};
BlasInfo LoadedBlas(const std::string& proc_root = "/proc");

struct SensorProbe {
  std::string backend;
  bool available = false;
  std::string reason;  // why (not) available
};

// Every backend of docs/measurement.md with its availability here.
std::vector<SensorProbe> ProbeSensors(const SensorRoots& roots);

// Opens the named backend (meter_registry.h); "auto" picks the best available one for the
// device in the registry's order and says why in `why`: nvml for a cuda device, then rapl,
// hwmon, android, and the modeled estimate last. `simulated` is opened by name only.
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
