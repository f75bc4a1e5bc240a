// The `nvml` meter (docs/measurement.md, "Meters"): NVIDIA GPUs through libnvidia-ml
// (nvml_library.h).
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

#include "wattfleet/meters/meter.h"
#include "wattfleet/meters/nvml_library.h"
#include "wattfleet/meters/telemetry.h"
#include "latched_error.h"

namespace wattfleet {
namespace {
using namespace nvml;  // NOLINT: this file is NVML through and through

// Sampling period of the power fallback: fine enough to follow per-layer power changes, coarse
// enough that the NVML calls (a few hundred microseconds each) cost well under 1% of a core.
constexpr double kSamplePeriodS = 0.02;
// The energy counter's refresh period on A100/H100 (measured by others; NVML documents none).
constexpr double kCounterPeriodS = 0.1;

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
  std::string assumes() const override { return ""; }
  double update_period_s() const override { return kCounterPeriodS; }
  MeterFacts facts() const override {
    return {"energy counter", 1e-3, 0, 0,
            "on A100/H100-class parts the counter follows power sampled over part of each "
            "period only: long windows and phase-shifted repeats (docs/measurement.md)"};
  }
  Result<double> ReadSensor() override {
    WF_ASSIGN_OR_RETURN(const unsigned long long mj, ReadMillijoules());
    return static_cast<double>(mj) / 1000.0;
  }

  Result<double> ReadJoules() override {
    WF_ASSIGN_OR_RETURN(const unsigned long long mj, ReadMillijoules());
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
  // The counter as NVML reports it.
  Result<unsigned long long> ReadMillijoules() {
    unsigned long long mj = 0;
    const nvmlReturn_t rc = lib_->get_total_energy(device_, &mj);
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlDeviceGetTotalEnergyConsumption(" +
                                 Describe(index_, model_) + "): " + lib_->ErrorString(rc));
    }
    return mj;
  }

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
  std::string assumes() const override { return ""; }
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
    WF_RETURN_IF_ERROR(pending_error_.Take());
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
        pending_error_.Latch(SampleLocked());
      } catch (const std::exception& e) {
        // Only allocation can throw here; never let it terminate the agent from this thread.
        pending_error_.Latch(Status::Internal(std::string("nvml power sampler: ") + e.what()));
      } catch (...) {
        pending_error_.Latch(Status::Internal("nvml power sampler: unknown exception"));
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
  LatchedError pending_error_;
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