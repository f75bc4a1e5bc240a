#include "device_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace wattfleet {

DeviceInfo ProbeDevice(const std::string& proc_root) {
  DeviceInfo info;
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) == 0) info.hostname = host;
  info.cores = static_cast<int64_t>(std::thread::hardware_concurrency());
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) info.memory_bytes = static_cast<int64_t>(pages) * page_size;
  std::ifstream cpuinfo(proc_root + "/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) info.cpu_model = line.substr(colon + 2);
      break;
    }
  }
  struct utsname u {};
  if (::uname(&u) == 0) info.os = std::string(u.sysname) + " " + u.release;
  return info;
}

namespace {

int CudaIndex(const std::string& device) {
  const auto colon = device.find(':');
  if (device.rfind("cuda", 0) != 0 || colon == std::string::npos) return 0;
  return std::atoi(device.c_str() + colon + 1);
}

// The hardware backends in the order `auto` prefers them for `roots.device`.
std::vector<std::string> HardwareOrder(const SensorRoots& roots) {
  if (roots.device.rfind("cuda", 0) == 0) return {"nvml", "rapl", "hwmon", "android"};
  return {"rapl", "hwmon", "android", "nvml"};
}

Result<std::unique_ptr<Meter>> OpenHardware(const std::string& backend, const SensorRoots& roots) {
  if (backend == "nvml") return MakeNvmlMeter(CudaIndex(roots.device), roots.nvml_library);
  if (backend == "rapl") return MakeRaplMeter(roots.sysfs_root);
  if (backend == "hwmon") return MakeHwmonMeter(roots.sysfs_root);
  if (backend == "android") return MakeAndroidMeter(roots.sysfs_root);
  return Status::InvalidArgument("unknown backend " + backend);
}

ModeledMeterOptions ModeledOptions(const SensorRoots& roots) {
  ModeledMeterOptions opts = roots.modeled;
  opts.proc_root = roots.proc_root;
  return opts;
}

std::string Describe(const Meter& m) {
  return m.name() + " (" + m.domain() + (m.is_estimate() ? ", an estimate" : "") + ")";
}

}  // namespace

std::vector<SensorProbe> ProbeSensors(const SensorRoots& roots) {
  std::vector<SensorProbe> out;
  for (const std::string backend : {"nvml", "rapl", "hwmon", "android"}) {
    auto m = OpenHardware(backend, roots);
    out.push_back({backend, m.ok(), m.ok() ? "measures " + Describe(**m) : m.status().message()});
  }
  auto modeled = MakeModeledMeter(ModeledOptions(roots));
  out.push_back({"modeled", modeled.ok(),
                 modeled.ok() ? "TDP x utilisation x time from " + roots.proc_root +
                                    "/stat (an estimate, not a measurement): " +
                                    (*modeled)->assumes()
                              : modeled.status().message()});
  out.push_back({"simulated", true, "tests only; used only when asked for by name"});
  return out;
}

std::unique_ptr<Telemetry> OpenTelemetry(const SensorRoots& roots, std::string* why) {
  std::string fallback;
  if (roots.device.rfind("cuda", 0) == 0) {
    auto nvml = MakeNvmlTelemetry(CudaIndex(roots.device), roots.nvml_library);
    if (nvml.ok()) {
      if (why) *why = "nvml: GPU temperature and SM clock";
      return std::move(nvml).value();
    }
    fallback = " (nvml: " + nvml.status().message() + ")";
  }
  if (why) *why = "sysfs: CPU temperature and clock below " + roots.sysfs_root + fallback;
  return MakeSysfsTelemetry(roots.sysfs_root);
}

Result<std::unique_ptr<Meter>> OpenMeter(const std::string& backend, const SensorRoots& roots,
                                         std::string* why) {
  if (backend == "simulated") {
    if (why) *why = "asked for by name";
    return MakeSimulatedMeter(SimulatedMeterOptions{});
  }
  if (backend == "auto") {
    std::string refusals;
    for (const std::string& hw : HardwareOrder(roots)) {
      auto m = OpenHardware(hw, roots);
      if (m.ok()) {
        if (why) *why = "auto: " + Describe(**m) + " is the best backend available here";
        return m;
      }
      refusals += "; " + hw + ": " + m.status().message();
    }
    auto m = MakeModeledMeter(ModeledOptions(roots));
    if (!m.ok()) return m.status();
    if (why) {
      *why = "auto: no hardware energy counter works here, so energy is the modeled estimate "
             "(TDP x utilisation x time)" + refusals;
    }
    return m;
  }
  if (backend == "modeled") {
    if (why) *why = "asked for by name";
    return MakeModeledMeter(ModeledOptions(roots));
  }
  if (backend == "nvml" || backend == "rapl" || backend == "hwmon" || backend == "android") {
    auto m = OpenHardware(backend, roots);
    if (!m.ok()) return Status::InvalidArgument("--sensor " + backend + ": " + m.status().message());
    if (why) *why = "asked for by name";
    return m;
  }
  return Status::InvalidArgument("--sensor " + backend +
                                 ": unknown backend (auto, nvml, rapl, hwmon, android, modeled, "
                                 "simulated)");
}

std::unique_ptr<InterferenceProbe> OpenInterference(const Meter& meter, const SensorRoots& roots,
                                                    CpuActivitySource& cpu, pid_t self,
                                                    std::string* why) {
  if (meter.name() != "nvml") {
    if (why) *why = "other processes' CPU time (procfs)";
    return std::make_unique<CpuInterference>(cpu);
  }
  // A GPU's own counter: CPU work elsewhere does not land in it, other kernels on it do.
  auto gpu = MakeNvmlInterference(CudaIndex(roots.device), roots.nvml_library, self);
  if (!gpu.ok()) {
    if (why) *why = "not measured: " + gpu.status().message();
    return nullptr;
  }
  if (why) *why = "other processes' kernels on the GPU (NVML per-process utilisation)";
  return std::move(gpu).value();
}

}  // namespace wattfleet
