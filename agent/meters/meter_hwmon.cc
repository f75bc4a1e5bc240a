// The `hwmon` meter: INA3221 power monitors on Jetson boards (and boards like them), sampled
// and integrated (docs/measurement.md, "Meters"). Two layouts exist:
//
//   upstream ina3221 driver (L4T 32.5+/JetPack 5+):
//     <sysfs_root>/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmonK/
//       inN_label, inN_input (bus voltage, mV), currN_input (mA); or powerN_input (uW) on
//       hwmon drivers that compute power themselves
//   older L4T ina3221x (IIO) driver:
//     <sysfs_root>/bus/i2c/drivers/ina3221x/<bus-addr>/iio:deviceK/
//       rail_name_N, in_powerN_input (mW)
//
// Both kinds of directory are scanned for both layouts, so an odd mix still works. Rail names
// differ by board (VDD_IN on TX2/Xavier NX/Orin, POM_5V_IN on Nano, none on AGX Xavier).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "wattfleet/meters/meter.h"
#include "meter_sampler.h"
#include "sysfs_reader.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

// Power is integrated from samples: 10 ms resolves the load changes of one layer while costing
// a few file reads per sample.
constexpr double kSamplePeriodS = 0.01;

enum class RailKind {
  kPowerMicrowatts,  // powerN_input
  kVoltsTimesAmps,   // inN_input (mV) x currN_input (mA)
  kPowerMilliwatts,  // in_powerN_input (older L4T)
};

struct Rail {
  std::string label;
  RailKind kind;
  std::string a;  // the power file, or the voltage file
  std::string b;  // the current file (kVoltsTimesAmps only)
  std::string dir;  // the hwmon or iio directory it was found in
};

Result<double> ReadRailWatts(const Rail& r) {
  WF_ASSIGN_OR_RETURN(int64_t a, sysfs::ReadInt(r.a));
  switch (r.kind) {
    case RailKind::kPowerMicrowatts:
      return static_cast<double>(a) * 1e-6;
    case RailKind::kPowerMilliwatts:
      return static_cast<double>(a) * 1e-3;
    case RailKind::kVoltsTimesAmps: {
      WF_ASSIGN_OR_RETURN(int64_t b, sysfs::ReadInt(r.b));
      return static_cast<double>(a) * static_cast<double>(b) * 1e-6;  // mV x mA = uW
    }
  }
  return Status::Internal("hwmon: unknown rail kind");
}

// The number in `name` = prefix + digits + suffix, or -1.
long long IndexOf(const std::string& name, const std::string& prefix, const std::string& suffix) {
  if (name.size() <= prefix.size() + suffix.size()) return -1;
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoll(digits);
}

std::vector<std::string> SortedEntries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Appends the rails of one hwmonK or iio:deviceK directory.
Status ScanRails(const std::string& dir, std::vector<Rail>* rails) {
  for (const std::string& name : SortedEntries(dir)) {
    long long n = IndexOf(name, "in", "_label");
    if (n >= 0) {
      WF_ASSIGN_OR_RETURN(std::string label, sysfs::ReadTrimmed(dir + "/" + name));
      if (label.empty() || label == "NC") continue;  // an unconnected channel
      const std::string idx = std::to_string(n);
      const std::string power = dir + "/power" + idx + "_input";
      const std::string volt = dir + "/in" + idx + "_input";
      const std::string curr = dir + "/curr" + idx + "_input";
      if (sysfs::Exists(power)) {
        rails->push_back({label, RailKind::kPowerMicrowatts, power, "", dir});
      } else if (sysfs::Exists(volt) && sysfs::Exists(curr)) {
        rails->push_back({label, RailKind::kVoltsTimesAmps, volt, curr, dir});
      }
      // Otherwise a label without a power reading (e.g. "sum of shunt voltages"): not a rail.
      continue;
    }
    n = IndexOf(name, "rail_name_", "");
    if (n >= 0) {
      WF_ASSIGN_OR_RETURN(std::string label, sysfs::ReadTrimmed(dir + "/" + name));
      if (label.empty() || label == "NC") continue;
      const std::string power = dir + "/in_power" + std::to_string(n) + "_input";
      if (sysfs::Exists(power)) {
        rails->push_back({label, RailKind::kPowerMilliwatts, power, "", dir});
      }
    }
  }
  return Status::OK();
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The board's input rail, which already includes every other rail: known names first, then
// any "*_IN"/"*TOTAL*" label. -1 when the board has none (AGX Xavier).
int TotalRail(const std::vector<Rail>& rails) {
  for (const char* known : {"VDD_IN", "POM_5V_IN", "5V_IN", "VIN", "VDD_TOTAL"}) {
    for (size_t i = 0; i < rails.size(); ++i) {
      if (Upper(rails[i].label) == known) return static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < rails.size(); ++i) {
    const std::string u = Upper(rails[i].label);
    if (u.find("TOTAL") != std::string::npos ||
        (u.size() > 3 && u.compare(u.size() - 3, 3, "_IN") == 0)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

class HwmonMeter final : public Meter {
 public:
  HwmonMeter(std::string domain, std::function<Result<double>()> read, double averaging_s,
             std::unique_ptr<PowerSampler> sampler)
      : domain_(std::move(domain)),
        read_(std::move(read)),
        averaging_s_(averaging_s),
        sampler_(std::move(sampler)) {}

  std::string name() const override { return "hwmon"; }
  std::string domain() const override { return domain_; }
  bool is_estimate() const override { return false; }
  std::string assumes() const override { return ""; }
  double update_period_s() const override { return kSamplePeriodS; }
  Result<double> ReadJoules() override { return sampler_->ReadJoules(); }
  MeterFacts facts() const override {
    std::string note;
    if (averaging_s_ > 0) {
      note = "the monitor converts every " + std::to_string(std::lround(averaging_s_ * 1000)) +
             " ms (update_interval): readings are averages over that";
    }
    return {"power sampling", 0, 0, averaging_s_, note};
  }
  Result<double> ReadSensor() override { return read_(); }

 private:
  const std::string domain_;
  const std::function<Result<double>()> read_;
  const double averaging_s_;
  std::unique_ptr<PowerSampler> sampler_;  // its destructor stops the sampling thread
};

}  // namespace

Result<std::unique_ptr<Meter>> MakeHwmonMeter(const std::string& sysfs_root,
                                              const std::string& rail, Clock& clock) {
  const std::string drivers = sysfs_root + "/bus/i2c/drivers";
  std::vector<std::string> scanned;
  for (const std::string& driver : SortedEntries(drivers)) {
    if (driver.rfind("ina3221", 0) != 0) continue;
    const std::string ddir = drivers + "/" + driver;
    for (const std::string& dev : SortedEntries(ddir)) {
      const std::string devdir = ddir + "/" + dev;
      std::error_code ec;
      if (!fs::is_directory(devdir, ec)) continue;  // bind, unbind, uevent
      for (const std::string& h : SortedEntries(devdir + "/hwmon")) {
        if (h.rfind("hwmon", 0) == 0) scanned.push_back(devdir + "/hwmon/" + h);
      }
      for (const std::string& e : SortedEntries(devdir)) {
        if (e.rfind("iio:device", 0) == 0) scanned.push_back(devdir + "/" + e);
      }
    }
  }
  if (scanned.empty()) {
    return Status::NotFound(drivers + ": no ina3221*/<device>/hwmon/hwmon* or iio:device* "
                                      "directory (no INA3221 power monitor here)");
  }
  std::vector<Rail> rails;
  for (const std::string& dir : scanned) WF_RETURN_IF_ERROR(ScanRails(dir, &rails));
  if (rails.empty()) {
    std::string dirs;
    for (const std::string& d : scanned) dirs += (dirs.empty() ? "" : ", ") + d;
    return Status::NotFound("hwmon: no labelled rail with a power or voltage+current reading in " +
                            dirs);
  }

  std::vector<Rail> chosen;
  std::string domain;
  if (!rail.empty()) {
    for (const Rail& r : rails) {
      if (Upper(r.label) == Upper(rail)) {
        chosen.push_back(r);
        break;
      }
    }
    if (chosen.empty()) {
      std::string labels;
      for (const Rail& r : rails) labels += (labels.empty() ? "" : ", ") + r.label;
      return Status::NotFound("hwmon: no rail labelled \"" + rail + "\" (rails: " + labels + ")");
    }
    domain = chosen[0].label;
  } else if (int total = TotalRail(rails); total >= 0) {
    chosen.push_back(rails[static_cast<size_t>(total)]);
    domain = chosen[0].label;
  } else {
    // No input rail: the sum of what is monitored, labelled so that nobody mistakes it for the
    // whole board.
    chosen = rails;
    domain = "sum:";
    for (size_t i = 0; i < rails.size(); ++i) domain += (i ? "+" : "") + rails[i].label;
  }

  auto read = [chosen]() -> Result<double> {
    double w = 0;
    for (const Rail& r : chosen) {
      WF_ASSIGN_OR_RETURN(double x, ReadRailWatts(r));
      w += x;
    }
    return w;
  };
  // hwmon's update_interval (ms): how often the chip converts, so how long each reading
  // averages (the INA3221 multiplies conversion time by its averaging count and channels).
  double averaging_s = 0;
  for (const Rail& r : chosen) {
    if (auto ms = sysfs::ReadInt(r.dir + "/update_interval"); ms.ok() && *ms > 0) {
      averaging_s = std::max(averaging_s, static_cast<double>(*ms) / 1000.0);
    }
  }
  WF_ASSIGN_OR_RETURN(std::unique_ptr<PowerSampler> sampler,
                      PowerSampler::Start(read, kSamplePeriodS, clock));
  return std::unique_ptr<Meter>(
      std::make_unique<HwmonMeter>(domain, read, averaging_s, std::move(sampler)));
}

}  // namespace wattfleet
