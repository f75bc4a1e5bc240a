#include "wattfleet/monitor/device_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace wattfleet {

BlasInfo LoadedBlas(const std::string& proc_root) {
  std::ifstream maps(proc_root + "/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string base = path.substr(path.rfind('/') + 1);
    const bool mkl = base.rfind("libmkl", 0) == 0;
    if (base.find("blas") == std::string::npos && base.find("blis") == std::string::npos && !mkl) {
      continue;
    }
    // Debian installs each implementation in a folder of its own behind the libblas.so.3
    // alternative; the mapped path is the resolved one.
    BlasInfo b{path, "unknown"};
    if (mkl) {
      b.kind = "MKL";
    } else if (path.find("openblas") != std::string::npos) {
      b.kind = "OpenBLAS";
    } else if (path.find("blis") != std::string::npos) {
      b.kind = "BLIS";
    } else if (path.find("atlas") != std::string::npos) {
      b.kind = "ATLAS";
    } else if (path.find("/blas/") != std::string::npos) {
      b.kind = "reference";
    }
    // libopenblas may map beside a libblas.so.3 shim: the implementation wins.
    if (b.kind != "unknown") return b;
  }
  return {};
}

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

std::string Describe(const Meter& m) {
  return m.name() + " (" + m.domain() + (m.is_estimate() ? ", an estimate" : "") + ")";
}

// Backends `auto` may pick for `roots.device`, in its order.
std::vector<const MeterBackend*> AutoOrder(const SensorRoots& roots) {
  const bool cuda = roots.device.rfind("cuda", 0) == 0;
  std::vector<const MeterBackend*> order;
  for (const MeterBackend& b : MeterBackends()) {
    if ((cuda ? b.auto_cuda : b.auto_cpu) > 0) order.push_back(&b);
  }
  std::stable_sort(order.begin(), order.end(), [cuda](const auto* a, const auto* b) {
    return (cuda ? a->auto_cuda : a->auto_cpu) < (cuda ? b->auto_cuda : b->auto_cpu);
  });
  return order;
}

}  // namespace

std::vector<SensorProbe> ProbeSensors(const SensorRoots& roots) {
  std::vector<SensorProbe> out;
  for (const MeterBackend& b : MeterBackends()) {
    const std::string name(b.name);
    if (b.auto_cpu == 0 && b.auto_cuda == 0) {  // opened by name only: nothing to try
      out.push_back({name, true, std::string(b.help)});
      continue;
    }
    auto m = b.open(roots);
    if (!m.ok()) {
      out.push_back({name, false, m.status().message()});
    } else if ((*m)->is_estimate()) {
      out.push_back({name, true, std::string(b.help) + ": " + (*m)->assumes()});
    } else {
      out.push_back({name, true, "measures " + Describe(**m)});
    }
  }
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
  if (backend == "auto") {
    std::string refusals;
    for (const MeterBackend* b : AutoOrder(roots)) {
      auto m = b->open(roots);
      if (!m.ok()) {
        refusals += "; " + std::string(b->name) + ": " + m.status().message();
        continue;
      }
      if (why) {
        *why = (*m)->is_estimate()
                   ? "auto: no hardware energy counter works here, so energy is the " +
                         std::string(b->name) + " estimate (" + std::string(b->help) + ")" +
                         refusals
                   : "auto: " + Describe(**m) + " is the best backend available here";
      }
      return m;
    }
    return Status::Unavailable("--sensor auto: no backend works here" + refusals);
  }
  const MeterBackend* b = FindMeterBackend(backend);
  if (b == nullptr) {
    std::string names = MeterBackendChoices();
    for (char& c : names) c = c == '|' ? ',' : c;
    return Status::InvalidArgument("--sensor " + backend + ": unknown backend (" + names + ")");
  }
  auto m = b->open(roots);
  if (!m.ok()) return Status::InvalidArgument("--sensor " + backend + ": " + m.status().message());
  if (why) *why = "asked for by name";
  return m;
}

std::unique_ptr<InterferenceProbe> OpenInterference(const Meter& meter, const SensorRoots& roots,
                                                    CpuActivitySource& cpu, pid_t self,
                                                    std::string* why) {
  const MeterBackend* backend = FindMeterBackend(meter.name());
  if (backend == nullptr || backend->interference == InterferenceSource::kCpuTime) {
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
