// The measurement protocol of docs/measurement.md, independent of what runs: warm-up, idle
// baseline, window growth to min_window_ms (and >= kWindowUpdates sensor updates), repeats until
// the 95 % CI half-width of energy per iteration is within target_rel_ci or max_repeats,
// cool-down, and SENSOR failures for windows that read zero, negative or NaN, or below half of
// idle power on a quiet machine (on a busy one: measured again, then flagged).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>

#include "wattfleet/monitor/interference.h"
#include "wattfleet/meters/meter.h"
#include "wattfleet/meters/telemetry.h"
#include "wattfleet/common/clock.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// A window spans at least this many updates of the sensor, whatever min_window_ms says: its
// ends are uncertain by up to one update each, so 10 keeps that under ~10 % of the window
// before averaging over repeats (docs/measurement.md, "The loop").
inline constexpr double kWindowUpdates = 10.0;

// What is measured: runs `iterations` iterations and returns when they are complete (a CUDA
// workload synchronizes before returning).
class Workload {
 public:
  virtual ~Workload() = default;
  virtual Status Run(int64_t iterations) = 0;
};

// Idle power, measured over a short window and cached per agent.
class IdleBaseline {
 public:
  IdleBaseline(Meter& meter, Clock& clock, double window_s = 0.3, double max_age_s = 300);
  // The cached value, refreshed when older than max_age_s. Errors are SENSOR failures. With
  // `interference`, a refresh also measures what else kept the device busy meanwhile.
  Result<double> Watts(InterferenceProbe* interference = nullptr);
  // Measured again now, whatever its age (a window that drew less than idle power suggests
  // the idle figure is stale).
  Result<double> Refresh(InterferenceProbe* interference = nullptr);
  // When the cached value was measured (the clock's seconds), and what others kept busy then
  // (NaN: not measured).
  double measured_at() const { return measured_at_; }
  double interference() const { return interference_; }
  double max_age_s() const { return max_age_s_; }

 private:
  Meter& meter_;
  Clock& clock_;
  double window_s_;
  double max_age_s_;
  double watts_ = 0;
  double measured_at_ = -1;
  double interference_ = std::numeric_limits<double>::quiet_NaN();
};

// Two-sided 95 % Student-t quantile for `dof` degrees of freedom (dof >= 1).
double StudentT95(int64_t dof);

// Runs the protocol and fills a Measurement (sensor, repeats, means, CI, idle power).
// A SENSOR failure is returned as a Status with code kSensor (its message starts with
// "sensor:" for the reader of the job's error); workload errors are passed through. With `telemetry`, temperature and clock are
// sampled before warm-up and after the last window (before cool-down); a failed sample only
// leaves its figures "not exposed". With `interference`, each window's interference (what
// other work kept busy of the device) is measured: windows over settings.max_interference are
// discarded and measured again (at most max_repeats of them), and the measurement records
// the interference of the windows it kept. A window below half of idle power is measured
// again against a fresh idle figure (three times at most), then kept and flagged below-idle
// when others shared the machine, or a SENSOR failure when nothing did. A negative dynamic
// energy makes the idle baseline
// be measured again; the measurement is flagged (Measurement::flags) when the CI target was
// missed, when windows over the limit had to be kept, and when dynamic energy stays negative.
Result<Measurement> Measure(Workload& workload, Meter& meter, IdleBaseline& idle,
                            const MeasurementSettings& settings, Clock& clock = SystemClock(),
                            Telemetry* telemetry = nullptr,
                            InterferenceProbe* interference = nullptr);

}  // namespace wattfleet
