// A fake clock, workload and meter for the measurement protocol and the sensor
// characterisation: time advances only when the test or the fake workload says so, so every
// number is exact and nothing sleeps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "wattfleet/monitor/measurement_loop.h"
#include "wattfleet/meters/meter.h"
#include "wattfleet/common/clock.h"

namespace wattfleet::testing {

// What happened, in order: workload runs and sleeps, with the clock at their start.
struct Event {
  enum Kind { kRun, kSleep } kind;
  double amount;  // iterations for kRun, seconds for kSleep
  double at;
};

// Time advances only through SleepFor and the fake workload.
class FakeClock final : public Clock {
 public:
  double NowSeconds() override { return now; }
  int64_t UnixMillis() override { return static_cast<int64_t>(now * 1000); }
  void SleepFor(double seconds) override {
    events.push_back({Event::kSleep, seconds, now});
    if (seconds > 0) now += seconds;
  }
  void Advance(double seconds) { now += seconds; }

  double now = 1000;
  std::vector<Event> events;
};

class FakeWorkload final : public Workload {
 public:
  FakeWorkload(FakeClock& clock, double per_iter_s) : clock_(clock), per_iter_s(per_iter_s) {}
  Status Run(int64_t iterations) override {
    ++calls;
    clock_.events.push_back({Event::kRun, static_cast<double>(iterations), clock_.now});
    if (fail_at_call == calls) return failure;
    clock_.Advance(per_iter_s * static_cast<double>(iterations));
    return Status::OK();
  }

  FakeClock& clock_;
  double per_iter_s;
  int calls = 0;
  int fail_at_call = -1;
  Status failure;
};

// Energy = power x fake time, integrated between reads; each read with elapsed time takes the
// next value of `noise` as a relative error of its increment. `tamper` rewrites what a read
// returns (zero, NaN, negative windows, errors).
class FakeMeter final : public Meter {
 public:
  explicit FakeMeter(FakeClock& clock, double power_w = 100) : clock_(clock), power_w(power_w) {
    last_t_ = clock.now;
  }
  std::string name() const override { return "fake"; }
  std::string domain() const override { return "fake-domain"; }
  bool is_estimate() const override { return false; }
  std::string assumes() const override { return ""; }
  double update_period_s() const override { return period_s; }
  MeterFacts facts() const override { return {"energy counter", resolution_j, 0, 0, ""}; }
  // `sensor` when set (a reading that changes at a cadence of the test's choosing), else the
  // energy as of the last read.
  Result<double> ReadSensor() override {
    if (sensor) return sensor();
    return energy_;
  }
  Result<double> ReadJoules() override {
    ++reads;
    const double dt = clock_.now - last_t_;
    last_t_ = clock_.now;
    if (dt > 0) {
      const double f = noise.empty() ? 1.0 : 1.0 + noise[noise_i_++ % noise.size()];
      energy_ += (power_now ? power_now() : power_w) * dt * f;
    }
    if (tamper) return tamper(reads, energy_);
    return energy_;
  }

  FakeClock& clock_;
  double power_w;
  double period_s = 0.001;
  double resolution_j = 0;
  std::function<Result<double>()> sensor;
  std::vector<double> noise;
  std::function<Result<double>(int read, double energy)> tamper;
  std::function<double()> power_now;  // instead of power_w, when set
  int reads = 0;

 private:
  double last_t_;
  double energy_ = 0;
  size_t noise_i_ = 0;
};

}  // namespace wattfleet::testing
