// Windows over the caller's own code (agent/monitor/window_monitor.cc): a fake meter and clock
// give exact energies; a fake procfs tree gives others' CPU work.
#include "wattfleet/monitor/window_monitor.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "fake_meter.h"
#include "sysfs_fake.h"

namespace wattfleet {
namespace {

using testing::FakeClock;
using testing::FakeMeter;
using testing_sysfs::Put;
using testing_sysfs::TempDir;

// A /proc/stat with `busy` ticks and a /proc/self/stat with `self` ticks.
void PutProc(const std::string& root, unsigned long long busy, unsigned long long self) {
  Put(root + "/stat", "cpu  " + std::to_string(busy) +
                          " 0 0 5000 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\n"
                          "cpu1 1 0 0 1 0 0 0 0 0 0\n");
  Put(root + "/self/stat", "7 (python3) R 1 1 1 0 -1 0 0 0 0 0 " + std::to_string(self) +
                               " 0 0 0 20 0 1 0 100\n");
}

struct Fixture {
  Fixture() {
    PutProc(proc.path(), 1000, 100);
    MonitorOptions o;
    o.roots.proc_root = proc.path();
    auto m = std::make_unique<FakeMeter>(clock, 50);
    meter = m.get();
    monitor = std::make_unique<WindowMonitor>(std::move(m), o, clock);
  }
  TempDir proc;
  FakeClock clock;
  FakeMeter* meter = nullptr;
  std::unique_ptr<WindowMonitor> monitor;
};

TEST(WindowMonitor, AWindowIsTheMetersEnergyAndTheClocksTimeBetweenItsEnds) {
  Fixture f;
  ASSERT_TRUE(f.monitor->Begin("train").ok());
  f.clock.Advance(2.0);
  auto r = f.monitor->End("train");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "train");
  EXPECT_DOUBLE_EQ(r->time_s, 2.0);
  EXPECT_DOUBLE_EQ(r->energy_j, 100.0);  // 50 W x 2 s
  EXPECT_EQ(r->sensor, "fake");
  EXPECT_EQ(r->domain, "fake-domain");
  EXPECT_FALSE(r->energy_is_estimate);
  EXPECT_FALSE(r->energy_dynamic_j.has_value());  // no idle power measured
  // One update period (1 ms) at 50 W.
  EXPECT_NEAR(r->energy_bound_j, 0.05, 1e-12);
  EXPECT_TRUE(r->flags.empty());
  EXPECT_TRUE(f.monitor->open_windows().empty());
}

TEST(WindowMonitor, WindowsNestAndOverlapEachWithItsOwnEnds) {
  Fixture f;
  ASSERT_TRUE(f.monitor->Begin("epoch").ok());
  f.clock.Advance(1.0);
  ASSERT_TRUE(f.monitor->Begin("step").ok());
  f.clock.Advance(0.5);
  ASSERT_TRUE(f.monitor->Begin("eval").ok());  // overlaps step, ends after it
  EXPECT_EQ(f.monitor->open_windows(), (std::vector<std::string>{"epoch", "eval", "step"}));
  f.clock.Advance(0.5);
  auto step = f.monitor->End("step");
  f.clock.Advance(1.0);
  auto eval = f.monitor->End("eval");
  auto epoch = f.monitor->End("epoch");
  ASSERT_TRUE(step.ok() && eval.ok() && epoch.ok());
  EXPECT_DOUBLE_EQ(step->time_s, 1.0);
  EXPECT_DOUBLE_EQ(eval->time_s, 1.5);
  EXPECT_DOUBLE_EQ(epoch->time_s, 3.0);
  EXPECT_DOUBLE_EQ(epoch->energy_j, 150.0);
  EXPECT_DOUBLE_EQ(step->energy_j, 50.0);
}

TEST(WindowMonitor, NamesMustMatchOpenWindows) {
  Fixture f;
  EXPECT_EQ(f.monitor->End("never").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(f.monitor->Begin("a").ok());
  EXPECT_EQ(f.monitor->Begin("a").code(), StatusCode::kAlreadyExists);
  f.clock.Advance(1);
  ASSERT_TRUE(f.monitor->End("a").ok());
  EXPECT_EQ(f.monitor->End("a").status().code(), StatusCode::kNotFound);  // once only
}

TEST(WindowMonitor, AShortWindowAndOthersWorkAreFlagged) {
  Fixture f;
  f.meter->period_s = 0.1;  // 10 updates need 1 s
  ASSERT_TRUE(f.monitor->Begin("short").ok());
  f.clock.Advance(0.5);
  auto r = f.monitor->End("short");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(std::find(r->flags.begin(), r->flags.end(), kFlagShortWindow), r->flags.end());

  // Over 2 s (ticks at 100 per second: sysconf's value on Linux) someone else kept 1.5 cores
  // busy: over the 0.5 limit.
  ASSERT_TRUE(f.monitor->Begin("shared").ok());
  PutProc(f.proc.path(), 1000 + 300 + 50, 100 + 50);
  f.clock.Advance(2.0);
  r = f.monitor->End("shared");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->interference.has_value());
  EXPECT_NEAR(*r->interference, 1.5, 1e-9);
  EXPECT_NE(std::find(r->flags.begin(), r->flags.end(), kFlagInterference), r->flags.end());
  EXPECT_EQ(std::find(r->flags.begin(), r->flags.end(), kFlagShortWindow), r->flags.end());
}

TEST(WindowMonitor, IdlePowerGivesDynamicEnergyAndTheBelowIdleCheck) {
  Fixture f;
  auto idle = f.monitor->MeasureIdle(1.0);
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  EXPECT_DOUBLE_EQ(*idle, 50.0);
  f.meter->power_w = 80;
  ASSERT_TRUE(f.monitor->Begin("busy").ok());
  f.clock.Advance(2.0);
  auto r = f.monitor->End("busy");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->energy_dynamic_j.has_value());
  EXPECT_DOUBLE_EQ(*r->energy_dynamic_j, 60.0);  // (80 - 50) W x 2 s
  EXPECT_TRUE(r->flags.empty());

  f.meter->power_w = 40;  // less than idle: the idle figure is wrong, or the sensor is
  ASSERT_TRUE(f.monitor->Begin("odd").ok());
  f.clock.Advance(2.0);
  r = f.monitor->End("odd");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(std::find(r->flags.begin(), r->flags.end(), kFlagBelowIdle), r->flags.end());
  // No dynamic energy at or below zero: unavailable, as the dataset's row says too.
  EXPECT_FALSE(r->energy_dynamic_j.has_value());
}

TEST(WindowMonitor, ASensorThatReadsBackwardsIsASensorErrorAndTheWindowStaysOpen) {
  Fixture f;
  ASSERT_TRUE(f.monitor->Begin("w").ok());
  f.clock.Advance(1.0);
  f.meter->tamper = [](int, double) -> Result<double> { return -5.0; };
  auto r = f.monitor->End("w");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kSensor);
  EXPECT_EQ(f.monitor->open_windows(), std::vector<std::string>{"w"});
  f.meter->tamper = nullptr;
  EXPECT_TRUE(f.monitor->End("w").ok());
}

TEST(WindowMonitor, OpeningByNameRefusesUnknownBackends) {
  MonitorOptions o;
  o.sensor = "thermometer";
  auto m = WindowMonitor::Open(o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("thermometer"), std::string::npos);
}

TEST(WindowMonitor, TheModeledSensorOpensHereAndSaysItIsAnEstimate) {
  MonitorOptions o;
  o.sensor = "modeled";
  auto m = WindowMonitor::Open(o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE((*m)->energy_is_estimate());
  ASSERT_TRUE((*m)->Begin("x").ok());
  auto r = (*m)->End("x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sensor, "modeled");
  EXPECT_TRUE(r->energy_is_estimate);
  EXPECT_GE(r->energy_j, 0);
}

}  // namespace
}  // namespace wattfleet
