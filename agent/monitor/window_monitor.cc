// Windows over the caller's own code (window_monitor.h).
#include "wattfleet/monitor/window_monitor.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "wattfleet/monitor/measurement_loop.h"
#include "wattfleet/common/job.h"

namespace wattfleet {
namespace {

constexpr double kMinInterferenceWindowS = 0.2;

// Any failed read of the meter is a sensor failure, whatever code the backend gave it.
Result<double> ReadSensorJoules(Meter& meter) {
  Result<double> j = meter.ReadJoules();
  if (!j.ok() && j.status().code() != StatusCode::kSensor) {
    return Status::Sensor("sensor: " + meter.name() + ": " + j.status().message());
  }
  return j;
}

}  // namespace

Result<std::unique_ptr<WindowMonitor>> WindowMonitor::Open(const MonitorOptions& options,
                                                           Clock& clock) {
  if (!(options.max_interference >= 0)) {
    return Status::InvalidArgument("max_interference must be >= 0");
  }
  std::string why;
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Meter> meter, OpenMeter(options.sensor, options.roots, &why));
  auto m = std::make_unique<WindowMonitor>(std::move(meter), options, clock);
  m->why_ = why;
  return m;
}

WindowMonitor::WindowMonitor(std::unique_ptr<Meter> meter, const MonitorOptions& options,
                             Clock& clock)
    : meter_(std::move(meter)),
      options_(options),
      clock_(clock),
      cpu_(options.roots.proc_root, options.children_are_own_work) {
  // Probed once here, so that interference_source() says how (or why not) before any window.
  NewProbe();
}

WindowMonitor::~WindowMonitor() = default;

std::unique_ptr<InterferenceProbe> WindowMonitor::NewProbe() {
  // A command run by `measure` launches its kernels from its own process: NVML's per-process
  // samples would count them as someone else's. Not measured rather than wrong.
  const MeterBackend* backend = FindMeterBackend(meter_->name());
  if (options_.children_are_own_work && backend != nullptr &&
      backend->interference == InterferenceSource::kGpuProcesses) {
    interference_why_ = "not measured: the command's kernels run in another process";
    return nullptr;
  }
  return OpenInterference(*meter_, options_.roots, cpu_, ::getpid(), &interference_why_);
}

Status WindowMonitor::Begin(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.count(name) > 0) {
    return Status::AlreadyExists("window '" + name + "' is already open");
  }
  OpenWindow w;
  w.interference = NewProbe();
  // A probe that cannot read now measures nothing rather than failing the window.
  if (w.interference && !w.interference->Begin().ok()) w.interference.reset();
  WF_ASSIGN_OR_RETURN(w.j0, ReadSensorJoules(*meter_));
  w.t0 = clock_.NowSeconds();
  open_.emplace(name, std::move(w));
  return Status::OK();
}

Result<WindowReading> WindowMonitor::End(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(name);
  if (it == open_.end()) return Status::NotFound("no open window named '" + name + "'");
  const double t1 = clock_.NowSeconds();
  WF_ASSIGN_OR_RETURN(const double j1, ReadSensorJoules(*meter_));
  OpenWindow& w = it->second;
  WindowReading r;
  r.name = name;
  r.time_s = std::max(0.0, t1 - w.t0);
  r.energy_j = j1 - w.j0;
  r.sensor = meter_->name();
  r.domain = meter_->domain();
  r.energy_is_estimate = meter_->is_estimate();
  r.energy_model = meter_->assumes();
  if (!std::isfinite(r.energy_j) || r.energy_j < 0) {
    // The window stays open: the caller may end it again once the sensor reads sensibly.
    return Status::Sensor("sensor: " + r.sensor + " read " + std::to_string(r.energy_j) +
                          " J over window '" + name + "'");
  }
  // CPU time is counted in ticks (10 ms each on Linux, summed over every core), so a window of
  // a few ticks cannot say what others did in it: left unmeasured rather than made up.
  if (w.interference && r.time_s >= kMinInterferenceWindowS) {
    if (auto others = w.interference->End(r.time_s); others.ok()) r.interference = *others;
  }
  const double period = meter_->update_period_s();
  const double mean_w = r.time_s > 0 ? r.energy_j / r.time_s : 0;
  r.energy_bound_j = period * mean_w + meter_->facts().resolution_j;
  if (r.interference && *r.interference > options_.max_interference) {
    r.flags.push_back(kFlagInterference);
  }
  if (r.time_s < kWindowUpdates * period) r.flags.push_back(kFlagShortWindow);
  if (idle_w_) {
    // At or below zero it is no energy the code spent: the idle figure could not be taken
    // cleanly (others ran meanwhile). Unavailable and flagged, never a figure <= 0.
    const double dynamic = r.energy_j - *idle_w_ * r.time_s;
    if (dynamic > 0) {
      r.energy_dynamic_j = dynamic;
    } else {
      r.flags.push_back(kFlagBelowIdle);
    }
    if (idle_shared_) r.flags.push_back(kFlagIdleStale);
  }
  open_.erase(it);
  return r;
}

Result<double> WindowMonitor::MeasureIdle(double seconds) {
  if (!(seconds > 0)) return Status::InvalidArgument("idle window must be longer than 0 s");
  std::lock_guard<std::mutex> lock(mu_);
  // The idle window itself is one of the loop's: at least kWindowUpdates sensor updates.
  seconds = std::max(seconds, kWindowUpdates * meter_->update_period_s());
  std::unique_ptr<InterferenceProbe> probe = NewProbe();
  if (probe && !probe->Begin().ok()) probe.reset();
  WF_ASSIGN_OR_RETURN(const double j0, ReadSensorJoules(*meter_));
  const double t0 = clock_.NowSeconds();
  clock_.SleepFor(seconds);
  WF_ASSIGN_OR_RETURN(const double j1, ReadSensorJoules(*meter_));
  const double wall = clock_.NowSeconds() - t0;
  const double watts = wall > 0 ? (j1 - j0) / wall : -1;
  if (!std::isfinite(watts) || watts < 0) {
    return Status::Sensor("sensor: idle power read " + std::to_string(watts) + " W");
  }
  idle_shared_ = false;
  if (probe && wall >= kMinInterferenceWindowS) {  // shorter: ticks cannot tell
    if (auto others = probe->End(wall); others.ok()) {
      idle_shared_ = *others > options_.max_interference;
    }
  }
  idle_w_ = watts;
  return watts;
}

std::optional<double> WindowMonitor::idle_w() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_w_;
}

std::string WindowMonitor::sensor() const { return meter_->name(); }
std::string WindowMonitor::domain() const { return meter_->domain(); }
bool WindowMonitor::energy_is_estimate() const { return meter_->is_estimate(); }

std::vector<std::string> WindowMonitor::open_windows() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, w] : open_) names.push_back(name);
  return names;
}

}  // namespace wattfleet
