// The modeled meter against a fake /proc tree with a fake clock (exact arithmetic), and the
// simulated meter's invariants (monotonic, positive under load, seeded noise).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "wattfleet/meters/meter.h"
#include "sysfs_fake.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

class FakeClock final : public Clock {
 public:
  double NowSeconds() override { return now; }
  int64_t UnixMillis() override { return static_cast<int64_t>(now * 1000); }
  void SleepFor(double seconds) override { now += seconds; }
  double now = 10;
};

using testing_sysfs::TempDir;

// A /proc/stat with the given aggregate jiffies and `cores` per-core lines.
void WriteStat(const std::string& root, const std::vector<unsigned long long>& cpu, int cores) {
  std::ofstream out(root + "/stat", std::ios::trunc);
  out << "cpu ";
  for (auto v : cpu) out << " " << v;
  out << "\n";
  for (int i = 0; i < cores; ++i) out << "cpu" << i << " 1 0 1 10 0 0 0 0 0 0\n";
  out << "intr 12345 0 0\nctxt 999\nbtime 1700000000\nprocs_running 1\n";
}

double Hz() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

TEST(ModeledMeter, Labels) {
  TempDir dir;
  WriteStat(dir.path(), {100, 0, 50, 1000, 10, 0, 0, 0, 0, 0}, 2);
  FakeClock clock;
  auto m = MakeModeledMeter({dir.path(), 0, 0.3}, clock);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->name(), "modeled");
  EXPECT_EQ((*m)->domain(), "cpu-estimate");
  EXPECT_TRUE((*m)->is_estimate());
  EXPECT_DOUBLE_EQ((*m)->update_period_s(), std::max(0.01, 1.0 / Hz()));
}

TEST(ModeledMeter, ExactArithmeticWithDefaultTdp) {
  TempDir dir;
  const unsigned long long hz = static_cast<unsigned long long>(Hz());
  // user nice system idle iowait irq softirq steal guest guest_nice
  WriteStat(dir.path(), {100, 0, 50, 1000, 10, 0, 0, 0, 0, 0}, 2);
  FakeClock clock;
  auto made = MakeModeledMeter({dir.path(), 0, 0.3}, clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Meter& m = **made;
  // 2 cores: TDP 30 W, idle 9 W.
  auto e = m.ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_DOUBLE_EQ(*e, 0);

  clock.now += 2;  // 2 s idle
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 9 * 2, 1e-9);

  // One busy second (user) spread over any core, plus time passing with only idle/iowait.
  WriteStat(dir.path(), {100 + hz, 0, 50, 1000 + 3 * hz, 10 + hz, 0, 0, 0, 0, 0}, 2);
  clock.now += 2;
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 9 * 4 + (30 - 9) * 1.0 / 2, 1e-9);

  // Busy jiffies in system, irq, softirq and steal count too: 4 more busy seconds.
  WriteStat(dir.path(), {100 + hz, 0, 50 + hz, 1000 + 3 * hz, 10 + hz, hz, hz, hz, 0, 0}, 2);
  clock.now += 1;
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 9 * 5 + (30 - 9) * 5.0 / 2, 1e-9);

  // Guest time is already inside user: counting it again would inflate the estimate.
  WriteStat(dir.path(), {100 + hz, 0, 50 + hz, 1000 + 3 * hz, 10 + hz, hz, hz, hz, 7 * hz, hz},
            2);
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 9 * 5 + (30 - 9) * 5.0 / 2, 1e-9);
}

TEST(ModeledMeter, ExplicitTdpAndIdleFraction) {
  TempDir dir;
  const unsigned long long hz = static_cast<unsigned long long>(Hz());
  WriteStat(dir.path(), {0, 0, 0, 0}, 4);  // old four-field kernels are fine
  FakeClock clock;
  auto made = MakeModeledMeter({dir.path(), 40, 0.25}, clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  WriteStat(dir.path(), {2 * hz, hz, 0, 5 * hz}, 4);  // 3 busy seconds over 4 cores
  clock.now += 2;
  auto e = (*made)->ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NEAR(*e, 10 * 2 + (40 - 10) * 3.0 / 4, 1e-9);
}

// The power per core can be set, and whatever the figures are, the meter says them: with
// every measurement (Meter::assumes) and in its facts, which probe and status show.
TEST(ModeledMeter, PowerPerCoreIsSetAndSaid) {
  TempDir dir;
  const unsigned long long hz = static_cast<unsigned long long>(Hz());
  WriteStat(dir.path(), {0, 0, 0, 0}, 2);
  FakeClock clock;
  auto defaults = MakeModeledMeter({dir.path(), 0, 0.3}, clock);
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ((*defaults)->assumes(),
            "15 W per core x 2 cores = 30 W at full load (the default; --modeled-core-w sets "
            "it), idle 9 W (30 % of it)");
  EXPECT_NE((*defaults)->facts().note.find((*defaults)->assumes()), std::string::npos);

  ModeledMeterOptions o{dir.path(), 0, 0.2, 6};
  auto made = MakeModeledMeter(o, clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->assumes(),
            "6 W per core x 2 cores = 12 W at full load (set), idle 2.4 W (20 % of it)");
  WriteStat(dir.path(), {2 * hz, 0, 0, 2 * hz}, 2);  // 2 busy seconds over 2 cores
  clock.now += 2;
  auto e = (*made)->ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NEAR(*e, 2.4 * 2 + (12 - 2.4) * 2.0 / 2, 1e-9);
  // A package figure wins over the per-core one.
  o.tdp_w = 50;
  auto package = MakeModeledMeter(o, clock);
  ASSERT_TRUE(package.ok());
  EXPECT_EQ((*package)->assumes(), "50 W at full load (package, set), idle 10 W (20 % of it)");
  o.core_w = -1;
  EXPECT_EQ(MakeModeledMeter(o, clock).status().code(), StatusCode::kInvalidArgument);
}

TEST(ModeledMeter, MissingStatIsAnErrorNamingTheFile) {
  TempDir dir;
  FakeClock clock;
  auto m = MakeModeledMeter({dir.path() + "/nope", 0, 0.3}, clock);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(dir.path() + "/nope/stat"), std::string::npos)
      << m.status().message();
}

TEST(ModeledMeter, GarbageIsAnErrorNamingTheFile) {
  const std::vector<std::string> garbage = {
      "",                                      // empty
      "hello world\n",                         // no cpu line
      "cpu  1 2 x 4 5 6 7\ncpu0 1 2 3 4\n",    // not a number
      "cpu  1 2 3\ncpu0 1 2 3 4\n",            // too few fields
      "cpu  1 2 -3 4 5\ncpu0 1 2 3 4\n",       // negative
      "cpu  1 2 3 4 5 6 7 8\nintr 1\n",        // no cores
      "intr 1\ncpu  1 2 3 4 5\ncpu0 1 2 3 4\n" // aggregate line not first
  };
  for (const std::string& text : garbage) {
    TempDir dir;
    { std::ofstream(dir.path() + "/stat") << text; }
    FakeClock clock;
    auto m = MakeModeledMeter({dir.path(), 0, 0.3}, clock);
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_NE(m.status().message().find(dir.path() + "/stat"), std::string::npos)
        << m.status().message();
  }
}

TEST(ModeledMeter, ReadErrorsNameTheFile) {
  TempDir dir;
  WriteStat(dir.path(), {100, 0, 50, 1000, 10, 0, 0, 0}, 2);
  FakeClock clock;
  auto made = MakeModeledMeter({dir.path(), 0, 0.3}, clock);
  ASSERT_TRUE(made.ok());
  Meter& m = **made;

  { std::ofstream(dir.path() + "/stat", std::ios::trunc) << "cpu  zz\n"; }
  auto e = m.ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find(dir.path() + "/stat"), std::string::npos);

  fs::remove(dir.path() + "/stat");
  e = m.ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find(dir.path() + "/stat"), std::string::npos);

  WriteStat(dir.path(), {100, 0, 50, 1000, 10, 0, 0, 0}, 2);
  EXPECT_TRUE(m.ReadJoules().ok()) << "recovers when the file is back";
}

TEST(ModeledMeter, BusyGoingBackwardsIsAnError) {
  TempDir dir;
  WriteStat(dir.path(), {100, 0, 50, 1000, 10, 0, 0, 0}, 2);
  FakeClock clock;
  auto made = MakeModeledMeter({dir.path(), 0, 0.3}, clock);
  ASSERT_TRUE(made.ok());
  WriteStat(dir.path(), {90, 0, 50, 1000, 10, 0, 0, 0}, 2);
  auto e = (*made)->ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("backwards"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find(dir.path() + "/stat"), std::string::npos);
}

TEST(ModeledMeter, RejectsBadOptions) {
  TempDir dir;
  WriteStat(dir.path(), {1, 0, 0, 1}, 1);
  FakeClock clock;
  EXPECT_EQ(MakeModeledMeter({dir.path(), -5, 0.3}, clock).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeModeledMeter({dir.path(), 0, 1.5}, clock).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeModeledMeter({dir.path(), 0, -0.1}, clock).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ModeledMeter, RealProcStatWhenPresent) {
  if (!fs::exists("/proc/stat")) GTEST_SKIP() << "no /proc";
  auto made = MakeModeledMeter({});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto e0 = (*made)->ReadJoules();
  auto e1 = (*made)->ReadJoules();
  ASSERT_TRUE(e0.ok() && e1.ok());
  EXPECT_GE(*e1, *e0);
}

// ---- simulated ----

double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Burns `seconds` of this process's CPU time.
void Spin(double seconds) {
  const double end = CpuNow() + seconds;
  volatile double sink = 0;
  while (CpuNow() < end) {
    for (int i = 0; i < 1000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
  }
}

TEST(SimulatedMeter, Labels) {
  auto m = MakeSimulatedMeter({});
  EXPECT_EQ(m->name(), "simulated");
  EXPECT_EQ(m->domain(), "simulated");
  EXPECT_TRUE(m->is_estimate());
  EXPECT_DOUBLE_EQ(m->update_period_s(), 0.001);
}

TEST(SimulatedMeter, MonotonicUnderRealClockAndNoise) {
  SimulatedMeterOptions o;
  o.noise_rel = 0.5;
  auto m = MakeSimulatedMeter(o);
  double last = -1;
  for (int i = 0; i < 200; ++i) {
    if (i % 20 == 0) Spin(0.002);
    auto e = m->ReadJoules();
    ASSERT_TRUE(e.ok());
    EXPECT_GE(*e, last);
    last = *e;
  }
  EXPECT_GT(last, 0);
}

TEST(SimulatedMeter, PowerRisesWhenTheCpuIsBusy) {
  SimulatedMeterOptions o;
  o.noise_rel = 0;
  auto m = MakeSimulatedMeter(o);
  auto e0 = m->ReadJoules();
  const double t0 = SystemClock().NowSeconds();
  Spin(0.1);
  auto e1 = m->ReadJoules();
  const double t1 = SystemClock().NowSeconds();
  ASSERT_TRUE(e0.ok() && e1.ok());
  const double watts = (*e1 - *e0) / (t1 - t0);
  // One busy core: 20 + 100 * (1 - e^-0.5) = 59 W; allow for being descheduled.
  EXPECT_GT(watts, o.idle_w + 5);
  EXPECT_LE(watts, o.max_w + 1e-9);
}

TEST(SimulatedMeter, IdleProcessReadsIdlePowerExactlyWithoutNoise) {
  FakeClock clock;
  SimulatedMeterOptions o;
  o.noise_rel = 0;
  auto m = MakeSimulatedMeter(o, clock);
  clock.now += 1000;  // a few microseconds of CPU over 1000 s: busy ~ 1e-8 cores
  auto e = m->ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 20 * 1000, 20 * 1000 * 1e-6);
  // No time passing: no energy, and no division by zero.
  auto again = m->ReadJoules();
  ASSERT_TRUE(again.ok());
  EXPECT_DOUBLE_EQ(*again, *e);
}

// The noise is what is deterministic; with an idle process and long fake intervals the
// CPU-time term is negligible, so increments are idle_w * dt * (1 + noise_rel * u_i).
std::vector<double> NoiseFactors(uint64_t seed, int n) {
  FakeClock clock;
  SimulatedMeterOptions o;
  o.noise_rel = 0.5;
  o.seed = seed;
  auto m = MakeSimulatedMeter(o, clock);
  std::vector<double> out;
  double last = 0;
  for (int i = 0; i < n; ++i) {
    clock.now += 1000;
    auto e = m->ReadJoules();
    EXPECT_TRUE(e.ok());
    out.push_back((*e - last) / (o.idle_w * 1000));
    last = *e;
  }
  return out;
}

TEST(SimulatedMeter, NoiseIsDeterministicForASeedAndBounded) {
  const auto a = NoiseFactors(7, 50);
  const auto b = NoiseFactors(7, 50);
  const auto c = NoiseFactors(8, 50);
  bool differs = false;
  double lo = 2, hi = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], 1e-6) << i;
    differs = differs || std::fabs(a[i] - c[i]) > 1e-3;
    lo = std::min(lo, a[i]);
    hi = std::max(hi, a[i]);
  }
  EXPECT_TRUE(differs) << "another seed gives another noise sequence";
  EXPECT_GE(lo, 0.5 - 1e-6);
  EXPECT_LE(hi, 1.5 + 1e-6);
  EXPECT_LT(lo, 0.8) << "noise actually spans its range";
  EXPECT_GT(hi, 1.2);
}

}  // namespace
}  // namespace wattfleet
