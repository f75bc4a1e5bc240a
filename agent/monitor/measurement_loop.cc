// The measurement protocol (docs/measurement.md, "The loop"): warm-up, idle baseline, window
// growth, repeats until the 95 % CI is met, cool-down; SENSOR failures instead of bad data, and
// quality flags for what a busy machine does to a window.
#include "wattfleet/monitor/measurement_loop.h"

#include <algorithm>
#include <optional>
#include <cmath>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace wattfleet {
namespace {

// A window needs at least this many iterations of growth before we call the clock broken: a
// workload whose 2^40 iterations take no measurable time is not a workload, it is a bug (or a
// clock that does not advance).
constexpr int64_t kMaxIterations = int64_t{1} << 40;

// A window's energy may fall short of idle_w x time by up to this fraction before it is
// doubted (below). Counters that update periodically (NVML ~100 ms, the modeled meter's
// 10 ms jiffies) attribute a window's energy to the update that lands after it, so a short
// window can legitimately read somewhat less than idle power alone implies; half of it cannot.
constexpr double kBelowIdleTolerance = 0.5;
// A window below that floor is measured again against a freshly measured idle power, at most
// this many times. On a shared machine the idle figure may have been taken while others kept
// the device busy and the window while they paused (a bursty load): a quality condition, not
// a broken sensor. Only a window that stays below the floor while the machine is quiet is one.
constexpr int kBelowFloorRetries = 3;
// Sensors updating faster than this are not phase-shifted: the loop's own jitter between
// windows (reads, the workload's start) already spreads their phase.
constexpr double kPhaseShiftMinPeriodS = 0.05;

std::string Num(double x) {
  std::ostringstream os;
  os.precision(6);
  os << x;
  return os.str();
}

// Meter errors are SENSOR failures by contract (meter.h): code kSensor, which is what callers
// look for, and a message that says "sensor:" to whoever reads the job's error, keeping the
// backend's words (which name the file).
Status SensorError(const Status& s) {
  if (s.code() == StatusCode::kSensor) return s;
  return Status::Sensor("sensor: " + s.message());
}

std::string WindowLabel(int64_t k, int64_t n) {
  return "window " + std::to_string(k) + " of " + std::to_string(n) + " iterations";
}

// A window's reading as no working sensor gives it, whatever else runs: a counter that did
// not move is a stuck sensor, never zero power; a negative or non-finite difference is a
// broken one.
Status CheckReading(double e0, double e1, double time, const std::string& window,
                    const Measurement& m) {
  const double energy = e1 - e0;
  if (std::isfinite(energy) && energy > 0) return Status::OK();
  const std::string why = !std::isfinite(energy) ? "is not finite"
                          : energy == 0 ? "is zero: the sensor did not move over " + Num(time) +
                                              " s (stuck?)"
                                        : "is not positive";
  return Status::Sensor("sensor: " + window + ": energy " + Num(energy) + " J (" + Num(e0) +
                        " -> " + Num(e1) + ") over " + Num(time) + " s " + why + " (" +
                        m.sensor + "/" + m.domain + ")");
}

struct Stats {
  double mean = 0;
  double std = 0;  // sample standard deviation (n - 1); 0 for a single value
};

Stats MeanStd(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

// 95 % CI half-width relative to the mean; infinite when it cannot be computed (one value, or
// a zero mean), so that "rel_ci <= target" is simply false.
double RelCi(const std::vector<double>& v) {
  if (v.size() < 2) return std::numeric_limits<double>::infinity();
  const Stats s = MeanStd(v);
  if (s.mean == 0) return std::numeric_limits<double>::infinity();
  const double half = StudentT95(static_cast<int64_t>(v.size()) - 1) * s.std /
                      std::sqrt(static_cast<double>(v.size()));
  return half / std::fabs(s.mean);
}

// Sleeps the cool-down on every exit once the workload has run, failures included: the next
// job's warm-up and idle baseline should not inherit this one's heat either way.
class CooldownGuard {
 public:
  CooldownGuard(Clock& clock, double seconds) : clock_(clock), seconds_(seconds) {}
  ~CooldownGuard() {
    if (seconds_ > 0) clock_.SleepFor(seconds_);
  }
  CooldownGuard(const CooldownGuard&) = delete;
  CooldownGuard& operator=(const CooldownGuard&) = delete;

 private:
  Clock& clock_;
  double seconds_;
};

// Doubles the iteration count until warmup_ms of clock time has passed; at least one
// iteration, so that lazy initialisation (allocators, kernels, caches) is never timed.
Status WarmUp(Workload& workload, Clock& clock, double warmup_s) {
  const double start = clock.NowSeconds();
  int64_t n = 1;
  for (;;) {
    WF_RETURN_IF_ERROR(workload.Run(n));
    if (clock.NowSeconds() - start >= warmup_s) return Status::OK();
    if (n >= kMaxIterations) {
      return Status::Internal("warm-up: " + std::to_string(n) +
                              " iterations took no measurable time (is the clock advancing?)");
    }
    n *= 2;
  }
}

// Returns right after the sensor's reading next changes, or after two periods without a change
// (or when it cannot be read: the window then starts unanchored, not failed).
void WaitForUpdate(Meter& meter, Clock& clock, double period_s) {
  auto first = meter.ReadSensor();
  if (!first.ok()) return;
  const double poll = std::min(0.001, period_s / 100);
  const double give_up = clock.NowSeconds() + 2 * period_s;
  while (clock.NowSeconds() < give_up) {
    clock.SleepFor(poll);
    auto now = meter.ReadSensor();
    if (!now.ok() || *now != *first) return;
  }
}

// Grows the iteration count until one run lasts at least target_s. These runs are timing
// probes, not repeats: their energy is never read.
Result<int64_t> GrowWindow(Workload& workload, Clock& clock, double target_s) {
  int64_t n = 1;
  for (;;) {
    const double t0 = clock.NowSeconds();
    WF_RETURN_IF_ERROR(workload.Run(n));
    const double elapsed = clock.NowSeconds() - t0;
    if (elapsed >= target_s) return n;
    if (n >= kMaxIterations) {
      return Status::Internal("window growth: " + std::to_string(n) + " iterations took " +
                              Num(elapsed) + " s, never reaching " + Num(target_s) +
                              " s (is the clock advancing?)");
    }
    // Aim 20 % past the target so that jitter rarely leaves a window short, but grow by at
    // least 2x (progress even when the estimate is noisy) and at most 10x (one slow first
    // iteration must not make the next run enormous).
    double factor = elapsed > 0 ? target_s / elapsed * 1.2 : 10.0;
    factor = std::clamp(factor, 2.0, 10.0);
    const double next = std::ceil(static_cast<double>(n) * factor);
    n = next >= static_cast<double>(kMaxIterations) ? kMaxIterations : static_cast<int64_t>(next);
  }
}

}  // namespace

IdleBaseline::IdleBaseline(Meter& meter, Clock& clock, double window_s, double max_age_s)
    : meter_(meter), clock_(clock), window_s_(window_s), max_age_s_(max_age_s) {}

Result<double> IdleBaseline::Watts(InterferenceProbe* interference) {
  if (measured_at_ >= 0 && clock_.NowSeconds() - measured_at_ <= max_age_s_) return watts_;
  return Refresh(interference);
}

Result<double> IdleBaseline::Refresh(InterferenceProbe* interference) {
  if (interference != nullptr && !interference->Begin().ok()) interference = nullptr;
  auto e0 = meter_.ReadJoules();
  if (!e0.ok()) return SensorError(e0.status().WithContext("idle baseline"));
  const double t0 = clock_.NowSeconds();
  clock_.SleepFor(window_s_);
  const double t1 = clock_.NowSeconds();
  auto e1 = meter_.ReadJoules();
  if (!e1.ok()) return SensorError(e1.status().WithContext("idle baseline"));
  const double dt = t1 - t0;
  const double de = *e1 - *e0;
  const double watts = dt > 0 ? de / dt : std::numeric_limits<double>::quiet_NaN();
  // Zero idle power is as implausible as negative: every powered device draws something, so
  // it means the counter did not move over the window.
  if (!std::isfinite(watts) || watts <= 0) {
    return Status::Sensor("sensor: idle baseline: " + Num(de) + " J over " + Num(dt) +
                               " s gives " + Num(watts) + " W" +
                               (de == 0 ? ": the sensor did not move (stuck?)" : "") + " (" +
                               meter_.name() + "/" + meter_.domain() + ")");
  }
  // A failed refresh keeps the old value out of use (the error is returned) but does not
  // overwrite it, so the next call retries.
  watts_ = watts;
  measured_at_ = t1;
  interference_ = std::numeric_limits<double>::quiet_NaN();
  if (interference != nullptr) {
    if (auto o = interference->End(dt); o.ok()) interference_ = *o;
  }
  return watts_;
}

double StudentT95(int64_t dof) {
  if (dof < 1) return std::numeric_limits<double>::infinity();
  // Two-sided 95 % quantiles, exact to three decimals, dof 1..30.
  static constexpr double kTable[30] = {
      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof <= 30) return kTable[dof - 1];
  // Beyond 30, the quantile is close to linear in 1/dof; interpolate between the standard
  // table points 30, 40, 60, 120 and infinity (1.960), which is accurate to ~1e-3.
  struct Point {
    double dof;
    double t;
  };
  static constexpr Point kTail[] = {{30, 2.042}, {40, 2.021}, {60, 2.000}, {120, 1.980}};
  const double x = 1.0 / static_cast<double>(dof);
  for (size_t i = 0; i + 1 < std::size(kTail); ++i) {
    if (dof <= kTail[i + 1].dof) {
      const double x0 = 1.0 / kTail[i].dof, x1 = 1.0 / kTail[i + 1].dof;
      return kTail[i + 1].t + (kTail[i].t - kTail[i + 1].t) * (x - x1) / (x0 - x1);
    }
  }
  return 1.960 + (1.980 - 1.960) * x * 120.0;
}

namespace {

// The idle power a job's dynamic energy rests on (step 2). Cached per agent by IdleBaseline;
// past half its maximum age it is measured again now, so that only a job longer than that
// half can end with a figure older than the maximum (idle-stale). Measured while others kept
// the device busy, it is too high and every dynamic figure too low: measured again, once.
Result<double> IdleForJob(IdleBaseline& idle, const MeasurementSettings& settings, Clock& clock,
                          InterferenceProbe* interference) {
  const bool aging = idle.measured_at() >= 0 &&
                     clock.NowSeconds() - idle.measured_at() > idle.max_age_s() / 2;
  auto idle_w = aging ? idle.Refresh(interference) : idle.Watts(interference);
  if (idle_w.ok() && idle.interference() > settings.max_interference) {
    idle_w = idle.Refresh(interference);
  }
  if (!idle_w.ok()) return SensorError(idle_w.status());
  return idle_w;
}

// One timed window of `n` iterations: the counter's two reads and the other work beside it.
struct Window {
  double e0 = 0, e1 = 0, time = 0;
  std::optional<double> shared;  // others' busy cores (or GPU share); none: not measured
};

// The windows of one job (step 4) and what the summary needs of them.
class WindowLoop {
 public:
  WindowLoop(Workload& workload, Meter& meter, IdleBaseline& idle,
             const MeasurementSettings& settings, Clock& clock, InterferenceProbe* probe,
             int64_t n, double idle_w, Measurement& m)
      : workload_(workload), meter_(meter), idle_(idle), settings_(settings), clock_(clock),
        probe_(probe), shared_probe_(probe), n_(n), idle_w_(idle_w), m_(m) {}

  // Windows until the CI targets are met after min_repeats, or max_repeats are kept. A
  // CI needs two windows, so min_repeats is raised to 2 and max_repeats to at least it.
  Status Run() {
    const int64_t min_repeats = std::max<int64_t>(settings_.min_repeats, 2);
    const int64_t max_repeats = std::max(settings_.max_repeats, min_repeats);
    int64_t windows_started = 0;
    for (int64_t k = 1; k <= max_repeats; ++k) {
      if (windows_started++ > 0) SpreadPhase(windows_started);
      WF_ASSIGN_OR_RETURN(const Window w, TimeWindow());
      // Interference: windows over the limit are measured again, at most max_repeats of them
      // (a machine that never quietens down must not hold the job forever: its windows are
      // then kept and flagged).
      if (w.shared) {
        if (*w.shared > settings_.max_interference) {
          if (m_.windows_discarded < max_repeats) {
            ++m_.windows_discarded;
            --k;  // this window does not count: measured again
            continue;
          }
          kept_shared_ = true;
        }
        interference_.push_back(*w.shared);
      }
      WF_RETURN_IF_ERROR(CheckReading(w.e0, w.e1, w.time, WindowLabel(k, n_), m_));
      WF_ASSIGN_OR_RETURN(const bool again, BelowFloor(w, k, max_repeats));
      if (again) {
        --k;
        continue;
      }
      const double energy = w.e1 - w.e0, dn = static_cast<double>(n_);
      m_.repeats.push_back(Repeat{n_, w.time, energy});
      energy_per_iter_.push_back(energy / dn);
      time_per_iter_.push_back(w.time / dn);
      rel_ci_ = RelCi(energy_per_iter_);
      // Both figures a job reports must be trustworthy: energy per iteration (the
      // protocol's target) and time per iteration, which every estimator also fits.
      if (k >= min_repeats && rel_ci_ <= settings_.target_rel_ci &&
          RelCi(time_per_iter_) <= settings_.target_rel_ci) {
        break;
      }
    }
    return Status::OK();
  }

  // Step 5: means, the dynamic energy, the sensor's bound and the quality flags.
  void Summarise() {
    const Stats e = MeanStd(energy_per_iter_);
    const Stats t = MeanStd(time_per_iter_);
    m_.energy_per_iter_j = e.mean;
    m_.energy_std_j = e.std;
    m_.time_per_iter_s = t.mean;
    m_.time_std_s = t.std;
    // The mean of the windows' (energy - idle x time), against the idle figure as it stands
    // now (a window below the floor may have had it measured again).
    m_.idle_w = idle_w_;
    m_.energy_dynamic_per_iter_j = e.mean - idle_w_ * t.mean;
    // Below idle by more than the windows' own spread (and 1 %): a workload cannot draw less
    // than an idle device, so noise around zero is fine and anything past it is not.
    const double below_idle_tolerance =
        -std::max(std::isfinite(rel_ci_) ? rel_ci_ : 0.0, 0.01) * e.mean;
    if (m_.energy_dynamic_per_iter_j < below_idle_tolerance) {
      // Less than idle power over the windows: the idle figure is likely stale (measured
      // while something else ran, or before the device settled). Measured again, once.
      if (auto fresh = idle_.Refresh(probe_); fresh.ok()) {
        m_.idle_w = *fresh;
        m_.energy_dynamic_per_iter_j = e.mean - m_.idle_w * t.mean;
      }
    }
    if (!interference_.empty()) m_.interference = MeanStd(interference_).mean;
    // The sensor's own bound: a read sees the counter as of its last update, up to one period
    // late at each end, which can shift a window by up to one period of its power; plus one
    // counter step. Spread over the window's iterations. A reading that averages over longer
    // than it updates lags by that much instead.
    const MeterFacts facts = meter_.facts();
    const double period = meter_.update_period_s();
    const double lag = std::max(period, facts.averaging_s);
    const double window_w = t.mean > 0 ? e.mean / t.mean : 0;
    m_.sensor_update_period_s = period;
    m_.energy_bound_j = (window_w * lag + facts.resolution_j) / static_cast<double>(n_);
    m_.rel_ci = rel_ci_;
    m_.time_rel_ci = RelCi(time_per_iter_);
    m_.ci_met = rel_ci_ <= settings_.target_rel_ci && m_.time_rel_ci <= settings_.target_rel_ci;
    if (!m_.ci_met) m_.flags.push_back(kFlagCi);
    if (kept_shared_) m_.flags.push_back(kFlagInterference);
    if (kept_below_floor_ || m_.energy_dynamic_per_iter_j < below_idle_tolerance) {
      m_.flags.push_back(kFlagBelowIdle);
    }
    // The idle figure the dynamic energy rests on: measured while the device was shared (even
    // after measuring it again), or older than its refresh age by the last window's end.
    if (idle_.interference() > settings_.max_interference ||
        clock_.NowSeconds() - idle_.measured_at() > idle_.max_age_s()) {
      m_.flags.push_back(kFlagIdleStale);
    }
  }

 private:
  // A slow sensor's phase: on parts whose sensor samples only part of each update period
  // (docs/measurement.md, "NVML"), windows that all start at the same phase would all miss
  // the same work. Each window after the first waits for the sensor's next update, then
  // starts the k-th multiple of the golden ratio's fractional part of a period after it, so
  // that the starts spread evenly over the period.
  void SpreadPhase(int64_t windows_started) {
    const double period = meter_.update_period_s();
    if (period < kPhaseShiftMinPeriodS) return;
    WaitForUpdate(meter_, clock_, period);
    const double phase = std::fmod(static_cast<double>(windows_started) * 0.6180339887, 1.0);
    clock_.SleepFor(phase * period);
  }

  Result<Window> TimeWindow() {
    // A probe that fails turns interference measurement off for this job: "not measured"
    // rather than a failed job.
    if (shared_probe_ != nullptr && !shared_probe_->Begin().ok()) shared_probe_ = nullptr;
    Window w;
    auto e0 = meter_.ReadJoules();
    if (!e0.ok()) return SensorError(e0.status());
    const double t0 = clock_.NowSeconds();
    WF_RETURN_IF_ERROR(workload_.Run(n_));
    const double t1 = clock_.NowSeconds();
    auto e1 = meter_.ReadJoules();
    if (!e1.ok()) return SensorError(e1.status());
    w.e0 = *e0;
    w.e1 = *e1;
    w.time = t1 - t0;
    if (shared_probe_ != nullptr) {
      if (auto o = shared_probe_->End(w.time); o.ok()) {
        w.shared = *o;
      } else {
        shared_probe_ = nullptr;
      }
    }
    return w;
  }

  // A window below the idle floor (less than half of what idle power implies): true when it
  // is to be measured again, against a fresh idle figure (the old one may have been taken
  // while others kept the device busy), up to kBelowFloorRetries times; then kept and
  // flagged, or a SENSOR failure when nothing else ran, neither in the window nor while idle
  // was measured (unknown counts as quiet: there is nothing to blame).
  Result<bool> BelowFloor(const Window& w, int64_t k, int64_t max_repeats) {
    const double energy = w.e1 - w.e0;
    const double idle_floor = idle_w_ * w.time * kBelowIdleTolerance;
    if (energy >= idle_floor) return false;
    if (below_floor_retries_ < kBelowFloorRetries && m_.windows_discarded < max_repeats) {
      ++below_floor_retries_;
      ++m_.windows_discarded;
      auto fresh = idle_.Refresh(probe_);
      if (!fresh.ok()) return SensorError(fresh.status());
      idle_w_ = *fresh;
      return true;
    }
    const bool window_quiet = !w.shared || *w.shared <= settings_.max_interference;
    const bool idle_quiet = !(idle_.interference() > settings_.max_interference);
    if (window_quiet && idle_quiet) {
      return Status::Sensor(
          "sensor: " + WindowLabel(k, n_) + ": energy " + Num(energy) + " J over " +
          Num(w.time) + " s is below half of what idle power implies (" + Num(idle_w_) +
          " W x " + Num(w.time) + " s x " + Num(kBelowIdleTolerance) + " = " + Num(idle_floor) +
          " J), again after measuring idle power " + std::to_string(below_floor_retries_) +
          " more times on a quiet machine (" + m_.sensor + "/" + m_.domain + ")");
    }
    kept_below_floor_ = true;
    return false;
  }

  Workload& workload_;
  Meter& meter_;
  IdleBaseline& idle_;
  const MeasurementSettings& settings_;
  Clock& clock_;
  InterferenceProbe* probe_;         // for fresh idle figures
  InterferenceProbe* shared_probe_;  // for the windows; null once it fails
  const int64_t n_;
  double idle_w_;
  Measurement& m_;
  std::vector<double> energy_per_iter_, time_per_iter_, interference_;
  double rel_ci_ = std::numeric_limits<double>::infinity();
  bool kept_shared_ = false;
  int below_floor_retries_ = 0;
  bool kept_below_floor_ = false;
};

}  // namespace

Result<Measurement> Measure(Workload& workload, Meter& meter, IdleBaseline& idle,
                            const MeasurementSettings& settings, Clock& clock,
                            Telemetry* telemetry, InterferenceProbe* interference_probe) {
  CooldownGuard cooldown(clock, static_cast<double>(settings.cooldown_ms) / 1000.0);
  const auto sample = [telemetry]() -> Result<TelemetrySample> {
    if (telemetry == nullptr) return TelemetrySample{};
    return telemetry->Read();
  };
  // 0. The device's state as the job finds it: the previous job's heat, or a cold start.
  const Result<TelemetrySample> before = sample();
  // 1. Warm-up.
  WF_RETURN_IF_ERROR(WarmUp(workload, clock, static_cast<double>(settings.warmup_ms) / 1000.0));
  // 2. Idle baseline.
  WF_ASSIGN_OR_RETURN(const double idle_w,
                      IdleForJob(idle, settings, clock, interference_probe));
  // 3. Window length: min_window_ms, and never fewer than kWindowUpdates counter updates,
  // because a window's energy is uncertain by up to one update period at each end. The
  // period is the characterised one when the agent measured a longer one (characterise.h).
  const double target_s = std::max(static_cast<double>(settings.min_window_ms) / 1000.0,
                                   kWindowUpdates * meter.update_period_s());
  WF_ASSIGN_OR_RETURN(const int64_t n, GrowWindow(workload, clock, target_s));
  // 4. Repeats, and 5. their summary.
  Measurement m;
  m.sensor = meter.name();
  m.domain = meter.domain();
  m.energy_is_estimate = meter.is_estimate();
  m.energy_model = meter.assumes();
  m.iterations_per_window = n;
  m.idle_w = idle_w;
  WindowLoop windows(workload, meter, idle, settings, clock, interference_probe, n, idle_w, m);
  WF_RETURN_IF_ERROR(windows.Run());
  windows.Summarise();
  // 6. The device's state at the end of the work, before cool-down lets it recover.
  RecordTelemetry(before, sample(), &m);
  // 7. Cool-down: CooldownGuard, on return.
  return m;
}

}  // namespace wattfleet
