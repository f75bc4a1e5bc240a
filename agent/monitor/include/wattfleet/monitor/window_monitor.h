// Energy of a span of the caller's own code, with the agent's meters (docs/python.md,
// "Measuring your own code"): a window begins and ends by name; windows may nest and overlap.
// Used by the Python package's Monitor and by `wattfleet measure`, so that a window and a
// campaign measurement read the same sensor the same way.
//
// Unlike the measurement loop, a window is not repeated or grown: it is what the caller ran,
// once. What the loop would have done about it is said instead, in quality flags:
// `interference` (others kept more of the device busy than max_interference),
// `short-window` (fewer than kWindowUpdates sensor updates: the ends are uncertain by up to
// one update each) and, when an idle power is known, `below-idle`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/monitor/cpu_activity.h"
#include "wattfleet/monitor/device_info.h"
#include "wattfleet/meters/meter.h"
#include "wattfleet/common/clock.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct MonitorOptions {
  std::string sensor = "auto";  // a backend of docs/measurement.md, or auto
  SensorRoots roots;            // where the sensors are; roots.device picks the GPU for nvml
  // What others may keep busy (CPU cores, or the GPU's share for nvml) before a window is
  // flagged, as measurement.max_interference for campaigns.
  double max_interference = 0.5;
  // The CPU work of children this process has waited for is its own, not interference (for
  // `wattfleet measure`, which ends its window after reaping the command it ran). A GPU's
  // interference is then not measured (NVML cannot tell the child's kernels from others').
  bool children_are_own_work = false;
};

struct WindowReading {
  std::string name;
  double energy_j = 0;  // raw: everything the sensor's domain drew, idle included
  double time_s = 0;
  // Dynamic energy (energy_j - idle power x time_s) when an idle power is known.
  std::optional<double> energy_dynamic_j;
  std::string sensor;  // backend
  std::string domain;  // what it covers
  bool energy_is_estimate = false;  // the modeled meter: an estimate, never a measurement
  std::string energy_model;  // what an estimate rests on (Meter::assumes); empty otherwise
  // Others' busy CPU cores (or share of the GPU) on average over the window; unset where it
  // cannot be measured, and for windows under 0.2 s (CPU time is counted in 10 ms ticks).
  std::optional<double> interference;
  // What the sensor itself cannot resolve over this window (J): one update period at the
  // window's mean power, plus one counter step.
  double energy_bound_j = 0;
  std::vector<std::string> flags;
};

class WindowMonitor {
 public:
  // Opens the sensor (`auto`: the best one here, as the agent picks it). InvalidArgument for
  // an unknown backend name; the backend's own error when it cannot be opened.
  static Result<std::unique_ptr<WindowMonitor>> Open(const MonitorOptions& options,
                                                     Clock& clock = SystemClock());
  // Over a meter already open (tests hand it a fake one); options.sensor is not read.
  WindowMonitor(std::unique_ptr<Meter> meter, const MonitorOptions& options,
                Clock& clock = SystemClock());
  ~WindowMonitor();
  WindowMonitor(const WindowMonitor&) = delete;
  WindowMonitor& operator=(const WindowMonitor&) = delete;

  // AlreadyExists when a window of that name is open; any failed read of the meter is kSensor.
  Status Begin(const std::string& name);
  // NotFound when no window of that name is open. A sensor error is kSensor, and the window
  // stays open.
  Result<WindowReading> End(const std::string& name);
  // Measures idle power now, over `seconds` of this thread sleeping: later windows get
  // energy_dynamic_j and the below-idle check. A window shared with others' work is flagged
  // as the loop's idle-stale would be.
  Result<double> MeasureIdle(double seconds);
  std::optional<double> idle_w() const;

  std::string sensor() const;
  std::string domain() const;
  bool energy_is_estimate() const;
  // Why this sensor (for auto), and how interference is measured.
  const std::string& why() const { return why_; }
  const std::string& interference_source() const { return interference_why_; }
  std::vector<std::string> open_windows() const;

 private:
  struct OpenWindow {
    double t0 = 0;
    double j0 = 0;
    std::unique_ptr<InterferenceProbe> interference;  // null: not measured
  };
  std::unique_ptr<InterferenceProbe> NewProbe();

  mutable std::mutex mu_;  // meters are not safe to read from two threads at once
  std::unique_ptr<Meter> meter_;
  MonitorOptions options_;
  Clock& clock_;
  ProcCpuActivity cpu_;
  std::string why_, interference_why_;
  std::map<std::string, OpenWindow> open_;
  std::optional<double> idle_w_;
  bool idle_shared_ = false;
};

}  // namespace wattfleet
