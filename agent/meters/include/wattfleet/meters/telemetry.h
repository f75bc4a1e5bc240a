// Device temperature and clock frequency, read right before a job's measurement protocol
// starts and right after its last window (docs/measurement.md, "The loop", rule 5): a layer
// measured on a throttled, hot device is a different data point from one measured cold.
//
// Telemetry is supplementary: a device that exposes neither figure still measures, so every
// backend reports what it could read and leaves the rest absent. Like the meters, backends
// read below a root directory (or a library path) that tests point at a fake.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct TelemetrySample {
  std::optional<double> temperature_c;  // absent: not exposed here (or unreadable)
  std::optional<double> clock_mhz;
  // Where the figures came from, e.g. "nvml:gpu0", "sysfs:x86_pkg_temp+cpufreq"; empty when
  // nothing was read.
  std::string source;
};

class Telemetry {
 public:
  virtual ~Telemetry() = default;
  // One reading. Missing or unreadable figures are absent fields, not errors; an error means
  // the backend could read nothing at all (e.g. the GPU fell off the bus).
  virtual Result<TelemetrySample> Read() = 0;
};

// CPUs under Linux, below `sysfs_root` ("/sys"):
//   temperature: a CPU thermal zone (`class/thermal/thermal_zone*/temp`, millidegrees; type
//     x86_pkg_temp, cpu-thermal, CPU-therm, soc_thermal, ...); else a CPU hwmon chip
//     (`class/hwmon/hwmon*/temp*_input`, name coretemp, k10temp or zenpower); else the
//     hottest thermal zone of any type;
//   clock: the mean of `devices/system/cpu/cpu*/cpufreq/scaling_cur_freq` (kHz).
std::unique_ptr<Telemetry> MakeSysfsTelemetry(const std::string& sysfs_root);

// NVIDIA GPUs through libnvidia-ml (dlopen, like the nvml meter): nvmlDeviceGetTemperature
// (GPU sensor) and nvmlDeviceGetClockInfo (SM clock). A library without either symbol, or a
// GPU that does not support the call, gives an absent field. Fails when the library, NVML
// init or the device is unavailable.
Result<std::unique_ptr<Telemetry>> MakeNvmlTelemetry(
    int device_index, const std::string& library = "libnvidia-ml.so.1");

// Copies the two samples into the measurement's before/after fields. A failed read leaves its
// fields "not exposed" (NaN); the source is the first non-empty one.
void RecordTelemetry(const Result<TelemetrySample>& before,
                     const Result<TelemetrySample>& after, Measurement* m);

}  // namespace wattfleet
