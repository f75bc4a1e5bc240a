// A stand-in libnvidia-ml for meter_nvml_test and telemetry_test: exports the few NVML C
// symbols the nvml meter and the nvml telemetry resolve with dlsym. Behaviour is read from the environment and from files at call time, so
// a test changes readings between calls without any other seam:
//
//   FAKE_NVML_MODE          counter (default) | power_only (energy counter NOT_SUPPORTED, as
//                           on pre-Volta GPUs) | init_fails | no_device
//   FAKE_NVML_ENERGY_FILE   the current energy counter in mJ; the word "fail" makes the call
//                           return GPU_IS_LOST
//   FAKE_NVML_POWER_FILE    the current power in mW (or "fail"), read on every call
//   FAKE_NVML_POWER_MW      a constant power when no power file is set
//   FAKE_NVML_TEMPERATURE_C the GPU temperature (default 45); "unsupported" makes the call
//                           return NOT_SUPPORTED, "fail" GPU_IS_LOST
//   FAKE_NVML_SM_CLOCK_MHZ  the SM clock (default 1410), with the same two words; the
//                           graphics and memory clocks are fixed at 1000 and 2619 MHz
//
//   FAKE_NVML_PROCS_FILE    per-process utilisation samples, one "PID SM_PERCENT [PERIOD]" per
//                           line, stamped PERIOD (default 1) us after the caller's timestamp,
//                           so that equal PERIODs are one sampling period (an empty file: no
//                           process ran, NOT_FOUND); unset: NOT_SUPPORTED, as on GPUs whose
//                           driver keeps no per-process samples
//   FAKE_NVML_GPUS          several GPUs, "UUID/NAME/MIG;..." (MIG 1: enabled), in NVML's
//                           order; unset: one "Fake GPU", GPU-00000000-fake, MIG off
//
// Built with FAKE_NVML_NO_TELEMETRY, the library lacks nvmlDeviceGetTemperature and
// nvmlDeviceGetClockInfo, like a driver too old to have them.
//
// Files are read (not environment variables) for values that change while a meter's sampler
// thread is running: setenv racing getenv in another thread is undefined behaviour.
//
// Three extra symbols let the test observe the library: fake_nvml_live_inits() (inits minus
// shutdowns), fake_nvml_power_calls() and fake_nvml_last_energy_gpu() (which GPU's energy
// counter was read last).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr int NVML_SUCCESS = 0;
constexpr int NVML_ERROR_INVALID_ARGUMENT = 2;
constexpr int NVML_ERROR_NOT_SUPPORTED = 3;
constexpr int NVML_ERROR_NOT_FOUND = 6;
constexpr int NVML_ERROR_INSUFFICIENT_SIZE = 7;
constexpr int NVML_ERROR_DRIVER_NOT_LOADED = 9;
constexpr int NVML_ERROR_GPU_IS_LOST = 15;

std::atomic<int> g_live_inits{0};
std::atomic<long> g_power_calls{0};
std::atomic<int> g_last_energy_gpu{-1};
constexpr int kMaxGpus = 8;
int g_device_tokens[kMaxGpus] = {};  // their addresses are the device handles

struct FakeGpu {
  std::string uuid, name;
  bool mig = false;
};

// The GPUs of FAKE_NVML_GPUS (read on every call: the environment does not change while a
// test's meter runs).
std::vector<FakeGpu> Gpus() {
  const char* v = std::getenv("FAKE_NVML_GPUS");
  if (v == nullptr) return {FakeGpu{"GPU-00000000-fake", "Fake GPU", false}};
  std::vector<FakeGpu> gpus;
  std::string all = v;
  size_t start = 0;
  while (start < all.size() && static_cast<int>(gpus.size()) < kMaxGpus) {
    const size_t end = std::min(all.find(';', start), all.size());
    const std::string item = all.substr(start, end - start);
    const size_t a = item.find('/'), b = item.rfind('/');
    if (a != std::string::npos && b > a) {
      gpus.push_back(FakeGpu{item.substr(0, a), item.substr(a + 1, b - a - 1),
                             item.substr(b + 1) == "1"});
    }
    start = end + 1;
  }
  return gpus;
}

int IndexOf(void* device) {
  for (int i = 0; i < kMaxGpus; ++i) {
    if (device == &g_device_tokens[i]) return i;
  }
  return -1;
}

std::string Mode() {
  const char* m = std::getenv("FAKE_NVML_MODE");
  return m != nullptr ? m : "counter";
}

// Reads the first token of `env`'s file. False when unset or unreadable; `fail` when the
// file says so.
bool ReadValueFile(const char* env, unsigned long long* value, bool* fail) {
  const char* path = std::getenv(env);
  if (path == nullptr) return false;
  std::ifstream in(path);
  std::string tok;
  if (!(in >> tok)) return false;
  if (tok == "fail") {
    *fail = true;
    return true;
  }
  *value = std::strtoull(tok.c_str(), nullptr, 10);
  return true;
}

bool ValidDevice(void* device) {
  const int i = IndexOf(device);
  return i >= 0 && i < static_cast<int>(Gpus().size());
}

#ifndef FAKE_NVML_NO_TELEMETRY
// Telemetry values are read from the environment: nothing samples them from another thread.
int TelemetryValue(const char* env, unsigned int fallback, unsigned int* out) {
  const char* v = std::getenv(env);
  const std::string s = v != nullptr ? v : "";
  if (s == "unsupported") return NVML_ERROR_NOT_SUPPORTED;
  if (s == "fail") return NVML_ERROR_GPU_IS_LOST;
  *out = s.empty() ? fallback : static_cast<unsigned int>(std::strtoul(s.c_str(), nullptr, 10));
  return NVML_SUCCESS;
}
#endif

}  // namespace

extern "C" {

int nvmlInit_v2() {
  if (Mode() == "init_fails") return NVML_ERROR_DRIVER_NOT_LOADED;
  ++g_live_inits;
  return NVML_SUCCESS;
}

int nvmlShutdown() {
  --g_live_inits;
  return NVML_SUCCESS;
}

int nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = Mode() == "no_device" ? 0 : static_cast<unsigned int>(Gpus().size());
  return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (Mode() == "no_device" || index >= Gpus().size()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &g_device_tokens[index];
  return NVML_SUCCESS;
}

int nvmlDeviceGetName(void* device, char* name, unsigned int length) {
  if (!ValidDevice(device)) return NVML_ERROR_INVALID_ARGUMENT;
  std::strncpy(name, Gpus()[IndexOf(device)].name.c_str(), length);
  if (length > 0) name[length - 1] = '\0';
  return NVML_SUCCESS;
}

int nvmlDeviceGetUUID(void* device, char* uuid, unsigned int length) {
  if (!ValidDevice(device)) return NVML_ERROR_INVALID_ARGUMENT;
  std::strncpy(uuid, Gpus()[IndexOf(device)].uuid.c_str(), length);
  if (length > 0) uuid[length - 1] = '\0';
  return NVML_SUCCESS;
}

int nvmlDeviceGetMigMode(void* device, unsigned int* current, unsigned int* pending) {
  if (!ValidDevice(device)) return NVML_ERROR_INVALID_ARGUMENT;
  *current = *pending = Gpus()[IndexOf(device)].mig ? 1 : 0;
  return NVML_SUCCESS;
}

int nvmlDeviceGetTotalEnergyConsumption(void* device, unsigned long long* mj) {
  if (!ValidDevice(device)) return NVML_ERROR_INVALID_ARGUMENT;
  if (Mode() == "power_only") return NVML_ERROR_NOT_SUPPORTED;
  g_last_energy_gpu = IndexOf(device);
  bool fail = false;
  unsigned long long v = 0;
  ReadValueFile("FAKE_NVML_ENERGY_FILE", &v, &fail);
  if (fail) return NVML_ERROR_GPU_IS_LOST;
  *mj = v;
  return NVML_SUCCESS;
}

int nvmlDeviceGetPowerUsage(void* device, unsigned int* mw) {
  if (!ValidDevice(device)) return NVML_ERROR_INVALID_ARGUMENT;
  ++g_power_calls;
  bool fail = false;
  unsigned long long v = 0;
  if (!ReadValueFile("FAKE_NVML_POWER_FILE", &v, &fail)) {
    const char* c = std::getenv("FAKE_NVML_POWER_MW");
    v = c != nullptr ? std::strtoull(c, nullptr, 10) : 0;
  }
  if (fail) return NVML_ERROR_GPU_IS_LOST;
  *mw = static_cast<unsigned int>(v);
  return NVML_SUCCESS;
}

struct ProcessSample {  // nvmlProcessUtilizationSample_t
  unsigned int pid;
  unsigned long long timeStamp;
  unsigned int smUtil, memUtil, encUtil, decUtil;
};

int nvmlDeviceGetProcessUtilization(void* device, ProcessSample* samples, unsigned int* count,
                                    unsigned long long last_seen) {
  if (!ValidDevice(device) || count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const char* path = std::getenv("FAKE_NVML_PROCS_FILE");
  if (path == nullptr) return NVML_ERROR_NOT_SUPPORTED;
  std::vector<ProcessSample> all;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    unsigned int pid = 0, sm = 0;
    unsigned long long offset = 1;
    const int n = std::sscanf(line.c_str(), "%u %u %llu", &pid, &sm, &offset);
    if (n >= 2) all.push_back({pid, last_seen + offset, sm, 0, 0, 0});
  }
  if (all.empty()) return NVML_ERROR_NOT_FOUND;
  if (samples == nullptr || *count < all.size()) {
    *count = static_cast<unsigned int>(all.size());
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  std::copy(all.begin(), all.end(), samples);
  *count = static_cast<unsigned int>(all.size());
  return NVML_SUCCESS;
}

#ifndef FAKE_NVML_NO_TELEMETRY
int nvmlDeviceGetTemperature(void* device, int sensor, unsigned int* temp) {
  if (!ValidDevice(device) || sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;  // GPU sensor
  return TelemetryValue("FAKE_NVML_TEMPERATURE_C", 45, temp);
}

int nvmlDeviceGetClockInfo(void* device, int type, unsigned int* mhz) {
  if (!ValidDevice(device)) return NVML_ERROR_INVALID_ARGUMENT;
  switch (type) {
    case 0: *mhz = 1000; return NVML_SUCCESS;  // graphics
    case 1: return TelemetryValue("FAKE_NVML_SM_CLOCK_MHZ", 1410, mhz);
    case 2: *mhz = 2619; return NVML_SUCCESS;  // memory
    default: return NVML_ERROR_INVALID_ARGUMENT;
  }
}
#endif

const char* nvmlErrorString(int rc) {
  switch (rc) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
  }
}

int fake_nvml_live_inits() { return g_live_inits.load(); }
long fake_nvml_power_calls() { return g_power_calls.load(); }
int fake_nvml_last_energy_gpu() { return g_last_energy_gpu.load(); }

}  // extern "C"
