// The idle baseline a measurement's dynamic energy rests on (measurement_loop.h): measured
// again when others kept the device busy during it, and the measurement flagged idle-stale
// when it stays shared or is older than its refresh age by the job's end. Fake clock, meter
// and interference, so every figure is exact.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "fake_meter.h"
#include "wattfleet/monitor/interference.h"
#include "wattfleet/monitor/measurement_loop.h"

namespace wattfleet {
namespace {

using testing::FakeClock;
using testing::FakeMeter;
using testing::FakeWorkload;

// Others' load for each Begin/End pair in turn (the idle window's included), then `after`.
class ScriptedInterference final : public InterferenceProbe {
 public:
  Status Begin() override { return Status::OK(); }
  Result<double> End(double) override {
    ++pairs;
    if (script.empty()) return after;
    const double o = script.front();
    script.pop_front();
    return o;
  }
  std::deque<double> script;
  double after = 0;
  int pairs = 0;
};

bool Has(const Measurement& m, const char* flag) {
  for (const std::string& f : m.flags) {
    if (f == flag) return true;
  }
  return false;
}

TEST(IdleStale, AnIdleWindowSharedWithOtherWorkIsMeasuredAgain) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  ScriptedInterference others;
  others.script = {2.0};  // the first idle window: two cores busy elsewhere
  auto m = Measure(work, meter, idle, MeasurementSettings{}, clock, nullptr, &others);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(idle.interference(), 0);  // the second idle window was quiet
  EXPECT_FALSE(Has(*m, kFlagIdleStale));
  EXPECT_TRUE(m->flags.empty());
}

TEST(IdleStale, AnIdleFigureThatStaysSharedFlagsTheMeasurement) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  IdleBaseline idle(meter, clock);
  ScriptedInterference others;
  others.script = {2.0, 1.5};  // both idle windows shared; the timed windows are quiet
  auto m = Measure(work, meter, idle, MeasurementSettings{}, clock, nullptr, &others);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(idle.interference(), 1.5);
  EXPECT_TRUE(Has(*m, kFlagIdleStale));
  EXPECT_EQ(m->windows_discarded, 0);
  EXPECT_EQ(QualityFlagsText(*m), "idle-stale");
}

TEST(IdleStale, AnIdleFigureOlderThanItsRefreshAgeByTheEndFlagsTheMeasurement) {
  FakeClock clock;
  FakeWorkload work(clock, 0.001);
  FakeMeter meter(clock, 100);
  // Refreshed every 2 s; this job's windows alone last 3 x 1 s.
  IdleBaseline idle(meter, clock, 0.3, /*max_age_s=*/2.0);
  MeasurementSettings s;
  s.min_window_ms = 1000;
  auto m = Measure(work, meter, idle, s, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(Has(*m, kFlagIdleStale));
  // A fresh one, and short windows: not flagged.
  IdleBaseline fresh(meter, clock, 0.3, 300);
  m = Measure(work, meter, fresh, MeasurementSettings{}, clock);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(Has(*m, kFlagIdleStale));
}

}  // namespace
}  // namespace wattfleet
