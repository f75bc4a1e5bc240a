// The sysfs telemetry backend (CPU temperature and clock under Linux) and the glue that puts
// samples into a Measurement. The NVML backend lives in meter_nvml.cc, next to the library
// loader it shares with the nvml meter.
#include "wattfleet/meters/telemetry.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "sysfs_reader.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

// Thermal zones that measure the CPU package or die, in order of preference: x86 package
// sensor, then the names ARM boards give their CPU or SoC zone (Raspberry Pi, Jetson,
// Rockchip). Compared without case.
constexpr const char* kCpuZoneTypes[] = {"x86_pkg_temp", "cpu-thermal", "cpu_thermal",
                                         "cpu-therm",    "soc_thermal", "soc-thermal"};
// hwmon chips that are CPU temperature sensors: Intel, AMD, AMD (out-of-tree driver).
constexpr const char* kCpuHwmonNames[] = {"coretemp", "k10temp", "zenpower"};

// Readings outside these bounds are a disabled or broken sensor (zones report -274000 or
// 0x7fffffff when they have nothing), never a device's temperature or clock.
constexpr double kMinPlausibleC = -50;
constexpr double kMaxPlausibleC = 200;
constexpr double kMaxPlausibleKhz = 1e8;  // 100 GHz

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Entries of `dir` named prefix + digits [+ suffix], sorted; none when `dir` is missing.
std::vector<std::string> Numbered(const std::string& dir, const std::string& prefix,
                                  const std::string& suffix = "") {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() + suffix.size()) continue;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    if (!AllDigits(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()))) {
      continue;
    }
    out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A temperature file in millidegrees Celsius; absent when missing, unreadable or implausible.
std::optional<double> ReadMilliCelsius(const std::string& path) {
  auto v = sysfs::ReadInt(path);
  if (!v.ok()) return std::nullopt;
  const double c = static_cast<double>(*v) / 1000.0;
  if (!(c > kMinPlausibleC && c < kMaxPlausibleC)) return std::nullopt;
  return c;
}

std::string ReadLabel(const std::string& path) {
  auto s = sysfs::ReadTrimmed(path);
  return s.ok() ? *s : std::string();
}

struct Reading {
  double value;
  std::string origin;  // what the source string names
};

// Over the thermal zones with a plausible reading: the zone of the best-ranked CPU type (the
// hottest such zone, for multi-socket machines); without one, nothing when `cpu_only`, else
// the hottest zone of any type.
std::optional<Reading> ThermalZoneTemperature(const std::string& root, bool cpu_only) {
  const std::string base = root + "/class/thermal";
  constexpr size_t kNoRank = std::size(kCpuZoneTypes);
  size_t best_rank = kNoRank;
  std::optional<Reading> best_cpu, hottest;
  for (const std::string& zone : Numbered(base, "thermal_zone")) {
    const std::string dir = base + "/" + zone;
    const std::optional<double> t = ReadMilliCelsius(dir + "/temp");
    if (!t) continue;
    const std::string type = ReadLabel(dir + "/type");
    size_t rank = kNoRank;
    for (size_t i = 0; i < kNoRank && rank == kNoRank; ++i) {
      if (Lower(type) == kCpuZoneTypes[i]) rank = i;
    }
    if (rank < best_rank || (rank == best_rank && rank != kNoRank && *t > best_cpu->value)) {
      best_rank = rank;
      best_cpu = Reading{*t, type};
    }
    if (!hottest || *t > hottest->value) hottest = Reading{*t, "thermal_max"};
  }
  if (best_cpu) return best_cpu;
  return cpu_only ? std::nullopt : hottest;
}

// The hottest reading of the CPU hwmon chips. k10temp's Tctl carries a fan-control offset on
// some Ryzen parts (up to +27 C), so it is skipped on a chip that also reports Tdie.
std::optional<Reading> HwmonTemperature(const std::string& root) {
  const std::string base = root + "/class/hwmon";
  std::optional<Reading> best;
  for (const std::string& chip : Numbered(base, "hwmon")) {
    const std::string dir = base + "/" + chip;
    const std::string name = ReadLabel(dir + "/name");
    if (std::find(std::begin(kCpuHwmonNames), std::end(kCpuHwmonNames), name) ==
        std::end(kCpuHwmonNames)) {
      continue;
    }
    struct Input {
      std::string label;
      double c;
    };
    std::vector<Input> inputs;
    bool has_tdie = false;
    for (const std::string& input : Numbered(dir, "temp", "_input")) {
      const std::optional<double> t = ReadMilliCelsius(dir + "/" + input);
      if (!t) continue;
      const std::string stem = input.substr(0, input.size() - std::string("_input").size());
      const std::string label = ReadLabel(dir + "/" + stem + "_label");
      has_tdie = has_tdie || label == "Tdie";
      inputs.push_back({label, *t});
    }
    for (const Input& in : inputs) {
      if (has_tdie && in.label == "Tctl") continue;
      if (!best || in.c > best->value) best = Reading{in.c, name};
    }
  }
  return best;
}

// The mean current frequency over the CPUs that report one, in MHz.
std::optional<double> CpuClockMhz(const std::string& root) {
  const std::string base = root + "/devices/system/cpu";
  double sum_khz = 0;
  int n = 0;
  for (const std::string& cpu : Numbered(base, "cpu")) {
    auto khz = sysfs::ReadInt(base + "/" + cpu + "/cpufreq/scaling_cur_freq");
    if (!khz.ok() || *khz <= 0 || static_cast<double>(*khz) >= kMaxPlausibleKhz) continue;
    sum_khz += static_cast<double>(*khz);
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum_khz / n / 1000.0;
}

class SysfsTelemetry final : public Telemetry {
 public:
  explicit SysfsTelemetry(std::string root) : root_(std::move(root)) {}

  Result<TelemetrySample> Read() override {
    TelemetrySample s;
    // A named CPU sensor beats the hottest zone of unknown kind (often a Wi-Fi or ACPI zone),
    // so the fallback to "any zone" comes after the CPU hwmon chips.
    std::optional<Reading> t = ThermalZoneTemperature(root_, /*cpu_only=*/true);
    if (!t) t = HwmonTemperature(root_);
    if (!t) t = ThermalZoneTemperature(root_, /*cpu_only=*/false);
    s.clock_mhz = CpuClockMhz(root_);
    std::string parts;
    if (t) {
      s.temperature_c = t->value;
      parts = t->origin.empty() ? "thermal" : t->origin;
    }
    if (s.clock_mhz) parts += (parts.empty() ? "" : "+") + std::string("cpufreq");
    if (!parts.empty()) s.source = "sysfs:" + parts;
    return s;
  }

 private:
  const std::string root_;
};

}  // namespace

std::unique_ptr<Telemetry> MakeSysfsTelemetry(const std::string& sysfs_root) {
  return std::make_unique<SysfsTelemetry>(sysfs_root);
}

void RecordTelemetry(const Result<TelemetrySample>& before,
                     const Result<TelemetrySample>& after, Measurement* m) {
  constexpr double kNotExposed = std::numeric_limits<double>::quiet_NaN();
  // Finite values only: NaN is the wire's "not exposed", and an infinity is no temperature.
  const auto value = [&](const std::optional<double>& v) {
    return v && std::isfinite(*v) ? *v : kNotExposed;
  };
  m->temperature_before_c = before.ok() ? value(before->temperature_c) : kNotExposed;
  m->clock_before_mhz = before.ok() ? value(before->clock_mhz) : kNotExposed;
  m->temperature_after_c = after.ok() ? value(after->temperature_c) : kNotExposed;
  m->clock_after_mhz = after.ok() ? value(after->clock_mhz) : kNotExposed;
  m->telemetry_source.clear();
  if (before.ok()) m->telemetry_source = before->source;
  if (m->telemetry_source.empty() && after.ok()) m->telemetry_source = after->source;
}

}  // namespace wattfleet
