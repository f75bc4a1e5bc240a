// The `nvml` meter (docs/measurement.md, "Meters"): NVIDIA GPUs through libnvidia-ml.
//
// The library is loaded with dlopen at run time rather than linked, so that one agent binary
// runs on machines without an NVIDIA driver (and builds without the CUDA toolkit, whose
// headers Debian does not ship as a build dependency here). The handful of NVML types and
// signatures used are declared below; they are part of NVML's stable C ABI.
//
// Two modes:
//   - counter: nvmlDeviceGetTotalEnergyConsumption, a millijoule counter (Volta and later),
//     updated about every 100 ms on A100/H100;
//   - power-sampled: on older GPUs that counter is NOT_SUPPORTED, so a background thread
//     samples nvmlDeviceGetPowerUsage every 20 ms and integrates it (trapezoid rule) against
//     the injected Clock.
//
// The same loader serves the nvml telemetry backend (telemetry.h): GPU temperature and SM
// clock, whose symbols are optional so that a library without them still measures energy.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cuda_device_map.h"
#include "meter.h"
#include "telemetry.h"

namespace wattfleet {
namespace {

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

// Sampling period of the power fallback: fine enough to follow per-layer power changes, coarse
// enough that the NVML calls (a few hundred microseconds each) cost well under 1% of a core.
constexpr double kSamplePeriodS = 0.02;
// The energy counter's refresh period on A100/H100 (measured by others; NVML documents none).
constexpr double kCounterPeriodS = 0.1;

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
std::string Describe(int index, const std::string& model) {
  return "gpu" + std::to_string(index) + (model.empty() ? "" : " (" + model + ")");
}

class NvmlCounterMeter final : public Meter {
 public:
  NvmlCounterMeter(std::unique_ptr<NvmlLibrary> lib, nvmlDevice_t device, int index,
                   std::string model, unsigned long long first_mj)
      : lib_(std::move(lib)),
        device_(device),
        index_(index),
        model_(std::move(model)),
        first_mj_(first_mj),
        last_mj_(first_mj) {}

  std::string name() const override { return "nvml"; }
  std::string domain() const override { return "gpu" + std::to_string(index_); }
  bool is_estimate() const override { return false; }
  double update_period_s() const override { return kCounterPeriodS; }
  MeterFacts facts() const override {
    return {"energy counter", 1e-3, 0, 0,
            "on A100/H100-class parts the counter follows power sampled over part of each "
            "period only: long windows and phase-shifted repeats (docs/measurement.md)"};
  }
  Result<double> ReadSensor() override {
    unsigned long long mj = 0;
    const nvmlReturn_t rc = lib_->get_total_energy(device_, &mj);
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlDeviceGetTotalEnergyConsumption(" +
                                 Describe(index_, model_) + "): " + lib_->ErrorString(rc));
    }
    return static_cast<double>(mj) / 1000.0;
  }

  Result<double> ReadJoules() override {
    unsigned long long mj = 0;
    const nvmlReturn_t rc = lib_->get_total_energy(device_, &mj);
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlDeviceGetTotalEnergyConsumption(" +
                                 Describe(index_, model_) + "): " + lib_->ErrorString(rc));
    }
    // The counter is 64-bit millijoules since driver load: it does not wrap in practice, so a
    // decrease means the driver was reloaded (or the GPU reset) and the origin is gone.
    if (mj < last_mj_) {
      return Status::Corruption("nvmlDeviceGetTotalEnergyConsumption(" +
                                Describe(index_, model_) + "): energy counter went backwards (" +
                                std::to_string(last_mj_) + " -> " + std::to_string(mj) +
                                " mJ); was the driver reloaded or the GPU reset?");
    }
    last_mj_ = mj;
    // Subtract in integers first: doubles lose millijoules above 2^53 mJ.
    return static_cast<double>(mj - first_mj_) / 1000.0;
  }

 private:
  std::unique_ptr<NvmlLibrary> lib_;
  nvmlDevice_t device_;
  int index_;
  std::string model_;
  unsigned long long first_mj_;
  unsigned long long last_mj_;
};

class NvmlSampledMeter final : public Meter {
 public:
  NvmlSampledMeter(std::unique_ptr<NvmlLibrary> lib, nvmlDevice_t device, int index,
                   std::string model, Clock& clock, double first_w)
      : lib_(std::move(lib)),
        device_(device),
        index_(index),
        model_(std::move(model)),
        clock_(clock),
        last_w_(first_w),
        last_t_(clock.NowSeconds()) {
    sampler_ = std::thread([this] { SamplerLoop(); });
  }

  NvmlSampledMeter(const NvmlSampledMeter&) = delete;
  NvmlSampledMeter& operator=(const NvmlSampledMeter&) = delete;

  // The sampler must stop before lib_ (declared first, destroyed last) shuts NVML down.
  ~NvmlSampledMeter() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (sampler_.joinable()) sampler_.join();
  }

  std::string name() const override { return "nvml"; }
  std::string domain() const override { return "gpu" + std::to_string(index_) + "-power-sampled"; }
  bool is_estimate() const override { return false; }
  double update_period_s() const override { return kSamplePeriodS; }
  MeterFacts facts() const override {
    return {"power sampling", 0, 0, 0,
            "no NVML energy counter on this GPU (before Volta): power sampled every 20 ms and "
            "integrated"};
  }
  Result<double> ReadSensor() override {
    unsigned int mw = 0;
    const nvmlReturn_t rc = lib_->get_power_usage(device_, &mw);
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlDeviceGetPowerUsage(" + Describe(index_, model_) +
                                 "): " + lib_->ErrorString(rc));
    }
    return mw / 1000.0;
  }

  Result<double> ReadJoules() override {
    std::lock_guard<std::mutex> lock(mu_);
    // An error seen by the sampler since the last read is reported once: the window that
    // spans it has a hole the measurement loop must not trust.
    if (!pending_error_.ok()) {
      Status err = std::move(pending_error_);
      pending_error_ = Status::OK();
      return err;
    }
    // Sample now as well, so that the value is current to the read instead of up to 20 ms old.
    WF_RETURN_IF_ERROR(SampleLocked());
    return joules_;
  }

 private:
  // Reads power and integrates since the previous sample. Caller holds mu_, which also keeps
  // samples in time order between the sampler and ReadJoules.
  Status SampleLocked() {
    unsigned int mw = 0;
    const nvmlReturn_t rc = lib_->get_power_usage(device_, &mw);
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlDeviceGetPowerUsage(" + Describe(index_, model_) +
                                 "): " + lib_->ErrorString(rc));
    }
    const double w = mw / 1000.0;
    const double t = clock_.NowSeconds();
    // A monotonic clock never goes back; clamping keeps a misbehaving one from subtracting.
    const double dt = std::max(0.0, t - last_t_);
    joules_ += 0.5 * (last_w_ + w) * dt;
    last_w_ = w;
    last_t_ = std::max(t, last_t_);
    return Status::OK();
  }

  // Waits on a condition variable in real time rather than Clock::SleepFor, so that the
  // destructor can wake it at once (and a test's fake clock does not make it spin).
  void SamplerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::duration<double>(kSamplePeriodS),
                     [this] { return stop_; });
      if (stop_) break;
      try {
        Status s = SampleLocked();
        if (!s.ok()) pending_error_ = std::move(s);
      } catch (const std::exception& e) {
        // Only allocation can throw here; never let it terminate the agent from this thread.
        pending_error_ = Status::Internal(std::string("nvml power sampler: ") + e.what());
      } catch (...) {
        pending_error_ = Status::Internal("nvml power sampler: unknown exception");
      }
    }
  }

  std::unique_ptr<NvmlLibrary> lib_;
  nvmlDevice_t device_;
  int index_;
  std::string model_;
  Clock& clock_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  Status pending_error_;
  double joules_ = 0;
  double last_w_;
  double last_t_;
  std::thread sampler_;  // last: started once every member above is initialised
};

class NvmlTelemetry final : public Telemetry {
 public:
  NvmlTelemetry(std::unique_ptr<NvmlLibrary> lib, nvmlDevice_t device, int index,
                std::string model)
      : lib_(std::move(lib)), device_(device), index_(index), model_(std::move(model)) {}

  Result<TelemetrySample> Read() override {
    TelemetrySample s;
    Status failure;
    s.temperature_c = Query(lib_->get_temperature, NVML_TEMPERATURE_GPU,
                            "nvmlDeviceGetTemperature", &failure);
    s.clock_mhz = Query(lib_->get_clock_info, NVML_CLOCK_SM, "nvmlDeviceGetClockInfo", &failure);
    // A figure the GPU does not support is absent; only a GPU that answers nothing at all,
    // with a real error, makes the reading fail.
    if (!s.temperature_c && !s.clock_mhz && !failure.ok()) return failure;
    if (s.temperature_c || s.clock_mhz) s.source = "nvml:gpu" + std::to_string(index_);
    return s;
  }

 private:
  using QueryFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned int*);

  std::optional<double> Query(QueryFn fn, int which, const char* call, Status* failure) {
    if (fn == nullptr) return std::nullopt;  // an older driver without the call
    unsigned int v = 0;
    const nvmlReturn_t rc = fn(device_, which, &v);
    if (rc == NVML_SUCCESS) return static_cast<double>(v);
    if (rc != NVML_ERROR_NOT_SUPPORTED && failure->ok()) {
      *failure = Status::Unavailable(std::string(call) + "(" + Describe(index_, model_) +
                                     "): " + lib_->ErrorString(rc));
    }
    return std::nullopt;
  }

  std::unique_ptr<NvmlLibrary> lib_;
  nvmlDevice_t device_;
  int index_;
  std::string model_;
};

// One GPU of a freshly loaded and initialised library.
struct OpenedDevice {
  std::unique_ptr<NvmlLibrary> lib;
  nvmlDevice_t device = nullptr;
  int nvml_index = 0;  // NVML's number of the GPU (by PCI bus)
  std::string model;
};

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
}

// Every GPU NVML sees, by PCI bus.
Result<std::vector<PhysicalGpu>> Enumerate(NvmlLibrary& lib) {
  unsigned int count = 0;
  nvmlReturn_t rc = lib.get_count(&count);
  if (rc != NVML_SUCCESS) return Status::Unavailable("nvmlDeviceGetCount_v2: " + lib.ErrorString(rc));
  std::vector<PhysicalGpu> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    rc = lib.get_handle_by_index(i, &device);
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlDeviceGetHandleByIndex_v2(" + std::to_string(i) +
                                 "): " + lib.ErrorString(rc));
    }
    PhysicalGpu g;
    g.nvml_index = static_cast<int>(i);
    char buf[kUuidBufferSize] = {};
    if (lib.get_uuid(device, buf, sizeof buf) == NVML_SUCCESS) {
      buf[sizeof buf - 1] = '\0';
      g.uuid = buf;
    }
    char name[kNameBufferSize] = {};
    if (lib.get_name(device, name, sizeof name) == NVML_SUCCESS) {
      name[sizeof name - 1] = '\0';
      g.name = name;
    }
    unsigned int current = 0, pending = 0;
    // NOT_SUPPORTED: a GPU without MIG.
    if (lib.get_mig_mode != nullptr && lib.get_mig_mode(device, &current, &pending) == NVML_SUCCESS) {
      g.mig_enabled = current == 1;
    }
    gpus.push_back(std::move(g));
  }
  return gpus;
}

// `device_index` is the CUDA device number (`cuda:N`); the NVML index it maps to.
Result<int> NvmlIndexOf(NvmlLibrary& lib, int device_index) {
  const auto visible = Env("CUDA_VISIBLE_DEVICES");
  if (lib.get_count == nullptr || lib.get_uuid == nullptr) {
    // A driver without UUIDs: only the unremapped numbering can be trusted.
    if (visible) {
      return Status::InvalidArgument(
          "CUDA_VISIBLE_DEVICES is set, but this libnvidia-ml cannot name GPUs by UUID "
          "(nvmlDeviceGetUUID missing): unset it and give --device cuda:N by NVML's numbering");
    }
    return device_index;
  }
  WF_ASSIGN_OR_RETURN(std::vector<PhysicalGpu> gpus, Enumerate(lib));
  WF_ASSIGN_OR_RETURN(PhysicalGpu gpu,
                      ResolveCudaDevice(device_index, gpus, visible, Env("CUDA_DEVICE_ORDER")));
  return gpu.nvml_index;
}

Result<OpenedDevice> OpenDevice(int device_index, const std::string& library, const char* what) {
  if (device_index < 0) {
    return Status::InvalidArgument(std::string(what) + ": device index must be >= 0, got " +
                                   std::to_string(device_index));
  }
  OpenedDevice d;
  WF_ASSIGN_OR_RETURN(d.lib, NvmlLibrary::Open(library));
  WF_ASSIGN_OR_RETURN(d.nvml_index, NvmlIndexOf(*d.lib, device_index));
  const nvmlReturn_t rc =
      d.lib->get_handle_by_index(static_cast<unsigned int>(d.nvml_index), &d.device);
  if (rc != NVML_SUCCESS) {
    return Status::NotFound("nvmlDeviceGetHandleByIndex_v2(" + std::to_string(device_index) +
                            "): " + d.lib->ErrorString(rc) + " (no such GPU on this machine?)");
  }
  // The model only makes error messages readable; a failure here is not worth refusing for.
  char name_buf[kNameBufferSize] = {};
  if (d.lib->get_name(d.device, name_buf, sizeof(name_buf)) == NVML_SUCCESS) {
    name_buf[sizeof(name_buf) - 1] = '\0';
    d.model = name_buf;
  }
  return d;
}

}  // namespace

Result<std::unique_ptr<Telemetry>> MakeNvmlTelemetry(int device_index,
                                                     const std::string& library) {
  WF_ASSIGN_OR_RETURN(OpenedDevice d, OpenDevice(device_index, library, "nvml telemetry"));
  return std::unique_ptr<Telemetry>(std::make_unique<NvmlTelemetry>(
      std::move(d.lib), d.device, d.nvml_index, std::move(d.model)));
}

Result<std::unique_ptr<Meter>> MakeNvmlMeter(int device_index, const std::string& library,
                                             Clock& clock) {
  WF_ASSIGN_OR_RETURN(OpenedDevice opened, OpenDevice(device_index, library, "nvml meter"));
  // Named by NVML's number from here on: that is the GPU whose energy is read.
  device_index = opened.nvml_index;
  std::unique_ptr<NvmlLibrary> lib = std::move(opened.lib);
  nvmlDevice_t device = opened.device;
  std::string model = std::move(opened.model);

  unsigned long long first_mj = 0;
  nvmlReturn_t rc = lib->get_total_energy(device, &first_mj);
  if (rc == NVML_SUCCESS) {
    return std::unique_ptr<Meter>(std::make_unique<NvmlCounterMeter>(
        std::move(lib), device, device_index, std::move(model), first_mj));
  }
  if (rc != NVML_ERROR_NOT_SUPPORTED) {
    return Status::Unavailable("nvmlDeviceGetTotalEnergyConsumption(" +
                               Describe(device_index, model) + "): " + lib->ErrorString(rc));
  }

  // Pre-Volta: no energy counter. The first power reading both checks that power is
  // supported at all and gives the integral its starting point.
  unsigned int mw = 0;
  rc = lib->get_power_usage(device, &mw);
  if (rc != NVML_SUCCESS) {
    return Status::Unavailable(Describe(device_index, model) +
                               " has no energy counter and nvmlDeviceGetPowerUsage failed: " +
                               lib->ErrorString(rc));
  }
  return std::unique_ptr<Meter>(std::make_unique<NvmlSampledMeter>(
      std::move(lib), device, device_index, std::move(model), clock, mw / 1000.0));
}

}  // namespace wattfleet
