// The `simulated` meter (tests only): a power model that rises with this process's CPU work and
// saturates, plus seeded noise, so that the whole measurement protocol can run end to end on a
// machine without any power sensor and produce plausible, repeatable-in-shape numbers.
//
// Between two reads:   busy  = process CPU seconds / wall seconds   (cores kept busy)
//                      power = idle_w + (max_w - idle_w) * (1 - exp(-busy / saturation))
//                      dE    = power * wall seconds * (1 + noise_rel * u),  u ~ U[-1, 1]
//
// What is deterministic: the noise sequence (one draw per read, from a std::mt19937_64 seeded
// with options.seed). What is not: CPU time, which the scheduler decides.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include "wattfleet/meters/meter.h"

namespace wattfleet {
namespace {

double ProcessCpuSeconds() {
  timespec ts{};
  // CLOCK_PROCESS_CPUTIME_ID cannot fail on Linux for the calling process; if it ever did,
  // zero CPU time means "idle", which still yields a valid, positive energy.
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class SimulatedMeter final : public Meter {
 public:
  SimulatedMeter(const SimulatedMeterOptions& o, Clock& clock)
      : o_(o),
        clock_(clock),
        rng_(o.seed),
        last_wall_(clock.NowSeconds()),
        last_cpu_(ProcessCpuSeconds()) {}

  std::string name() const override { return "simulated"; }
  std::string domain() const override { return "simulated"; }
  bool is_estimate() const override { return true; }
  double update_period_s() const override { return 0.001; }
  MeterFacts facts() const override { return {"model", 0, 0, 0, "simulated: tests only"}; }
  std::string assumes() const override { return "simulated power (tests only)"; }
  // The counter as of now at idle power, without drawing noise: reading it must not shift the
  // seeded noise sequence ReadJoules follows.
  Result<double> ReadSensor() override {
    return energy_ + o_.idle_w * std::max(0.0, clock_.NowSeconds() - last_wall_);
  }

  Result<double> ReadJoules() override {
    const double wall = clock_.NowSeconds();
    const double cpu = ProcessCpuSeconds();
    const double dt = wall - last_wall_;
    const double dcpu = std::max(0.0, cpu - last_cpu_);
    // Draw on every read, whether or not time advanced, so that the n-th read always uses the
    // n-th noise value for a given seed.
    const double u = NextUniform();
    last_wall_ = wall;
    last_cpu_ = cpu;
    if (dt > 0) {
      const double busy = dcpu / dt;
      const double sat = o_.saturation > 0 ? o_.saturation : 1.0;
      const double power = o_.idle_w + (o_.max_w - o_.idle_w) * (1.0 - std::exp(-busy / sat));
      // A cumulative counter never decreases: noise above 100 % is clamped rather than allowed
      // to run the counter backwards.
      const double factor = std::max(0.0, 1.0 + o_.noise_rel * u);
      energy_ += std::max(0.0, power * dt * factor);
    }
    return energy_;
  }

 private:
  SimulatedMeterOptions o_;
  Clock& clock_;
  // U[-1, 1] from the top 53 bits, by hand: std::uniform_real_distribution's algorithm is
  // left to the standard library, and the same seed must give the same noise under libstdc++
  // and libc++ (Android agents).
  double NextUniform() {
    const double unit = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1)
    return 2.0 * unit - 1.0;
  }

  std::mt19937_64 rng_;
  double last_wall_;
  double last_cpu_;
  double energy_ = 0;
};

}  // namespace

std::unique_ptr<Meter> MakeSimulatedMeter(const SimulatedMeterOptions& options, Clock& clock) {
  return std::make_unique<SimulatedMeter>(options, clock);
}

}  // namespace wattfleet
