// The `android` meter: battery discharge power of a phone, sampled and integrated
// (docs/measurement.md, "Meters").
//
//   <sysfs_root>/class/power_supply/battery/current_now  (uA)
//   <sysfs_root>/class/power_supply/battery/voltage_now  (uV)
//   <sysfs_root>/class/power_supply/battery/status       ("Discharging", "Charging", ...)
//
// Only a discharging battery powers the phone by itself: while a charger is connected the
// battery current says nothing about what the SoC draws, so the meter refuses to start then,
// and a sample taken after the phone was plugged in fails the window.
//
// Sign convention: the power_supply ABI says current_now is negative while discharging, but
// many vendors report it positive. The meter only ever uses a sample while status says
// "Discharging", so the current's direction is known and its absolute value is used:
// discharge power is positive whatever the vendor's convention.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "wattfleet/meters/meter.h"
#include "meter_sampler.h"
#include "sysfs_reader.h"

namespace wattfleet {
namespace {

// Fuel gauges update current_now every few hundred ms at best; 50 ms sampling does not miss
// an update and costs three small reads.
constexpr double kSamplePeriodS = 0.05;

struct BatteryFiles {
  std::string dir;
  std::string current;  // uA
  std::string voltage;  // uV
  std::string status;
};

// Ok while discharging; Unavailable (with what to do) otherwise.
Status CheckDischarging(const BatteryFiles& f) {
  WF_ASSIGN_OR_RETURN(std::string status, sysfs::ReadTrimmed(f.status));
  if (status == "Discharging") return Status::OK();
  if (status == "Charging" || status == "Full" || status == "Not charging") {
    return Status::Unavailable("unplug the phone: " + f.status + " says \"" + status +
                               "\", and the battery only measures the phone while it "
                               "discharges");
  }
  return Status::Unavailable(f.status + ": status \"" + status +
                             "\" is not \"Discharging\"; battery power cannot be measured");
}

Result<double> ReadDischargeWatts(const BatteryFiles& f) {
  WF_RETURN_IF_ERROR(CheckDischarging(f));
  WF_ASSIGN_OR_RETURN(int64_t ua, sysfs::ReadInt(f.current));
  WF_ASSIGN_OR_RETURN(int64_t uv, sysfs::ReadInt(f.voltage));
  if (uv < 0) {
    return Status::Corruption(f.voltage + ": negative battery voltage " + std::to_string(uv));
  }
  // Discharging is established above, so the sign only reflects the vendor's convention.
  const double amps = std::llabs(ua) * 1e-6;
  return amps * static_cast<double>(uv) * 1e-6;
}

class AndroidMeter final : public Meter {
 public:
  AndroidMeter(BatteryFiles files, std::unique_ptr<PowerSampler> sampler)
      : files_(std::move(files)), sampler_(std::move(sampler)) {}

  std::string name() const override { return "android"; }
  std::string domain() const override { return "battery"; }
  bool is_estimate() const override { return false; }
  std::string assumes() const override { return ""; }
  double update_period_s() const override { return kSamplePeriodS; }
  Result<double> ReadJoules() override { return sampler_->ReadJoules(); }
  MeterFacts facts() const override {
    return {"power sampling", 0, 0, 0,
            "the fuel gauge updates current_now at its own cadence (often 0.1-1 s)"};
  }
  Result<double> ReadSensor() override { return ReadDischargeWatts(files_); }

 private:
  const BatteryFiles files_;
  std::unique_ptr<PowerSampler> sampler_;  // its destructor stops the sampling thread
};

}  // namespace

Result<std::unique_ptr<Meter>> MakeAndroidMeter(const std::string& sysfs_root, Clock& clock) {
  BatteryFiles f;
  f.dir = sysfs_root + "/class/power_supply/battery";
  f.current = f.dir + "/current_now";
  f.voltage = f.dir + "/voltage_now";
  f.status = f.dir + "/status";
  if (!sysfs::Exists(f.dir)) {
    return Status::NotFound(f.dir + ": no battery power supply (not a phone?)");
  }
  // The first sample (taken by Start) checks status and both files, so every failure mode
  // (charging, missing, unreadable, garbage) refuses creation with the file named.
  WF_ASSIGN_OR_RETURN(std::unique_ptr<PowerSampler> sampler,
                      PowerSampler::Start([f] { return ReadDischargeWatts(f); }, kSamplePeriodS,
                                          clock));
  return std::unique_ptr<Meter>(std::make_unique<AndroidMeter>(f, std::move(sampler)));
}

}  // namespace wattfleet
