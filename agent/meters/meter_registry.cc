#include "wattfleet/meters/meter_registry.h"

#include <cstdlib>

namespace wattfleet {
namespace {

Result<std::unique_ptr<Meter>> OpenNvml(const SensorRoots& roots) {
  return MakeNvmlMeter(CudaIndex(roots.device), roots.nvml_library);
}
Result<std::unique_ptr<Meter>> OpenRapl(const SensorRoots& roots) {
  return MakeRaplMeter(roots.sysfs_root);
}
Result<std::unique_ptr<Meter>> OpenHwmon(const SensorRoots& roots) {
  return MakeHwmonMeter(roots.sysfs_root);
}
Result<std::unique_ptr<Meter>> OpenAndroid(const SensorRoots& roots) {
  return MakeAndroidMeter(roots.sysfs_root);
}
Result<std::unique_ptr<Meter>> OpenModeled(const SensorRoots& roots) {
  ModeledMeterOptions options = roots.modeled;
  options.proc_root = roots.proc_root;
  return MakeModeledMeter(options);
}
Result<std::unique_ptr<Meter>> OpenSimulated(const SensorRoots&) {
  return MakeSimulatedMeter(SimulatedMeterOptions{});
}

}  // namespace

int CudaIndex(const std::string& device) {
  const auto colon = device.find(':');
  if (device.rfind("cuda", 0) != 0 || colon == std::string::npos) return 0;
  return std::atoi(device.c_str() + colon + 1);
}

const std::vector<MeterBackend>& MeterBackends() {
  static const std::vector<MeterBackend> kBackends = {
      {"nvml", "NVIDIA GPUs: NVML's energy counter, or its power samples", 4, 1,
       InterferenceSource::kGpuProcesses, OpenNvml},
      {"rapl", "Intel and AMD CPUs: the RAPL package (and DRAM) energy counters", 1, 2,
       InterferenceSource::kCpuTime, OpenRapl},
      {"hwmon", "boards with INA power monitors (Jetson): a rail's power, sampled", 2, 3,
       InterferenceSource::kCpuTime, OpenHwmon},
      {"android", "phones: the battery's current x voltage, sampled while discharging", 3, 4,
       InterferenceSource::kCpuTime, OpenAndroid},
      {"modeled", "TDP x utilisation x time from /proc/stat: an estimate, not a measurement",
       99, 99, InterferenceSource::kCpuTime, OpenModeled},
      {"simulated", "tests only; used only when asked for by name", 0, 0,
       InterferenceSource::kCpuTime, OpenSimulated},
  };
  return kBackends;
}

const MeterBackend* FindMeterBackend(std::string_view name) {
  for (const MeterBackend& b : MeterBackends()) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

std::string MeterBackendChoices() {
  std::string out = "auto";
  for (const MeterBackend& b : MeterBackends()) out += "|" + std::string(b.name);
  return out;
}

}  // namespace wattfleet
