#include "device_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace wattfleet {
namespace {

bool Readable(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }
bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

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

std::vector<SensorProbe> ProbeSensors(const SensorRoots& roots) {
  std::vector<SensorProbe> out;
  // Backends whose readers come in a later version are reported honestly: the hardware may be
  // there, the reader is not.
  {
    SensorProbe p{"nvml", false, ""};
    p.reason = "backend not built in this version (NVML reader pending)";
    out.push_back(p);
  }
  {
    SensorProbe p{"rapl", false, ""};
    const std::string f = roots.sysfs_root + "/class/powercap/intel-rapl:0/energy_uj";
    if (!Exists(f)) {
      p.reason = f + " not present";
    } else if (!Readable(f)) {
      p.reason = f + " present but not readable (root only on this kernel); backend not built "
                     "in this version";
    } else {
      p.reason = f + " readable; backend not built in this version";
    }
    out.push_back(p);
  }
  {
    SensorProbe p{"hwmon", false, ""};
    p.reason = Exists(roots.sysfs_root + "/bus/i2c/drivers/ina3221")
                   ? "INA3221 present; backend not built in this version"
                   : "no INA3221 power monitor under " + roots.sysfs_root;
    out.push_back(p);
  }
  {
    SensorProbe p{"android", false, ""};
    p.reason = Exists(roots.sysfs_root + "/class/power_supply/battery/current_now")
                   ? "battery gauge present; backend not built in this version"
                   : "no battery gauge under " + roots.sysfs_root;
    out.push_back(p);
  }
  {
    SensorProbe p{"modeled", false, ""};
    ModeledMeterOptions opts;
    opts.proc_root = roots.proc_root;
    auto m = MakeModeledMeter(opts);
    p.available = m.ok();
    p.reason = m.ok() ? "TDP x utilisation x time from " + roots.proc_root +
                            "/stat (an estimate, not a measurement)"
                      : m.status().message();
    out.push_back(p);
  }
  out.push_back({"simulated", true, "tests only; used only when asked for by name"});
  return out;
}

Result<std::unique_ptr<Meter>> OpenMeter(const std::string& backend, const SensorRoots& roots,
                                         std::string* why) {
  if (backend == "simulated") {
    if (why) *why = "asked for by name";
    return MakeSimulatedMeter(SimulatedMeterOptions{});
  }
  if (backend == "modeled" || backend == "auto") {
    ModeledMeterOptions opts;
    opts.proc_root = roots.proc_root;
    auto m = MakeModeledMeter(opts);
    if (!m.ok()) return m.status();
    if (why) {
      *why = backend == "auto"
                 ? "auto: no hardware energy backend is built in this version; using the "
                   "modeled estimate (TDP x utilisation x time)"
                 : "asked for by name";
    }
    return m;
  }
  for (const SensorProbe& p : ProbeSensors(roots)) {
    if (p.backend == backend) {
      return Status::InvalidArgument("--sensor " + backend + ": unavailable: " + p.reason);
    }
  }
  return Status::InvalidArgument("--sensor " + backend +
                                 ": unknown backend (auto, nvml, rapl, hwmon, android, modeled, "
                                 "simulated)");
}

}  // namespace wattfleet
