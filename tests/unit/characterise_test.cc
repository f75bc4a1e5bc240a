// Sensor characterisation (characterise.h): how often a reading really changes, a counter
// that does not move, what each backend declares, and the window sizing that follows, against
// a fake meter and fake RAPL and INA3221 trees with a clock the test drives.
#include "wattfleet/monitor/characterise.h"

#include <gtest/gtest.h>
#include <stdio.h>


#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "fake_meter.h"
#include "wattfleet/monitor/measurement_loop.h"
#include "sysfs_fake.h"

namespace wattfleet {
namespace {

using testing::FakeClock;
using testing::FakeMeter;
using testing::FakeWorkload;
using namespace testing_sysfs;  // NOLINT

// Time moves only through SleepFor, and after every sleep `tick` may change the sensor (a
// counter the hardware updates every so often).
class TickingClock final : public Clock {
 public:
  double NowSeconds() override { return now; }
  int64_t UnixMillis() override { return static_cast<int64_t>(now * 1000); }
  void SleepFor(double seconds) override {
    now += seconds;
    ++sleeps;
    if (tick) tick(now);
  }
  double now = 100;
  int sleeps = 0;
  std::function<void(double)> tick;
};

// A reading that steps once every `period` seconds of the clock's time.
std::function<Result<double>()> SteppingEvery(TickingClock& clock, double period) {
  return [&clock, period]() -> Result<double> { return std::floor(clock.now / period); };
}

TEST(Characterise, TheUpdatePeriodIsTheMedianGapBetweenChanges) {
  TickingClock clock;
  FakeClock unused;
  FakeMeter meter(unused);
  meter.period_s = 0.001;  // what the backend assumes
  meter.resolution_j = 1e-3;
  meter.sensor = SteppingEvery(clock, 0.1);
  CharacteriseOptions o;
  o.poll_s = 0.005;
  o.enough = 12;
  auto c = Characterise(meter, clock, o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->method, "energy counter");
  EXPECT_NEAR(c->update_period_s, 0.1, 0.0051);  // one poll of slack
  EXPECT_EQ(c->updates_seen, 12);                 // stopped once enough were seen
  EXPECT_LT(c->polled_s, 1.3);
  EXPECT_DOUBLE_EQ(c->declared_period_s, 0.001);
  EXPECT_NEAR(c->EffectivePeriod(), 0.1, 0.0051);
  EXPECT_DOUBLE_EQ(c->resolution_j, 1e-3);
  EXPECT_FALSE(c->stuck);
  EXPECT_NE(DescribeSensor(*c).find("updates every 100 ms"), std::string::npos)
      << DescribeSensor(*c);
}

TEST(Characterise, ACounterThatDoesNotMoveIsStuckAndSaysSo) {
  TickingClock clock;
  FakeClock unused;
  FakeMeter meter(unused);
  meter.sensor = []() -> Result<double> { return 42.0; };
  CharacteriseOptions o;
  o.max_s = 0.5;
  o.poll_s = 0.01;
  auto c = Characterise(meter, clock, o);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->stuck);
  EXPECT_EQ(c->updates_seen, 0);
  EXPECT_NEAR(c->polled_s, 0.5, 0.011);
  EXPECT_EQ(c->update_period_s, 0);  // not measured: windows keep the declared period
  EXPECT_NE(c->note.find("did not move"), std::string::npos) << c->note;
  EXPECT_NE(DescribeSensor(*c).find("STUCK"), std::string::npos);
}

TEST(Characterise, ASensorThatFailsIsAnError) {
  TickingClock clock;
  FakeClock unused;
  FakeMeter meter(unused);
  int reads = 0;
  meter.sensor = [&]() -> Result<double> {
    if (++reads > 3) return Status::Unavailable("energy_uj: No such file");
    return static_cast<double>(reads);
  };
  auto c = Characterise(meter, clock);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("energy_uj"), std::string::npos);
}

TEST(Characterise, WindowsAreSizedFromTheMeasuredPeriodWhenItIsLonger) {
  FakeClock clock;
  FakeMeter meter(clock, /*power_w=*/50);
  meter.period_s = 0.001;
  meter.resolution_j = 1e-3;
  // The sensor updates every 0.2 s, not every millisecond as its backend assumes: a 0.5 s
  // window would span only 2.5 updates; it must span kWindowUpdates of them.
  std::unique_ptr<Meter> sized = WithUpdatePeriod(meter, 0.2);
  EXPECT_DOUBLE_EQ(sized->update_period_s(), 0.2);
  EXPECT_DOUBLE_EQ(WithUpdatePeriod(meter, 0.0001)->update_period_s(), 0.001);
  EXPECT_EQ(sized->name(), "fake");
  FakeWorkload work(clock, 0.001);
  IdleBaseline idle(*sized, clock);
  MeasurementSettings s;
  s.min_window_ms = 500;
  auto m = Measure(work, *sized, idle, s, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_GE(m->repeats.front().time_s, kWindowUpdates * 0.2 - 1e-9);
  EXPECT_DOUBLE_EQ(m->sensor_update_period_s, 0.2);
  // The bound: one period of the window's power plus one counter step, per iteration.
  const double n = static_cast<double>(m->iterations_per_window);
  EXPECT_NEAR(m->energy_bound_j, (50 * 0.2 + 1e-3) / n, 1e-12);
  EXPECT_GT(m->energy_bound_j, 0);
}

TEST(Characterise, WindowsOfASlowSensorStartAtSpreadPhases) {
  // Each window after the first waits for the sensor's next update and starts a further
  // fraction of a period after it, so that a sensor that samples part of each period does not
  // miss the same work in every window. The phases are those of the window starts against
  // the sensor's own updates (every `period` of the clock's time).
  const auto phases = [](double period) {
    FakeClock clock;
    FakeMeter meter(clock, 50);
    meter.period_s = period;
    meter.sensor = [&clock, period]() -> Result<double> {
      return std::floor(clock.now / period + 1e-9);
    };
    FakeWorkload work(clock, 0.001);
    IdleBaseline idle(meter, clock);
    MeasurementSettings s;
    s.min_repeats = 6;
    s.max_repeats = 6;
    s.cooldown_ms = 0;
    auto m = Measure(work, meter, idle, s, clock);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    std::vector<double> out;
    const double n = m.ok() ? static_cast<double>(m->iterations_per_window) : 0;
    for (const testing::Event& e : clock.events) {
      if (e.kind == testing::Event::kRun && e.amount == n) {
        const double cycles = e.at / period;
        out.push_back(cycles - std::floor(cycles + 1e-9));
      }
    }
    return out;
  };
  std::vector<double> slow = phases(0.1);
  ASSERT_GE(slow.size(), 6u);  // window growth's last run has the same count: the first window
  slow.erase(slow.begin(), slow.end() - 5);  // the five anchored windows
  std::sort(slow.begin(), slow.end());
  // Five distinct phases over the period, no two within a tenth of it.
  for (size_t i = 1; i < slow.size(); ++i) EXPECT_GT(slow[i] - slow[i - 1], 0.1) << i;
  EXPECT_GT(slow.back() - slow.front(), 0.6);
}

TEST(Characterise, ModelsAreNotPolled) {
  FakeClock clock;
  auto meter = MakeSimulatedMeter(SimulatedMeterOptions{}, clock);
  auto c = Characterise(*meter, clock);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->method, "model");
  EXPECT_EQ(c->polled_s, 0);
  EXPECT_TRUE(clock.events.empty()) << "a model was polled";
  EXPECT_DOUBLE_EQ(c->EffectivePeriod(), meter->update_period_s());
}

// RAPL on a fake powercap tree: the counter's unit and wrap point, a missing dram domain said
// out loud, a counter that moves every few polls, and one that never does.
TEST(Characterise, RaplSaysItsUnitWrapAndMissingDram) {
  TempDir dir;
  RaplDomain(dir, "intel-rapl:0", "package-0", 1000, 262143328850LL);
  RaplDomain(dir, "intel-rapl:1", "package-1", 2000, 65532610987LL);
  TickingClock clock;
  auto meter = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  const MeterFacts f = (*meter)->facts();
  EXPECT_EQ(f.method, "energy counter");
  EXPECT_DOUBLE_EQ(f.resolution_j, 1e-6);
  EXPECT_DOUBLE_EQ(f.wrap_j, 65532.610987);  // the first counter to wrap
  EXPECT_NE(f.note.find("no dram domain"), std::string::npos) << f.note;

  // The package counter moves every 50 ms of the test's clock.
  long long uj = 1000;
  double next = clock.now + 0.05;
  clock.tick = [&](double now) {
    if (now + 1e-9 < next) return;
    next += 0.05;
    uj += 2500;
    Put(dir.path() + "/class/powercap/intel-rapl:0/energy_uj", uj);
  };
  CharacteriseOptions o;
  o.poll_s = 0.01;
  o.enough = 6;
  auto c = Characterise(**meter, clock, o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NEAR(c->update_period_s, 0.05, 0.011);
  EXPECT_FALSE(c->stuck);
  EXPECT_DOUBLE_EQ(c->wrap_j, 65532.610987);
}

TEST(Characterise, AFrozenRaplCounterIsReportedStuckNotReadAsZeroPower) {
  TempDir dir;
  RaplDomain(dir, "intel-rapl:0", "package-0", 5000, 262143328850LL);
  RaplDomain(dir, "intel-rapl:0:0", "dram", 700, 65532610987LL);
  TickingClock clock;
  auto meter = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(meter.ok());
  EXPECT_EQ((*meter)->facts().note, "");  // dram present
  CharacteriseOptions o;
  o.max_s = 0.3;
  o.poll_s = 0.01;
  auto c = Characterise(**meter, clock, o);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->stuck);
  EXPECT_NE(c->note.find("did not move in 0.3 s"), std::string::npos) << c->note;

  // And a window over the frozen counter is a sensor failure that says so.
  FakeClock fake;
  FakeWorkload work(fake, 0.001);
  IdleBaseline idle(**meter, fake);
  auto m = Measure(work, **meter, idle, MeasurementSettings{}, fake);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kSensor);
  EXPECT_EQ(m.status().message().rfind("sensor:", 0), 0u) << m.status().message();
  EXPECT_NE(m.status().message().find("did not move"), std::string::npos)
      << m.status().message();
}

TEST(Characterise, HwmonSaysHowLongItsReadingsAverage) {
  TempDir dir;
  const std::string d = dir.path() + "/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3";
  Put(d + "/in1_label", "VDD_IN\n");
  Put(d + "/in1_input", 5000);
  Put(d + "/curr1_input", 1000);
  Put(d + "/update_interval", 140);  // ms
  TickingClock clock;
  auto meter = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  const MeterFacts f = (*meter)->facts();
  EXPECT_EQ(f.method, "power sampling");
  EXPECT_DOUBLE_EQ(f.averaging_s, 0.14);
  EXPECT_NE(f.note.find("140 ms"), std::string::npos) << f.note;
  auto w = (*meter)->ReadSensor();
  ASSERT_TRUE(w.ok());
  EXPECT_DOUBLE_EQ(*w, 5.0);

  // A constant load holds the reading still: that is no evidence of a slow sensor, so the
  // period stays the declared one, and the character says it was not measured.
  CharacteriseOptions o;
  o.max_s = 0.2;
  o.poll_s = 0.01;
  auto c = Characterise(**meter, clock, o);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->stuck);
  EXPECT_EQ(c->update_period_s, 0);
  EXPECT_DOUBLE_EQ(c->EffectivePeriod(), (*meter)->update_period_s());
  EXPECT_NE(c->note.find("period not measured"), std::string::npos) << c->note;

  // Readings that change every 140 ms are seen to.
  int step = 0;
  double next = clock.now + 0.14;
  clock.tick = [&](double now) {
    if (now + 1e-9 < next) return;
    next += 0.14;
    Put(d + "/curr1_input", 1000 + 10 * ++step);
  };
  o.max_s = 2;
  o.enough = 6;
  c = Characterise(**meter, clock, o);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->update_period_s, 0.14, 0.011);
  EXPECT_NEAR(c->EffectivePeriod(), 0.14, 0.011);
}

// stdout of `command` (bounded by the command itself).
}  // namespace
}  // namespace wattfleet
