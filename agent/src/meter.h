// Energy meters: one interface, several backends (MEASUREMENT.md).
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
};

struct ModeledMeterOptions {
  std::string proc_root = "/proc";  // where stat lives (tests use a fake tree)
  double tdp_w = 0;                 // package power at full load; 0: 15 W per core
  double idle_fraction = 0.3;       // idle power as a fraction of TDP
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

}  // namespace wattfleet
