// The hwmon meter against fake INA3221 trees in both layouts, with a fake clock for exact
// trapezoid arithmetic; and the PowerSampler it (and the android meter) integrates with.
//
// The meter samples on a background thread, so the tests follow one protocol to stay exact:
// change the files while the fake clock stands still, call ReadJoules() (which samples the new
// power at that instant), then advance the clock with the power constant. Any background
// sample then lands on a constant-power stretch, where the trapezoid rule is exact.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "wattfleet/meters/meter.h"
#include "meter_sampler.h"
#include "sysfs_fake.h"

namespace wattfleet {
namespace {

using namespace testing_sysfs;  // NOLINT

// Upstream driver: <root>/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3.
std::string NewLayout(const TempDir& dir) {
  const std::string d = dir.path() + "/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3";
  Put(dir.path() + "/bus/i2c/drivers/ina3221/uevent", "DRIVER=ina3221\n");
  Put(d + "/in1_label", "VDD_IN\n");
  Put(d + "/in1_input", 5000);  // mV
  Put(d + "/curr1_input", 1000);  // mA: 5 W
  Put(d + "/in2_label", "VDD_CPU_GPU_CV\n");
  Put(d + "/in2_input", 5000);
  Put(d + "/curr2_input", 400);  // 2 W
  Put(d + "/in3_label", "VDD_SOC\n");
  Put(d + "/in3_input", 5000);
  Put(d + "/curr3_input", 200);  // 1 W
  Put(d + "/in7_label", "sum of shunt voltages\n");  // no power reading: not a rail
  Put(d + "/in7_input", 12);
  return d;
}

// Older L4T: <root>/bus/i2c/drivers/ina3221x/0-0040/iio:device0, powers in mW.
std::string OldLayout(const TempDir& dir, const std::string& l0, const std::string& l1,
                      const std::string& l2) {
  const std::string d = dir.path() + "/bus/i2c/drivers/ina3221x/0-0040/iio:device0";
  Put(d + "/rail_name_0", l0 + "\n");
  Put(d + "/in_power0_input", 3000);
  Put(d + "/rail_name_1", l1 + "\n");
  Put(d + "/in_power1_input", 1500);
  Put(d + "/rail_name_2", l2 + "\n");
  Put(d + "/in_power2_input", 500);
  Put(d + "/in_current0_input", 600);  // present on real boards, unused
  return d;
}

TEST(HwmonMeter, NewLayoutPicksTheInputRailWithExactEnergy) {
  TempDir dir;
  const std::string d = NewLayout(dir);
  AtomicFakeClock clock;
  auto made = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Meter& m = **made;
  EXPECT_EQ(m.name(), "hwmon");
  EXPECT_EQ(m.domain(), "VDD_IN");
  EXPECT_FALSE(m.is_estimate());
  EXPECT_DOUBLE_EQ(m.update_period_s(), 0.01);

  auto e = m.ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_DOUBLE_EQ(*e, 0);
  clock.Advance(2);  // 5 W for 2 s
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NEAR(*e, 10, 1e-9);

  Put(d + "/curr1_input", 2000);  // 10 W from now on
  ASSERT_TRUE(m.ReadJoules().ok());
  clock.Advance(0.5);
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 10 + 5, 1e-9);
}

TEST(PowerSampler, TrapezoidRuleAgainstTheInjectedClock) {
  // A period far longer than the test: only Start() and ReadJoules() sample, so the
  // arithmetic is exact and deterministic.
  AtomicFakeClock clock;
  std::atomic<double> watts{0};
  auto made = PowerSampler::Start([&]() -> Result<double> { return watts.load(); }, 1000, clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  PowerSampler& s = **made;
  clock.Advance(2);
  watts = 4;  // linear ramp 0 -> 4 W over 2 s: 4 J
  EXPECT_NEAR(*s.ReadJoules(), 4, 1e-12);
  clock.Advance(1);  // constant 4 W: +4 J
  EXPECT_NEAR(*s.ReadJoules(), 8, 1e-12);
  watts = 2;  // a step with no time passing adds nothing
  EXPECT_NEAR(*s.ReadJoules(), 8, 1e-12);
  clock.Advance(3);
  EXPECT_NEAR(*s.ReadJoules(), 14, 1e-12);
}

TEST(PowerSampler, FirstSampleFailureFailsStartAndDestructionIsPrompt) {
  AtomicFakeClock clock;
  auto bad = PowerSampler::Start([]() -> Result<double> { return Status::IOError("x: boom"); },
                                 0.01, clock);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "x: boom");
  // A long period must not delay the destructor: it wakes the thread.
  auto made = PowerSampler::Start([]() -> Result<double> { return 1.0; }, 1000, clock);
  ASSERT_TRUE(made.ok());
  std::unique_ptr<PowerSampler> s = std::move(*made);
  EXPECT_LT(Seconds([&] { s.reset(); }), 1.0);
}

TEST(PowerSampler, ThrowingReadIsLatchedNotFatal) {
  AtomicFakeClock clock;
  std::atomic<int> calls{0};
  auto made = PowerSampler::Start(
      [&]() -> Result<double> {
        if (calls++ > 0) throw std::runtime_error("driver hiccup");
        return 1.0;
      },
      0.005, clock);
  ASSERT_TRUE(made.ok());
  while (calls.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto e = (*made)->ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), "driver hiccup")) << e.status().message();
}

TEST(HwmonMeter, PowerInputLayoutInMicrowatts) {
  TempDir dir;
  const std::string d = dir.path() + "/bus/i2c/drivers/ina3221/2-0041/hwmon/hwmon1";
  Put(d + "/in1_label", "VIN\n");
  Put(d + "/power1_input", 7250000);  // uW
  AtomicFakeClock clock;
  auto made = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->domain(), "VIN");
  ASSERT_TRUE((*made)->ReadJoules().ok());
  clock.Advance(4);
  auto e = (*made)->ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 29, 1e-9);
}

TEST(HwmonMeter, OldL4tLayoutInMilliwatts) {
  TempDir dir;
  OldLayout(dir, "GPU", "CPU", "VDD_IN");
  AtomicFakeClock clock;
  auto made = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->domain(), "VDD_IN");
  clock.Advance(2);
  auto e = (*made)->ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 0.5 * 2, 1e-9);
}

TEST(HwmonMeter, SumOfRailsWhenNoInputRail) {
  TempDir dir;
  OldLayout(dir, "GPU", "CPU", "SOC");  // AGX Xavier names
  AtomicFakeClock clock;
  auto made = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->domain(), "sum:GPU+CPU+SOC");
  clock.Advance(2);
  auto e = (*made)->ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, (3 + 1.5 + 0.5) * 2, 1e-9);
}

TEST(HwmonMeter, RailByLabel) {
  TempDir dir;
  OldLayout(dir, "GPU", "CPU", "SOC");
  AtomicFakeClock clock;
  auto made = MakeHwmonMeter(dir.path(), "cpu", clock);  // labels match case-insensitively
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->domain(), "CPU");
  clock.Advance(2);
  EXPECT_NEAR(*(*made)->ReadJoules(), 3, 1e-9);

  auto none = MakeHwmonMeter(dir.path(), "VDD_DDR", clock);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(none.status().message(), "VDD_DDR"));
  EXPECT_TRUE(Contains(none.status().message(), "GPU, CPU, SOC")) << none.status().message();
}

TEST(HwmonMeter, NothingThereIsNotFoundNamingTheDirectory) {
  TempDir dir;
  AtomicFakeClock clock;
  auto m = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(m.status().message(), dir.path() + "/bus/i2c/drivers"));

  // A monitor whose channels have labels but no readings.
  const std::string d = dir.path() + "/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon0";
  Put(d + "/in1_label", "VDD_IN\n");
  m = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(m.status().message(), d)) << m.status().message();
}

TEST(HwmonMeter, GarbageIsCorruptionNamingTheFile) {
  for (const std::string bad : {"", "5 W\n", "abc", "1.5\n"}) {
    TempDir dir;
    const std::string d = NewLayout(dir);
    Put(d + "/curr1_input", bad);
    AtomicFakeClock clock;
    auto m = MakeHwmonMeter(dir.path(), "", clock);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
    EXPECT_TRUE(Contains(m.status().message(), d + "/curr1_input")) << m.status().message();
  }
}

TEST(HwmonMeter, FileVanishingMidMeasurementIsAnErrorNamingIt) {
  TempDir dir;
  const std::string d = NewLayout(dir);
  AtomicFakeClock clock;
  auto made = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_TRUE(made.ok());
  Meter& m = **made;
  ASSERT_TRUE(m.ReadJoules().ok());
  fs::remove(d + "/in1_input");
  auto e = m.ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(e.status().message(), d + "/in1_input")) << e.status().message();
}

TEST(HwmonMeter, BackgroundFailureIsLatchedForTheNextRead) {
  TempDir dir;
  const std::string d = NewLayout(dir);
  AtomicFakeClock clock;
  auto made = MakeHwmonMeter(dir.path(), "", clock);
  ASSERT_TRUE(made.ok());
  Meter& m = **made;
  ASSERT_TRUE(m.ReadJoules().ok());
  fs::remove(d + "/curr1_input");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // ~10 sample periods
  Put(d + "/curr1_input", 1000);
  auto e = m.ReadJoules();
  ASSERT_FALSE(e.ok()) << "the window that lost samples fails even though the file is back";
  EXPECT_TRUE(Contains(e.status().message(), d + "/curr1_input")) << e.status().message();
  EXPECT_TRUE(m.ReadJoules().ok()) << "reported once";
}

TEST(HwmonMeter, FifoInsteadOfAFileIsAnErrorNotAHang) {
  TempDir dir;
  const std::string d = NewLayout(dir);
  fs::remove(d + "/curr1_input");
  ASSERT_EQ(mkfifo((d + "/curr1_input").c_str(), 0644), 0);
  AtomicFakeClock clock;
  Result<std::unique_ptr<Meter>> m = Status::Internal("unset");
  EXPECT_LT(Seconds([&] { m = MakeHwmonMeter(dir.path(), "", clock); }), 1.0);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status().message(), d + "/curr1_input")) << m.status().message();
}

TEST(HwmonMeter, RealClockIntegratesConstantPower) {
  TempDir dir;
  NewLayout(dir);  // 5 W
  auto made = MakeHwmonMeter(dir.path());
  ASSERT_TRUE(made.ok());
  auto e0 = (*made)->ReadJoules();
  const double t0 = SystemClock().NowSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto e1 = (*made)->ReadJoules();
  const double t1 = SystemClock().NowSeconds();
  ASSERT_TRUE(e0.ok() && e1.ok());
  EXPECT_NEAR((*e1 - *e0) / (t1 - t0), 5.0, 0.25);
}

TEST(HwmonMeter, DestroyingReturnsPromptly) {
  TempDir dir;
  NewLayout(dir);
  auto made = MakeHwmonMeter(dir.path());
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Meter> m = std::move(*made);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_LT(Seconds([&] { m.reset(); }), 1.0);
}

}  // namespace
}  // namespace wattfleet
