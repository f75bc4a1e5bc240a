// Time behind a seam, so that tests can drive protocols with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>

namespace wattfleet {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic seconds since an arbitrary origin.
  virtual double NowSeconds() = 0;
  // Unix time in milliseconds (for leases and records that outlive the process).
  virtual int64_t UnixMillis() = 0;
  virtual void SleepFor(double seconds) = 0;
};

// steady_clock / system_clock / this_thread::sleep_for.
Clock& SystemClock();

}  // namespace wattfleet
