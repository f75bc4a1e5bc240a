// Energy meters: one interface, several backends (docs/measurement.md).
//
// A meter is a cumulative counter: Read() returns joules since an arbitrary origin, and the
// energy of a window is the difference of two reads. Backends that sample power integrate it
// themselves. Every backend reads its files below a root directory that tests point at a fake
// tree.
#pragma once

#include <memory>
#include <string>

#include "wattfleet/common/clock.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// What a backend knows of its sensor before polling it (docs/measurement.md, "Meters").
struct MeterFacts {
  std::string method;       // "energy counter" | "power sampling" | "model"
  double resolution_j = 0;  // one step of the counter as reported (RAPL: 1 uJ; NVML: 1 mJ)
  double wrap_j = 0;        // the counter wraps to zero past this (0: never in practice)
  double averaging_s = 0;   // readings are averages over this long (0: none known)
  std::string note;         // a fallback or a known limit, in one sentence
};

class Meter {
 public:
  virtual ~Meter() = default;
  virtual std::string name() const = 0;    // backend: "modeled", "simulated", "rapl", ...
  virtual std::string domain() const = 0;  // what it covers: "cpu-estimate", "package", ...
  // True when the energy is an estimate rather than a measurement (modeled, simulated).
  virtual bool is_estimate() const = 0;
  // How often the underlying counter changes; windows last at least 10 of these.
  virtual double update_period_s() const = 0;
  // Cumulative energy in joules. Errors are SENSOR failures.
  virtual Result<double> ReadJoules() = 0;
  virtual MeterFacts facts() const = 0;
  // For an estimate (is_estimate()): the figures it rests on, stored with each measurement
  // ("15 W per core x 2 cores = 30 W at full load (...), idle 9 W (30 % of it)"); empty for
  // a measurement. Pure, so that no backend or wrapper forgets it.
  virtual std::string assumes() const = 0;
  // The reading the hardware updates, read once: the counter (J) of a counter, the power (W)
  // of a sampled sensor. Polling it shows how often the sensor really updates, which
  // ReadJoules cannot (a sampled meter's integral moves at every read).
  virtual Result<double> ReadSensor() = 0;
};

struct ModeledMeterOptions {
  std::string proc_root = "/proc";  // where stat lives (tests use a fake tree)
  double tdp_w = 0;                 // package power at full load; 0: core_w per core
  double idle_fraction = 0.3;       // idle power as a fraction of TDP
  double core_w = 0;                // power per fully busy core; 0: 15 W (tdp_w wins)
};

// TDP x utilisation x time: idle power plus (TDP - idle) x the busy share of all cores, from
// /proc/stat's jiffies. Labelled as an estimate, never as a measurement.
Result<std::unique_ptr<Meter>> MakeModeledMeter(const ModeledMeterOptions& options,
                                                Clock& clock = SystemClock());

struct SimulatedMeterOptions {
  double idle_w = 20;      // power with no work
  double max_w = 120;      // power at saturation
  double saturation = 2;   // busy cores at which dynamic power reaches 1 - 1/e of its range
  double noise_rel = 0.01; // relative noise of each read's increment
  uint64_t seed = 42;      // noise is deterministic for a seed
};

// Tests only: a deterministic power model (power rises with this process's CPU work and
// saturates, plus seeded noise). Never chosen unless asked for by name.
std::unique_ptr<Meter> MakeSimulatedMeter(const SimulatedMeterOptions& options,
                                          Clock& clock = SystemClock());

// RAPL (Intel/AMD CPUs under Linux): the energy_uj counters of every package domain
// (`<sysfs_root>/class/powercap/intel-rapl:N`) and, when present, their dram subdomains, summed.
// Wraparound at max_energy_range_uj is handled (a background poller reads often enough to see
// every wrap). Files readable by root only give a PermissionDenied error that says so.
Result<std::unique_ptr<Meter>> MakeRaplMeter(const std::string& sysfs_root,
                                             Clock& clock = SystemClock());

// hwmon power monitors (Jetson INA3221 and other boards): the rails under
// `<sysfs_root>/bus/i2c/drivers/ina3221*/*/hwmon/hwmon*/` (in*_label with power*_input, or
// in*_input x curr*_input) or the older L4T layout (rail_name_N with in_power N _input).
// `rail` selects one rail by label (empty: the board's total/input rail when labelled so, else
// the sum of all rails). Power is sampled by a background thread and integrated.
Result<std::unique_ptr<Meter>> MakeHwmonMeter(const std::string& sysfs_root,
                                              const std::string& rail = "",
                                              Clock& clock = SystemClock());

// Android phones: `<sysfs_root>/class/power_supply/battery/current_now` (uA) x `voltage_now`
// (uV), sampled and integrated; discharge is positive whatever the vendor's sign convention
// (decided from status / the sign seen while discharging). Refuses to run while charging.
Result<std::unique_ptr<Meter>> MakeAndroidMeter(const std::string& sysfs_root,
                                                Clock& clock = SystemClock());

// NVIDIA GPUs: libnvidia-ml loaded with dlopen at run time (so the agent also runs where there
// is no driver); nvmlDeviceGetTotalEnergyConsumption (mJ counter, Volta and later), or power
// sampling through nvmlDeviceGetPowerUsage when the counter is not supported.
Result<std::unique_ptr<Meter>> MakeNvmlMeter(int device_index,
                                             const std::string& library = "libnvidia-ml.so.1",
                                             Clock& clock = SystemClock());

}  // namespace wattfleet
