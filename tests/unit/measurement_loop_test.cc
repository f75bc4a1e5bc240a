// The measurement protocol driven by a fake clock, a fake workload and a fake meter, so that
// every number is exact and nothing sleeps.
#include "wattfleet/monitor/measurement_loop.h"

#include "fake_meter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace wattfleet {
namespace {

using testing::Event;
using testing::FakeClock;
using testing::FakeMeter;
using testing::FakeWorkload;

MeasurementSettings Settings() {
  MeasurementSettings s;  // documented defaults: 200 ms warm-up, 500 ms windows, 5 %, 3..20
  return s;
}

TEST(StudentT95, KnownValues) {
  EXPECT_DOUBLE_EQ(StudentT95(1), 12.706);
  EXPECT_DOUBLE_EQ(StudentT95(2), 4.303);
  EXPECT_DOUBLE_EQ(StudentT95(3), 3.182);
  EXPECT_DOUBLE_EQ(StudentT95(4), 2.776);
  EXPECT_DOUBLE_EQ(StudentT95(5), 2.571);
  EXPECT_DOUBLE_EQ(StudentT95(10), 2.228);
  EXPECT_DOUBLE_EQ(StudentT95(30), 2.042);
  EXPECT_NEAR(StudentT95(40), 2.021, 1e-9);
  EXPECT_NEAR(StudentT95(60), 2.000, 1e-9);
  EXPECT_NEAR(StudentT95(120), 1.980, 1e-9);
  EXPECT_NEAR(StudentT95(50), 2.009, 2e-3);   // true value 2.0086
  EXPECT_NEAR(StudentT95(1000), 1.962, 1e-3);  // true value 1.9623
  EXPECT_NEAR(StudentT95(int64_t{1} << 40), 1.960, 1e-6);
  EXPECT_TRUE(std::isinf(StudentT95(0)));
  for (int64_t d = 1; d < 2000; ++d) EXPECT_GE(StudentT95(d), StudentT95(d + 1)) << d;
}

TEST(IdleBaseline, MeasuresCachesAndRefreshes) {
  FakeClock clock;
  FakeMeter meter(clock, 40);
  IdleBaseline idle(meter, clock, /*window_s=*/0.3, /*max_age_s=*/300);
  auto w = idle.Watts();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_NEAR(*w, 40, 1e-9);
  EXPECT_EQ(meter.reads, 2);
  ASSERT_EQ(clock.events.size(), 1u);
  EXPECT_DOUBLE_EQ(clock.events[0].amount, 0.3);

  meter.power_w = 55;
  clock.Advance(299);
  w = idle.Watts();
  ASSERT_TRUE(w.ok());
  EXPECT_NEAR(*w, 40, 1e-9) << "cached within max_age";
  EXPECT_EQ(meter.reads, 2);

  clock.Advance(2);
  w = idle.Watts();
  ASSERT_TRUE(w.ok());
  EXPECT_NEAR(*w, 55, 1e-9) << "refreshed after max_age";
  EXPECT_EQ(meter.reads, 4);
}

TEST(IdleBaseline, ZeroNegativeNanAndErrorsAreSensorFailures) {
  FakeClock clock;
  FakeMeter meter(clock, 40);
  IdleBaseline idle(meter, clock);
  meter.tamper = [](int, double) -> Result<double> { return 5.0; };  // counter stuck
  auto w = idle.Watts();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kSensor);
  EXPECT_EQ(w.status().message().rfind("sensor:", 0), 0u) << w.status().message();

  meter.tamper = [](int read, double) -> Result<double> { return -1.0 * read; };
  w = idle.Watts();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kSensor);

  meter.tamper = [](int, double) -> Result<double> {
    return std::numeric_limits<double>::quiet_NaN();
  };
  EXPECT_FALSE(idle.Watts().ok());

  meter.tamper = [](int, double) -> Result<double> {
    return Status::IOError("/fake/energy_uj: gone");
  };
  w = idle.Watts();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kSensor);
  EXPECT_NE(w.status().message().find("/fake/energy_uj"), std::string::npos);

  meter.tamper = nullptr;  // a failed refresh is retried on the next call
  w = idle.Watts();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_NEAR(*w, 40, 1e-9);
}

TEST(Measure, NoiseFreeStopsAtMinRepeatsWithExactNumbers) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  auto m = Measure(work, meter, idle, Settings(), clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->sensor, "fake");
  EXPECT_EQ(m->domain, "fake-domain");
  EXPECT_FALSE(m->energy_is_estimate);
  EXPECT_EQ(m->repeats.size(), 3u);
  EXPECT_TRUE(m->ci_met);
  EXPECT_NEAR(m->rel_ci, 0, 1e-9);
  EXPECT_NEAR(m->time_rel_ci, 0, 1e-9);
  EXPECT_NEAR(m->time_per_iter_s, 0.001, 1e-12);
  EXPECT_NEAR(m->time_std_s, 0, 1e-12);
  EXPECT_NEAR(m->energy_per_iter_j, 0.1, 1e-9);
  EXPECT_NEAR(m->energy_std_j, 0, 1e-9);
  EXPECT_NEAR(m->idle_w, 100, 1e-9);
  EXPECT_NEAR(m->energy_dynamic_per_iter_j, 0, 1e-9);
  for (const Repeat& r : m->repeats) {
    EXPECT_EQ(r.iterations, m->iterations_per_window);
    EXPECT_GE(r.time_s, 0.5);
    EXPECT_NEAR(r.energy_j, 100 * r.time_s, 1e-6);
  }
}

TEST(Measure, WindowIsAtLeastMinWindow) {
  FakeClock clock;
  FakeWorkload work(clock, 0.0007);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  auto m = Measure(work, meter, idle, Settings(), clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_GE(m->iterations_per_window * 0.0007, 0.5);
  // Growth overshoots by at most its 10x cap of the previous (too short) run.
  EXPECT_LT(m->iterations_per_window * 0.0007, 5.0);
  for (const Repeat& r : m->repeats) EXPECT_GE(r.time_s, 0.5);
}

TEST(Measure, WindowIsAtLeastTenUpdatePeriods) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  meter.period_s = 0.1;  // NVML-like: windows must last >= 1 s even though min_window is 10 ms
  IdleBaseline idle(meter, clock);
  MeasurementSettings s = Settings();
  s.min_window_ms = 10;
  auto m = Measure(work, meter, idle, s, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_GE(m->iterations_per_window, 1000);
  for (const Repeat& r : m->repeats) EXPECT_GE(r.time_s, 1.0 - 1e-9);
}

// Time per iteration that jumps between windows while energy per iteration stays put: a meter
// that counts work done (1 J per iteration) plus a small idle draw, and a workload whose pace
// alternates. Energy alone would meet the target at once; time must meet it too.
class PerIterationMeter final : public Meter {
 public:
  PerIterationMeter(FakeClock& clock, const int64_t& iterations)
      : clock_(clock), iterations_(iterations) {}
  std::string name() const override { return "per-iteration"; }
  std::string domain() const override { return "test"; }
  bool is_estimate() const override { return true; }
  std::string assumes() const override { return "a test model"; }
  double update_period_s() const override { return 0.001; }
  Result<double> ReadJoules() override {
    return static_cast<double>(iterations_) + 0.001 * clock_.NowSeconds();
  }
  MeterFacts facts() const override { return {"model", 0, 0, 0, ""}; }
  Result<double> ReadSensor() override { return ReadJoules(); }

 private:
  FakeClock& clock_;
  const int64_t& iterations_;
};

class UnevenWorkload final : public Workload {
 public:
  explicit UnevenWorkload(FakeClock& clock) : clock_(clock) {}
  Status Run(int64_t n) override {
    iterations += n;
    clock_.Advance(0.001 * static_cast<double>(n) * (++calls % 2 == 0 ? 1.0 : 1.6));
    return Status::OK();
  }
  int64_t iterations = 0;
  int calls = 0;

 private:
  FakeClock& clock_;
};

TEST(Measure, TimeMustMeetTheTargetToo) {
  FakeClock clock;
  UnevenWorkload work(clock);
  PerIterationMeter meter(clock, work.iterations);
  IdleBaseline idle(meter, clock);
  MeasurementSettings s = Settings();
  s.max_repeats = 6;
  auto m = Measure(work, meter, idle, s, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_LT(m->rel_ci, 0.05);       // energy per iteration barely moves ...
  EXPECT_GT(m->time_rel_ci, 0.05);  // ... time per iteration does
  EXPECT_EQ(m->repeats.size(), 6u);  // so the loop did not stop at min_repeats
  EXPECT_FALSE(m->ci_met);
}

TEST(Measure, NoisyRunsToMaxRepeatsAndFlagsMissedTarget) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  meter.noise = {0.3, -0.2, 0.1, -0.3, 0.25};
  IdleBaseline idle(meter, clock);
  MeasurementSettings s = Settings();
  s.max_repeats = 7;
  auto m = Measure(work, meter, idle, s, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->repeats.size(), 7u);
  EXPECT_FALSE(m->ci_met);
  EXPECT_EQ(m->flags, std::vector<std::string>{kFlagCi});
  EXPECT_GT(m->rel_ci, 0.05);
  EXPECT_GT(m->energy_std_j, 0);

  // rel_ci is the 95 % half-width over the mean of energy per iteration.
  std::vector<double> e;
  for (const Repeat& r : m->repeats) e.push_back(r.energy_j / static_cast<double>(r.iterations));
  double mean = 0;
  for (double x : e) mean += x;
  mean /= static_cast<double>(e.size());
  double ss = 0;
  for (double x : e) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(e.size() - 1));
  EXPECT_NEAR(m->energy_per_iter_j, mean, 1e-12);
  EXPECT_NEAR(m->energy_std_j, sd, 1e-12);
  EXPECT_NEAR(m->rel_ci, StudentT95(6) * sd / std::sqrt(7.0) / mean, 1e-12);
}

TEST(Measure, ModerateNoiseStopsOnceTargetIsMet) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  meter.noise = {0.01, -0.01};
  IdleBaseline idle(meter, clock);
  auto m = Measure(work, meter, idle, Settings(), clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->ci_met);
  EXPECT_LE(m->rel_ci, 0.05);
  EXPECT_GE(m->repeats.size(), 3u);
  EXPECT_LT(m->repeats.size(), 20u);
}

TEST(Measure, DynamicEnergyIsRawMinusIdleTimesTime) {
  FakeClock clock;
  FakeWorkload work(clock, 0.002);
  FakeMeter meter(clock, 40);
  IdleBaseline idle(meter, clock);
  ASSERT_TRUE(idle.Watts().ok());  // idle measured at 40 W, then the device gets busy
  meter.power_w = 100;
  auto m = Measure(work, meter, idle, Settings(), clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NEAR(m->idle_w, 40, 1e-9);
  EXPECT_NEAR(m->energy_per_iter_j, 0.2, 1e-9);
  EXPECT_NEAR(m->energy_dynamic_per_iter_j, (100 - 40) * 0.002, 1e-9);
  double expect = 0;
  for (const Repeat& r : m->repeats) {
    expect += (r.energy_j - 40 * r.time_s) / static_cast<double>(r.iterations);
  }
  expect /= static_cast<double>(m->repeats.size());
  EXPECT_NEAR(m->energy_dynamic_per_iter_j, expect, 1e-12);
}

TEST(Measure, WarmUpLastsAtLeastWarmupMsAndCoolDownSleeps) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock, 0.3);
  MeasurementSettings s = Settings();
  s.warmup_ms = 200;
  s.cooldown_ms = 750;
  auto m = Measure(work, meter, idle, s, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_FALSE(clock.events.empty());
  // Everything before the idle baseline's sleep is warm-up.
  double warm_iters = 0;
  int warm_runs = 0;
  size_t i = 0;
  for (; i < clock.events.size() && clock.events[i].kind == Event::kRun; ++i) {
    warm_iters += clock.events[i].amount;
    ++warm_runs;
  }
  ASSERT_LT(i, clock.events.size());
  EXPECT_DOUBLE_EQ(clock.events[i].amount, 0.3) << "idle baseline window";
  EXPECT_GE(warm_runs, 1);
  EXPECT_GE(warm_iters * 0.001, 0.2 - 1e-12);
  EXPECT_LT(warm_iters * 0.001, 0.5) << "doubling overshoots by at most about 2x";
  EXPECT_EQ(clock.events.front().amount, 1) << "warm-up starts with one iteration";
  const Event& last = clock.events.back();
  EXPECT_EQ(last.kind, Event::kSleep);
  EXPECT_DOUBLE_EQ(last.amount, 0.75);
}

TEST(Measure, WarmUpRunsAtLeastOneIterationWhenZero) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  MeasurementSettings s = Settings();
  s.warmup_ms = 0;
  ASSERT_TRUE(Measure(work, meter, idle, s, clock).ok());
  ASSERT_GE(clock.events.size(), 2u);
  EXPECT_EQ(clock.events[0].kind, Event::kRun);
  EXPECT_EQ(clock.events[1].kind, Event::kSleep) << "one warm-up run, then the idle window";
}

TEST(Measure, UsesCachedIdleBaseline) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  ASSERT_TRUE(Measure(work, meter, idle, Settings(), clock).ok());
  size_t sleeps = 0;
  for (const Event& e : clock.events) sleeps += e.kind == Event::kSleep;
  EXPECT_EQ(sleeps, 2u);  // idle window + cool-down
  clock.events.clear();
  ASSERT_TRUE(Measure(work, meter, idle, Settings(), clock).ok());
  sleeps = 0;
  for (const Event& e : clock.events) sleeps += e.kind == Event::kSleep;
  EXPECT_EQ(sleeps, 1u) << "second job reuses the idle baseline";
}

// Runs Measure with a meter whose reads after the idle baseline are rewritten by `tamper`.
Status MeasureTampered(std::function<Result<double>(int, double)> tamper, double power = 100,
                       double idle_power = 100) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, idle_power);
  IdleBaseline idle(meter, clock);
  if (!idle.Watts().ok()) return Status::Internal("idle baseline failed in the test setup");
  meter.power_w = power;
  meter.tamper = std::move(tamper);
  auto m = Measure(work, meter, idle, Settings(), clock);
  return m.status();
}

void ExpectSensor(const Status& s, const std::string& fragment) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kSensor) << s.ToString();
  EXPECT_EQ(s.message().rfind("sensor:", 0), 0u) << s.message();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(Measure, ZeroWindowIsSensorFailure) {
  // A counter that stops moving is a stuck sensor, never zero power: the error says so.
  ExpectSensor(MeasureTampered([](int, double) -> Result<double> { return 123.0; }),
               "the sensor did not move over");
}

TEST(Measure, NegativeWindowIsSensorFailure) {
  ExpectSensor(MeasureTampered([](int read, double) -> Result<double> { return -10.0 * read; }),
               "not positive");
}

TEST(Measure, NanWindowIsSensorFailure) {
  ExpectSensor(MeasureTampered([](int read, double e) -> Result<double> {
                 return read % 2 ? std::numeric_limits<double>::quiet_NaN() : e;
               }),
               "not finite");
  ExpectSensor(MeasureTampered([](int, double) -> Result<double> {
                 return std::numeric_limits<double>::infinity();
               }),
               "not finite");
}

TEST(Measure, AWindowBelowAStaleIdleIsMeasuredAgainstAFreshOne) {
  // Idle measured at 100 W (while something else ran); the device then draws 40 W, idle or
  // not: less than half of the old idle figure. Measured again against a fresh idle, it holds.
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  ASSERT_TRUE(idle.Watts().ok());
  meter.power_w = 40;
  auto m = Measure(work, meter, idle, Settings(), clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NEAR(m->idle_w, 40, 1e-6);
  EXPECT_EQ(m->windows_discarded, 1);
  EXPECT_TRUE(m->flags.empty());
  // 60 W is below idle but within the tolerance for periodic counters: kept as it is.
  EXPECT_TRUE(MeasureTampered(nullptr, /*power=*/60, /*idle_power=*/100).ok());
}

TEST(Measure, AWindowBelowIdleOnAQuietMachineIsASensorFailure) {
  // A sensor that reads 100 W idle and 40 W while the work runs, with nothing else running:
  // no device does that. After measuring idle again (three times), a SENSOR failure.
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  meter.power_now = [&] { return clock.events.back().kind == Event::kRun ? 40.0 : 100.0; };
  auto m = Measure(work, meter, idle, Settings(), clock);
  ExpectSensor(m.status(), "again after measuring idle power 3 more times on a quiet machine");
}

TEST(Measure, MeterErrorIsSensorFailureNamingTheSource) {
  ExpectSensor(MeasureTampered([](int, double) -> Result<double> {
                 return Status::PermissionDenied("/sys/class/powercap/x/energy_uj: denied");
               }),
               "/sys/class/powercap/x/energy_uj");
}

TEST(Measure, WorkloadErrorsPassThroughAndCoolDownStillHappens) {
  for (int fail_at : {1, 9, 14}) {  // warm-up, window growth, a repeat
    FakeClock clock;
    FakeWorkload work(clock, 0.001);
    work.fail_at_call = fail_at;
    work.failure = Status::InvalidArgument("layer: bad shape");
    FakeMeter meter(clock, 100);
    IdleBaseline idle(meter, clock);
    MeasurementSettings s = Settings();
    s.cooldown_ms = 250;
    auto m = Measure(work, meter, idle, s, clock);
    ASSERT_FALSE(m.ok()) << fail_at;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(m.status().message(), "layer: bad shape");
    ASSERT_FALSE(clock.events.empty());
    EXPECT_EQ(clock.events.back().kind, Event::kSleep);
    EXPECT_DOUBLE_EQ(clock.events.back().amount, 0.25);
  }
}

TEST(Measure, ClockThatNeverAdvancesIsAnErrorNotAHang) {
  FakeClock clock;
  FakeWorkload work(clock, 0);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  auto m = Measure(work, meter, idle, Settings(), clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInternal);
}

TEST(Measure, MinRepeatsBelowTwoStillGivesACi) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  MeasurementSettings s = Settings();
  s.min_repeats = 1;
  s.max_repeats = 1;
  auto m = Measure(work, meter, idle, s, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->repeats.size(), 2u);
  EXPECT_TRUE(std::isfinite(m->rel_ci));
}

// Remembers how many clock events (runs, sleeps) had happened at each read; the n-th read
// reports 40 + 10 n degrees and a clock falling by 100 MHz per read.
class FakeTelemetry final : public Telemetry {
 public:
  explicit FakeTelemetry(FakeClock& clock) : clock_(clock) {}
  Result<TelemetrySample> Read() override {
    events_at_read.push_back(clock_.events.size());
    if (fail) return Status::Unavailable("gpu lost");
    TelemetrySample s;
    s.temperature_c = 40.0 + 10.0 * static_cast<double>(events_at_read.size());
    s.clock_mhz = 3000.0 - 100.0 * static_cast<double>(events_at_read.size());
    s.source = "fake:cpu";
    return s;
  }
  FakeClock& clock_;
  std::vector<size_t> events_at_read;
  bool fail = false;
};

TEST(Measure, TelemetryIsSampledBeforeWarmUpAndAfterTheLastWindowBeforeCoolDown) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  FakeTelemetry telemetry(clock);
  auto m = Measure(work, meter, idle, Settings(), clock, &telemetry);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(telemetry.events_at_read.size(), 2u);
  EXPECT_EQ(telemetry.events_at_read[0], 0u) << "sampled after the warm-up began";
  // Last event: the cool-down sleep; the one before it: the last window. The second sample
  // falls between them.
  ASSERT_GE(clock.events.size(), 2u);
  EXPECT_EQ(clock.events.back().kind, Event::kSleep);
  EXPECT_DOUBLE_EQ(clock.events.back().amount, 0.1);
  EXPECT_EQ(telemetry.events_at_read[1], clock.events.size() - 1);
  const Event& last_window = clock.events[clock.events.size() - 2];
  EXPECT_EQ(last_window.kind, Event::kRun);
  EXPECT_EQ(last_window.amount, static_cast<double>(m->iterations_per_window));

  EXPECT_DOUBLE_EQ(m->temperature_before_c, 50.0);
  EXPECT_DOUBLE_EQ(m->temperature_after_c, 60.0);
  EXPECT_DOUBLE_EQ(m->clock_before_mhz, 2900.0);
  EXPECT_DOUBLE_EQ(m->clock_after_mhz, 2800.0);
  EXPECT_EQ(m->telemetry_source, "fake:cpu");
}

TEST(Measure, WithoutOrWithFailingTelemetryTheFiguresAreNotExposed) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  auto plain = Measure(work, meter, idle, Settings(), clock);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_TRUE(std::isnan(plain->temperature_before_c));
  EXPECT_TRUE(std::isnan(plain->clock_after_mhz));
  EXPECT_EQ(plain->telemetry_source, "");

  FakeTelemetry broken(clock);
  broken.fail = true;
  auto m = Measure(work, meter, idle, Settings(), clock, &broken);
  ASSERT_TRUE(m.ok()) << "telemetry must never fail a measurement: " << m.status().ToString();
  EXPECT_EQ(broken.events_at_read.size(), 2u);
  EXPECT_TRUE(std::isnan(m->temperature_before_c));
  EXPECT_TRUE(std::isnan(m->temperature_after_c));
  EXPECT_TRUE(std::isnan(m->clock_before_mhz));
  EXPECT_TRUE(std::isnan(m->clock_after_mhz));
  EXPECT_EQ(m->telemetry_source, "");
}

// Other work on the machine, per window: each Read pair (before, after a window) adds
// `others[window]` cores' worth of ticks beside the measuring process's own.
class FakeActivity final : public CpuActivitySource {
 public:
  explicit FakeActivity(FakeClock& clock) : clock_(clock) {}
  Result<CpuActivity> Read() override {
    const double dt = clock_.now - last_;
    last_ = clock_.now;
    if (reads_++ % 2 == 1) {  // the end of a window
      const double o = others_now                ? others_now()
                       : window_ < others.size() ? others[window_]
                                                 : others_after;
      ++window_;
      now_.self += static_cast<unsigned long long>(dt * kTicks);
      now_.machine_busy += static_cast<unsigned long long>(dt * kTicks * (1 + o));
    }
    return now_;
  }
  double ticks_per_second() const override { return kTicks; }

  static constexpr double kTicks = 100000;  // fine ticks: the test's windows are short
  std::vector<double> others;  // per window, in order
  double others_after = 0;     // for every window past `others`
  std::function<double()> others_now;  // instead of both, when set

 private:
  FakeClock& clock_;
  double last_ = 0;
  int reads_ = 0;
  size_t window_ = 0;
  CpuActivity now_;
};

TEST(Measure, WindowsSharedWithOtherWorkAreMeasuredAgain) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  FakeActivity activity(clock);
  // The idle window first (quiet), then the timed ones: the first and third share the machine.
  activity.others = {0.0, 1.5, 0.1, 2.0};
  CpuInterference probe(activity);
  auto m = Measure(work, meter, idle, Settings(), clock, nullptr, &probe);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->windows_discarded, 2);
  EXPECT_EQ(m->repeats.size(), 3u);  // min_repeats kept, quiet ones
  EXPECT_NEAR(m->interference, (0.0 + 0.1 + 0.0) / 3, 1e-3);
  EXPECT_TRUE(m->flags.empty()) << m->flags.size();
}

TEST(Measure, AMachineThatNeverQuietensIsFlaggedNotHeldForever) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  FakeActivity activity(clock);
  activity.others_after = 1.0;
  MeasurementSettings s = Settings();
  s.max_repeats = 5;
  CpuInterference probe(activity);
  auto m = Measure(work, meter, idle, s, clock, nullptr, &probe);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->windows_discarded, 5);  // at most max_repeats discarded
  EXPECT_EQ(m->repeats.size(), 3u);
  EXPECT_NEAR(m->interference, 1.0, 1e-3);
  // Its idle window was shared too, twice: the dynamic energy rests on a doubtful idle figure.
  EXPECT_EQ(m->flags, (std::vector<std::string>{kFlagInterference, kFlagIdleStale}));
  // The limit is the campaign's to set: with room for one core, nothing is discarded.
  FakeActivity again(clock);
  again.others_after = 1.0;
  s.max_interference = 1.5;
  CpuInterference again_probe(again);
  m = Measure(work, meter, idle, s, clock, nullptr, &again_probe);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->windows_discarded, 0);
  EXPECT_TRUE(m->flags.empty());
}

TEST(Measure, EnergyBelowIdleMeasuresIdleAgainAndIsFlaggedWhenItStays) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  ASSERT_TRUE(idle.Watts().ok());  // 100 W, cached
  // The device settles lower: the windows draw 80 W; the idle figure was stale.
  meter.power_w = 80;
  auto m = Measure(work, meter, idle, Settings(), clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NEAR(m->idle_w, 80, 1e-6);
  EXPECT_GE(m->energy_dynamic_per_iter_j, -1e-9);
  EXPECT_TRUE(m->flags.empty());

  // Windows that read below idle power even after idle is measured again: a device that
  // draws 100 W idle and 70 W while the work runs (no such device: a sensor to doubt).
  FakeMeter low(clock, 100);
  IdleBaseline idle_low(low, clock);
  low.power_now = [&] { return clock.events.back().kind == Event::kRun ? 70.0 : 100.0; };
  m = Measure(work, low, idle_low, Settings(), clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NEAR(m->idle_w, 100, 1e-6);
  EXPECT_LT(m->energy_dynamic_per_iter_j, 0);
  EXPECT_EQ(m->flags, std::vector<std::string>{kFlagBelowIdle});
}

TEST(Measure, AWindowBelowAnIdleTakenWhileOthersRanIsKeptAndFlagged) {
  // A bursty neighbour: it runs whenever this process sleeps (so every idle window is shared
  // and reads 100 W) and yields while the work runs (40 W). Not a sensor's fault: the windows
  // are kept and flagged, and the job has its measurement.
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  meter.power_now = [&] { return clock.events.back().kind == Event::kRun ? 40.0 : 100.0; };
  FakeActivity activity(clock);
  activity.others_now = [&] { return clock.events.back().kind == Event::kRun ? 0.0 : 2.0; };
  CpuInterference probe(activity);
  auto m = Measure(work, meter, idle, Settings(), clock, nullptr, &probe);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->windows_discarded, 3);
  EXPECT_GE(m->repeats.size(), 3u);
  EXPECT_EQ(m->flags, (std::vector<std::string>{kFlagBelowIdle, kFlagIdleStale}));
}

}  // namespace
}  // namespace wattfleet
