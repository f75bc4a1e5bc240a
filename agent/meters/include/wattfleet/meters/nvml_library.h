// libnvidia-ml loaded at run time (dlopen), shared by the nvml meter, its telemetry and its
// interference probe (meter_nvml.cc, nvml_interference.cc); private to the agent.
//
// The library is loaded rather than linked, so that one agent binary runs on machines without
// an NVIDIA driver (and builds without the CUDA toolkit, whose headers Debian does not ship as
// a build dependency here). The handful of NVML types and signatures used are declared below;
// they are part of NVML's stable C ABI.
#pragma once

#include <dlfcn.h>

#include <memory>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet::nvml {

// --- The slice of nvml.h we need (the enum is int-sized in the C ABI). ---
using nvmlReturn_t = int;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_NOT_SUPPORTED = 3;
constexpr unsigned int kNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr int NVML_TEMPERATURE_GPU = 0;       // nvmlTemperatureSensors_t
constexpr int NVML_CLOCK_SM = 1;              // nvmlClockType_t

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using GetHandleByIndexFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using GetTotalEnergyFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*);
using GetPowerUsageFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);
using GetNameFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using ErrorStringFn = const char* (*)(nvmlReturn_t);
using GetTemperatureFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned int*);  // degrees C
using GetClockInfoFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned int*);    // MHz
using GetCountFn = nvmlReturn_t (*)(unsigned int*);
using GetUuidFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using GetMigModeFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, unsigned int*);
constexpr unsigned int kUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
constexpr nvmlReturn_t NVML_ERROR_NOT_FOUND = 6;
// nvmlProcessUtilizationSample_t: one process's utilisation over one of the driver's sampling
// periods (percent of the period its kernels were running, for smUtil).
struct nvmlProcessUtilizationSample_t {
  unsigned int pid;
  unsigned long long timeStamp;  // CPU timestamp, microseconds
  unsigned int smUtil;
  unsigned int memUtil;
  unsigned int encUtil;
  unsigned int decUtil;
};
using GetProcessUtilizationFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlProcessUtilizationSample_t*,
                                                 unsigned int*, unsigned long long);

struct DlCloser {
  void operator()(void* handle) const {
    if (handle != nullptr) dlclose(handle);
  }
};
using LibraryHandle = std::unique_ptr<void, DlCloser>;

// One loaded libnvidia-ml with one nvmlInit. NVML reference-counts init/shutdown, so several
// meters (one per GPU) may each own one. Shutdown runs before dlclose: the destructor body runs
// before the members are destroyed.
class NvmlLibrary {
 public:
  static Result<std::unique_ptr<NvmlLibrary>> Open(const std::string& path) {
    dlerror();  // clear any stale error so the one reported is ours
    LibraryHandle handle(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL));
    if (!handle) {
      const char* err = dlerror();
      return Status::Unavailable(path + " not found: no NVIDIA driver on this machine (" +
                                 std::string(err != nullptr ? err : "dlopen failed") + ")");
    }
    auto lib = std::make_unique<NvmlLibrary>(std::move(handle), path);
    WF_RETURN_IF_ERROR(lib->Resolve(&lib->init_, "nvmlInit_v2"));
    WF_RETURN_IF_ERROR(lib->Resolve(&lib->shutdown_, "nvmlShutdown"));
    WF_RETURN_IF_ERROR(lib->Resolve(&lib->get_handle_by_index, "nvmlDeviceGetHandleByIndex_v2"));
    WF_RETURN_IF_ERROR(
        lib->Resolve(&lib->get_total_energy, "nvmlDeviceGetTotalEnergyConsumption"));
    WF_RETURN_IF_ERROR(lib->Resolve(&lib->get_power_usage, "nvmlDeviceGetPowerUsage"));
    WF_RETURN_IF_ERROR(lib->Resolve(&lib->get_name, "nvmlDeviceGetName"));
    WF_RETURN_IF_ERROR(lib->Resolve(&lib->error_string_, "nvmlErrorString"));
    lib->ResolveOptional(&lib->get_temperature, "nvmlDeviceGetTemperature");
    lib->ResolveOptional(&lib->get_clock_info, "nvmlDeviceGetClockInfo");
    lib->ResolveOptional(&lib->get_count, "nvmlDeviceGetCount_v2");
    lib->ResolveOptional(&lib->get_uuid, "nvmlDeviceGetUUID");
    lib->ResolveOptional(&lib->get_mig_mode, "nvmlDeviceGetMigMode");
    lib->ResolveOptional(&lib->get_process_utilization, "nvmlDeviceGetProcessUtilization");
    const nvmlReturn_t rc = lib->init_();
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlInit_v2 failed: " + lib->ErrorString(rc) +
                                 " (is the NVIDIA kernel driver loaded?)");
    }
    lib->initialized_ = true;
    return lib;
  }

  // Public for make_unique only; Open() is the way in.
  NvmlLibrary(LibraryHandle handle, std::string path)
      : handle_(std::move(handle)), path_(std::move(path)) {}
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;
  ~NvmlLibrary() {
    if (initialized_) shutdown_();
  }

  // Never null: a driver that returns null for an unknown code still gets a readable message.
  std::string ErrorString(nvmlReturn_t rc) const {
    const char* s = error_string_(rc);
    return std::string(s != nullptr ? s : "unknown NVML error") + " (" + std::to_string(rc) +
           ")";
  }

  GetHandleByIndexFn get_handle_by_index = nullptr;
  GetTotalEnergyFn get_total_energy = nullptr;
  GetPowerUsageFn get_power_usage = nullptr;
  GetNameFn get_name = nullptr;
  // Optional (telemetry only): null when the library lacks them.
  GetTemperatureFn get_temperature = nullptr;
  GetClockInfoFn get_clock_info = nullptr;
  // Optional (mapping CUDA devices by UUID, MIG): null in drivers too old to have them.
  GetCountFn get_count = nullptr;
  GetUuidFn get_uuid = nullptr;
  GetMigModeFn get_mig_mode = nullptr;
  // Optional (interference): null in drivers without per-process samples.
  GetProcessUtilizationFn get_process_utilization = nullptr;

 private:
  template <typename Fn>
  Status Resolve(Fn* fn, const char* symbol) {
    dlerror();
    void* p = dlsym(handle_.get(), symbol);
    if (p == nullptr) {
      const char* err = dlerror();
      return Status::Unavailable(path_ + " has no symbol " + symbol +
                                 " (not libnvidia-ml, or a driver too old): " +
                                 (err != nullptr ? err : "null symbol"));
    }
    *fn = reinterpret_cast<Fn>(p);
    return Status::OK();
  }

  template <typename Fn>
  void ResolveOptional(Fn* fn, const char* symbol) {
    dlerror();
    *fn = reinterpret_cast<Fn>(dlsym(handle_.get(), symbol));
  }

  LibraryHandle handle_;
  std::string path_;
  InitFn init_ = nullptr;
  ShutdownFn shutdown_ = nullptr;
  ErrorStringFn error_string_ = nullptr;
  bool initialized_ = false;
};

// What every error message calls the device: "gpu0 (NVIDIA H100 80GB HBM3)".
inline std::string Describe(int index, const std::string& model) {
  return "gpu" + std::to_string(index) + (model.empty() ? "" : " (" + model + ")");
}

// One GPU of a freshly loaded and initialised library.
struct OpenedDevice {
  std::unique_ptr<NvmlLibrary> lib;
  nvmlDevice_t device = nullptr;
  int nvml_index = 0;  // NVML's number of the GPU (by PCI bus)
  std::string model;
};

// Loads `library`, maps `device_index` (cuda:N: CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER
// honoured, MIG refused; cuda_device_map.h) to NVML's GPU and opens it. `what` names the
// caller in errors.
Result<OpenedDevice> OpenDevice(int device_index, const std::string& library, const char* what);

}  // namespace wattfleet::nvml
