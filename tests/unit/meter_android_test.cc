// The android meter against a fake power_supply tree: both vendor sign conventions, the
// charging refusal, and files missing, garbled or vanishing. The fake clock only moves while
// the files stay put, so the background sampler cannot make the arithmetic inexact
// (meter_hwmon_test.cc explains the protocol).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "wattfleet/meters/meter.h"
#include "sysfs_fake.h"

namespace wattfleet {
namespace {

using namespace testing_sysfs;  // NOLINT

std::string Battery(const TempDir& dir) { return dir.path() + "/class/power_supply/battery"; }

void Phone(const TempDir& dir, long long current_ua, long long voltage_uv,
           const std::string& status = "Discharging") {
  Put(Battery(dir) + "/current_now", current_ua);
  Put(Battery(dir) + "/voltage_now", voltage_uv);
  Put(Battery(dir) + "/status", status + "\n");
}

TEST(AndroidMeter, Labels) {
  TempDir dir;
  Phone(dir, -500000, 4000000);
  AtomicFakeClock clock;
  auto made = MakeAndroidMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->name(), "android");
  EXPECT_EQ((*made)->domain(), "battery");
  EXPECT_FALSE((*made)->is_estimate());
  EXPECT_DOUBLE_EQ((*made)->update_period_s(), 0.05);
}

// The ABI's negative-while-discharging convention and the positive one many vendors use give
// the same, positive, energy.
TEST(AndroidMeter, BothSignConventionsGiveTheSameEnergy) {
  for (long long sign : {-1, 1}) {
    TempDir dir;
    Phone(dir, sign * 500000, 4000000);  // 0.5 A x 4 V = 2 W
    AtomicFakeClock clock;
    auto made = MakeAndroidMeter(dir.path(), clock);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    Meter& m = **made;
    auto e = m.ReadJoules();
    ASSERT_TRUE(e.ok());
    EXPECT_DOUBLE_EQ(*e, 0);
    clock.Advance(3);
    e = m.ReadJoules();
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_NEAR(*e, 6, 1e-9) << "sign " << sign;

    Phone(dir, sign * 1250000, 3800000);  // 4.75 W from now on
    ASSERT_TRUE(m.ReadJoules().ok());
    clock.Advance(2);
    e = m.ReadJoules();
    ASSERT_TRUE(e.ok());
    EXPECT_NEAR(*e, 6 + 9.5, 1e-9) << "sign " << sign;
  }
}

TEST(AndroidMeter, RefusesWhilePluggedIn) {
  for (const std::string status : {"Charging", "Full", "Not charging"}) {
    TempDir dir;
    Phone(dir, 800000, 4200000, status);
    AtomicFakeClock clock;
    auto m = MakeAndroidMeter(dir.path(), clock);
    ASSERT_FALSE(m.ok()) << status;
    EXPECT_EQ(m.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(m.status().message().rfind("unplug the phone: ", 0), 0u) << m.status().message();
    EXPECT_TRUE(Contains(m.status().message(), Battery(dir) + "/status"));
    EXPECT_TRUE(Contains(m.status().message(), status));
  }
  TempDir dir;
  Phone(dir, 800000, 4200000, "Unknown");
  AtomicFakeClock clock;
  auto m = MakeAndroidMeter(dir.path(), clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(m.status().message(), "Unknown"));
}

TEST(AndroidMeter, PluggingInMidMeasurementFailsTheWindow) {
  TempDir dir;
  Phone(dir, -500000, 4000000);
  AtomicFakeClock clock;
  auto made = MakeAndroidMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok());
  Meter& m = **made;
  Put(Battery(dir) + "/status", "Charging\n");
  auto e = m.ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(e.status().message(), "unplug the phone")) << e.status().message();
}

TEST(AndroidMeter, MissingFilesNameThePath) {
  {
    TempDir dir;
    AtomicFakeClock clock;
    auto m = MakeAndroidMeter(dir.path(), clock);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(Contains(m.status().message(), Battery(dir))) << m.status().message();
  }
  for (const std::string file : {"current_now", "voltage_now", "status"}) {
    TempDir dir;
    Phone(dir, -500000, 4000000);
    fs::remove(Battery(dir) + "/" + file);
    AtomicFakeClock clock;
    auto m = MakeAndroidMeter(dir.path(), clock);
    ASSERT_FALSE(m.ok()) << file;
    EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(Contains(m.status().message(), Battery(dir) + "/" + file))
        << m.status().message();
  }
}

TEST(AndroidMeter, GarbageIsCorruptionNamingTheFile) {
  for (const std::string file : {"current_now", "voltage_now"}) {
    for (const std::string bad : {"", "lots\n", "4.2\n", "-\n"}) {
      TempDir dir;
      Phone(dir, -500000, 4000000);
      Put(Battery(dir) + "/" + file, bad);
      AtomicFakeClock clock;
      auto m = MakeAndroidMeter(dir.path(), clock);
      ASSERT_FALSE(m.ok()) << file << " \"" << bad << "\"";
      EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
      EXPECT_TRUE(Contains(m.status().message(), Battery(dir) + "/" + file))
          << m.status().message();
    }
  }
  TempDir dir;
  Phone(dir, -500000, -4000000);  // a negative voltage is not a convention, it is wrong
  AtomicFakeClock clock;
  auto m = MakeAndroidMeter(dir.path(), clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Contains(m.status().message(), Battery(dir) + "/voltage_now"));
}

TEST(AndroidMeter, FileVanishingMidMeasurementIsAnErrorNamingIt) {
  TempDir dir;
  Phone(dir, -500000, 4000000);
  AtomicFakeClock clock;
  auto made = MakeAndroidMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok());
  Meter& m = **made;
  ASSERT_TRUE(m.ReadJoules().ok());
  fs::remove(Battery(dir) + "/voltage_now");
  auto e = m.ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(e.status().message(), Battery(dir) + "/voltage_now"))
      << e.status().message();
}

TEST(AndroidMeter, DirectoryInsteadOfAFileIsAnError) {
  TempDir dir;
  Phone(dir, -500000, 4000000);
  fs::remove(Battery(dir) + "/current_now");
  fs::create_directory(Battery(dir) + "/current_now");
  AtomicFakeClock clock;
  auto m = MakeAndroidMeter(dir.path(), clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kIOError);
  EXPECT_TRUE(Contains(m.status().message(), Battery(dir) + "/current_now"));
}

TEST(AndroidMeter, DestroyingReturnsPromptly) {
  TempDir dir;
  Phone(dir, -500000, 4000000);
  auto made = MakeAndroidMeter(dir.path());
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Meter> m = std::move(*made);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_LT(Seconds([&] { m.reset(); }), 1.0);
}

}  // namespace
}  // namespace wattfleet
