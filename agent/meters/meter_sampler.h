// Background machinery shared by the hardware meters: a periodic thread that stops promptly,
// and a power integrator for backends that can only sample power (hwmon, android).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "wattfleet/common/clock.h"
#include "wattfleet/common/status.h"
#include "latched_error.h"

namespace wattfleet {

// Calls tick() every period_s (real time) on its own thread until destroyed. The destructor
// wakes the thread through a condition variable, so it returns within one tick's duration,
// not one period. tick() should not throw; if it does, the exception is swallowed (it must not
// escape the thread) and ticking goes on; callers latch their own errors.
class PeriodicThread {
 public:
  PeriodicThread(double period_s, std::function<void()> tick);
  ~PeriodicThread();
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

 private:
  void Run();

  const double period_s_;
  std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above is initialised
};

// Integrates sampled power (watts) over the injected clock's time by the trapezoid rule. One
// sample is taken at Start() (so a sensor that cannot be read fails creation), then one every
// period_s on a background thread, and one at every ReadJoules() so that a read is current.
// A failed background sample is latched and returned by the next ReadJoules(), so a window
// containing a sensor failure fails instead of silently integrating across the gap.
class PowerSampler {
 public:
  using ReadWatts = std::function<Result<double>()>;

  static Result<std::unique_ptr<PowerSampler>> Start(ReadWatts read, double period_s,
                                                     Clock& clock);
  ~PowerSampler();

  // Joules since Start().
  Result<double> ReadJoules();

  // Use Start(); public for make_unique.
  PowerSampler(ReadWatts read, Clock& clock);

 private:
  Status SampleLocked();

  ReadWatts read_;
  Clock& clock_;
  std::mutex mu_;  // guards everything below and serialises reads of the sensor
  double last_t_ = 0;
  double last_w_ = 0;
  double joules_ = 0;
  LatchedError latched_;  // a failed sample, for the next read
  std::unique_ptr<PeriodicThread> thread_;  // reset first in the destructor
};

}  // namespace wattfleet
