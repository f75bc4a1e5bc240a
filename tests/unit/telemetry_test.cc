// Temperature and clock telemetry: the sysfs backend on fake trees (zone choice, hwmon
// fallback, cpufreq mean, missing files and garbage), the nvml backend through the fake
// libnvidia-ml (with and without the telemetry symbols), the backend choice for a device, and
// how samples land in a Measurement.
#include "wattfleet/meters/telemetry.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <limits>
#include <string>

#include "wattfleet/monitor/device_info.h"
#include "wattfleet/meters/meter.h"
#include "sysfs_fake.h"

namespace wattfleet {
namespace {

using testing_sysfs::Contains;
using testing_sysfs::Put;
using testing_sysfs::TempDir;

// A fake sysfs tree with helpers for the three kinds of file telemetry reads.
class FakeSysfs {
 public:
  const std::string& root() const { return dir_.path(); }
  void Zone(int n, const std::string& type, const std::string& temp) {
    const std::string z = root() + "/class/thermal/thermal_zone" + std::to_string(n);
    Put(z + "/type", type + "\n");
    Put(z + "/temp", temp + "\n");
  }
  void Hwmon(int n, const std::string& name) {
    Put(root() + "/class/hwmon/hwmon" + std::to_string(n) + "/name", name + "\n");
  }
  void HwmonTemp(int n, int input, const std::string& label, const std::string& value) {
    const std::string base =
        root() + "/class/hwmon/hwmon" + std::to_string(n) + "/temp" + std::to_string(input);
    if (!label.empty()) Put(base + "_label", label + "\n");
    Put(base + "_input", value + "\n");
  }
  void CpuFreq(int cpu, const std::string& khz) {
    Put(root() + "/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_cur_freq",
        khz + "\n");
  }
  TelemetrySample Read() const {
    auto s = MakeSysfsTelemetry(root())->Read();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : TelemetrySample{};
  }

 private:
  TempDir dir_;
};

TEST(SysfsTelemetry, PackageZoneAndMeanClockOverCpus) {
  FakeSysfs fs;
  fs.Zone(0, "acpitz", "60000");
  fs.Zone(1, "x86_pkg_temp", "48500");
  fs.Zone(2, "iwlwifi_1", "70000");
  fs.CpuFreq(0, "2000000");
  fs.CpuFreq(1, "3000000");
  fs.CpuFreq(10, "1000000");
  // Not CPUs: the policy and idle directories next to cpuN, and a CPU without cpufreq.
  Put(fs.root() + "/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "9000000\n");
  Put(fs.root() + "/devices/system/cpu/cpuidle/current_driver", "intel_idle\n");
  Put(fs.root() + "/devices/system/cpu/cpu3/online", "0\n");
  const TelemetrySample s = fs.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 48.5);
  ASSERT_TRUE(s.clock_mhz.has_value());
  EXPECT_DOUBLE_EQ(*s.clock_mhz, 2000.0);
  EXPECT_EQ(s.source, "sysfs:x86_pkg_temp+cpufreq");
}

TEST(SysfsTelemetry, PreferredZoneTypeWinsOverHotterOthersAndCaseIsIgnored) {
  FakeSysfs fs;
  fs.Zone(0, "soc_thermal", "70000");
  fs.Zone(1, "CPU-therm", "55000");  // Jetson's spelling
  fs.Zone(2, "GPU-therm", "80000");
  const TelemetrySample s = fs.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 55.0);
  EXPECT_FALSE(s.clock_mhz.has_value());
  EXPECT_EQ(s.source, "sysfs:CPU-therm");
}

TEST(SysfsTelemetry, TwoPackagesGiveTheHotter) {
  FakeSysfs fs;
  fs.Zone(0, "x86_pkg_temp", "50000");
  fs.Zone(1, "x86_pkg_temp", "62000");
  fs.Zone(2, "cpu-thermal", "90000");  // a lower-ranked type, however hot
  const TelemetrySample s = fs.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 62.0);
}

TEST(SysfsTelemetry, CpuHwmonChipBeforeTheHottestUnknownZone) {
  FakeSysfs fs;
  fs.Zone(0, "acpitz", "80000");
  fs.Hwmon(0, "nvme");
  fs.HwmonTemp(0, 1, "Composite", "90000");
  fs.Hwmon(1, "coretemp");
  fs.HwmonTemp(1, 1, "Package id 0", "51000");
  fs.HwmonTemp(1, 2, "Core 0", "49000");
  const TelemetrySample s = fs.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 51.0);
  EXPECT_EQ(s.source, "sysfs:coretemp");
}

TEST(SysfsTelemetry, K10tempTctlIsSkippedWhenTdieIsThere) {
  FakeSysfs fs;
  fs.Hwmon(0, "k10temp");
  fs.HwmonTemp(0, 1, "Tctl", "75000");  // Tdie + a 27 C fan-control offset
  fs.HwmonTemp(0, 2, "Tdie", "48000");
  TelemetrySample s = fs.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 48.0);
  EXPECT_EQ(s.source, "sysfs:k10temp");

  // Without Tdie, Tctl is all there is.
  FakeSysfs only_tctl;
  only_tctl.Hwmon(2, "k10temp");
  only_tctl.HwmonTemp(2, 1, "Tctl", "61250");
  s = only_tctl.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 61.25);
}

TEST(SysfsTelemetry, HottestZoneWhenNoCpuSensorIsKnown) {
  FakeSysfs fs;
  fs.Zone(0, "acpitz", "40000");
  fs.Zone(1, "pch_cannonlake", "55000");
  fs.CpuFreq(0, "800000");
  const TelemetrySample s = fs.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 55.0);
  EXPECT_EQ(s.source, "sysfs:thermal_max+cpufreq");
}

TEST(SysfsTelemetry, MissingFilesAreAbsentFieldsNotErrors) {
  FakeSysfs empty;
  TelemetrySample s = empty.Read();
  EXPECT_FALSE(s.temperature_c.has_value());
  EXPECT_FALSE(s.clock_mhz.has_value());
  EXPECT_EQ(s.source, "");

  auto nowhere = MakeSysfsTelemetry(empty.root() + "/no/such/root")->Read();
  ASSERT_TRUE(nowhere.ok()) << nowhere.status().ToString();
  EXPECT_FALSE(nowhere->temperature_c.has_value());
  EXPECT_FALSE(nowhere->clock_mhz.has_value());

  // A zone without its temp file, a chip without inputs, a CPU without cpufreq.
  FakeSysfs partial;
  Put(partial.root() + "/class/thermal/thermal_zone0/type", "x86_pkg_temp\n");
  partial.Hwmon(0, "coretemp");
  Put(partial.root() + "/devices/system/cpu/cpu0/online", "1\n");
  s = partial.Read();
  EXPECT_FALSE(s.temperature_c.has_value());
  EXPECT_FALSE(s.clock_mhz.has_value());
}

TEST(SysfsTelemetry, GarbageIsAbsentAndNeverNaN) {
  FakeSysfs fs;
  fs.Zone(0, "x86_pkg_temp", "hot");
  fs.Zone(1, "cpu-thermal", "-274000");  // a disabled zone's "no reading"
  fs.Zone(2, "acpitz", "nan");
  fs.Zone(3, "soc_thermal", "2147483647");
  fs.Zone(4, "pch", "");
  fs.Hwmon(0, "coretemp");
  fs.HwmonTemp(0, 1, "Package id 0", "4.5e4");
  fs.CpuFreq(0, "0");
  fs.CpuFreq(1, "-1200000");
  fs.CpuFreq(2, "NaN");
  fs.CpuFreq(3, "99999999999999999999999");
  fs.CpuFreq(4, "1.2e6");
  TelemetrySample s = fs.Read();
  EXPECT_FALSE(s.temperature_c.has_value()) << *s.temperature_c;
  EXPECT_FALSE(s.clock_mhz.has_value()) << *s.clock_mhz;
  EXPECT_EQ(s.source, "");

  // One good value of each among the garbage is used, and the garbage stays out of the mean.
  fs.Zone(5, "cpu_thermal", "47000");
  fs.CpuFreq(5, "1200000");
  fs.CpuFreq(6, "1800000");
  s = fs.Read();
  ASSERT_TRUE(s.temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s.temperature_c, 47.0);
  ASSERT_TRUE(s.clock_mhz.has_value());
  EXPECT_DOUBLE_EQ(*s.clock_mhz, 1500.0);
  EXPECT_FALSE(std::isnan(*s.temperature_c) || std::isnan(*s.clock_mhz));
}

TEST(SysfsTelemetry, FollowsChangesBetweenReads) {
  FakeSysfs fs;
  fs.Zone(0, "x86_pkg_temp", "40000");
  fs.CpuFreq(0, "3400000");
  auto telemetry = MakeSysfsTelemetry(fs.root());
  auto before = telemetry->Read();
  fs.Zone(0, "x86_pkg_temp", "71000");
  fs.CpuFreq(0, "2100000");
  auto after = telemetry->Read();
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_DOUBLE_EQ(*before->temperature_c, 40.0);
  EXPECT_DOUBLE_EQ(*after->temperature_c, 71.0);
  EXPECT_DOUBLE_EQ(*before->clock_mhz, 3400.0);
  EXPECT_DOUBLE_EQ(*after->clock_mhz, 2100.0);
}

class NvmlTelemetryTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }
  static void Clear() {
    unsetenv("FAKE_NVML_MODE");
    unsetenv("FAKE_NVML_TEMPERATURE_C");
    unsetenv("FAKE_NVML_SM_CLOCK_MHZ");
  }
};

TEST_F(NvmlTelemetryTest, ReadsGpuTemperatureAndSmClock) {
  setenv("FAKE_NVML_TEMPERATURE_C", "67", 1);
  setenv("FAKE_NVML_SM_CLOCK_MHZ", "1980", 1);
  auto t = MakeNvmlTelemetry(0, FAKE_NVML_LIB);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto s = (*t)->Read();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->temperature_c.has_value());
  EXPECT_DOUBLE_EQ(*s->temperature_c, 67.0);
  ASSERT_TRUE(s->clock_mhz.has_value());
  EXPECT_DOUBLE_EQ(*s->clock_mhz, 1980.0);  // the SM clock, not graphics (1000) or memory
  EXPECT_EQ(s->source, "nvml:gpu0");

  setenv("FAKE_NVML_TEMPERATURE_C", "81", 1);
  s = (*t)->Read();
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(*s->temperature_c, 81.0);
}

TEST_F(NvmlTelemetryTest, UnsupportedFiguresAreAbsent) {
  setenv("FAKE_NVML_TEMPERATURE_C", "unsupported", 1);
  auto t = MakeNvmlTelemetry(0, FAKE_NVML_LIB);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto s = (*t)->Read();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->temperature_c.has_value());
  ASSERT_TRUE(s->clock_mhz.has_value());
  EXPECT_DOUBLE_EQ(*s->clock_mhz, 1410.0);
  EXPECT_EQ(s->source, "nvml:gpu0");

  setenv("FAKE_NVML_SM_CLOCK_MHZ", "unsupported", 1);
  s = (*t)->Read();
  ASSERT_TRUE(s.ok()) << "nothing supported is not an error: " << s.status().ToString();
  EXPECT_FALSE(s->temperature_c.has_value());
  EXPECT_FALSE(s->clock_mhz.has_value());
  EXPECT_EQ(s->source, "");
}

TEST_F(NvmlTelemetryTest, AnErrorFailsTheReadOnlyWhenNothingWasRead) {
  auto t = MakeNvmlTelemetry(0, FAKE_NVML_LIB);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  setenv("FAKE_NVML_TEMPERATURE_C", "fail", 1);
  auto s = (*t)->Read();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->temperature_c.has_value());
  EXPECT_TRUE(s->clock_mhz.has_value());

  setenv("FAKE_NVML_SM_CLOCK_MHZ", "fail", 1);
  s = (*t)->Read();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(s.status().message(), "nvmlDeviceGetTemperature")) << s.status().ToString();
  EXPECT_TRUE(Contains(s.status().message(), "GPU is lost")) << s.status().ToString();
  EXPECT_TRUE(Contains(s.status().message(), "Fake GPU")) << s.status().ToString();
}

TEST_F(NvmlTelemetryTest, LibraryWithoutTheSymbolsGivesAbsentFieldsAndStillMeters) {
  auto t = MakeNvmlTelemetry(0, FAKE_NVML_NO_TELEMETRY_LIB);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto s = (*t)->Read();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->temperature_c.has_value());
  EXPECT_FALSE(s->clock_mhz.has_value());
  EXPECT_EQ(s->source, "");
  // The symbols are optional for the meter too.
  auto meter = MakeNvmlMeter(0, FAKE_NVML_NO_TELEMETRY_LIB);
  EXPECT_TRUE(meter.ok()) << meter.status().ToString();
}

TEST_F(NvmlTelemetryTest, MissingLibraryDeviceOrIndexIsRefused) {
  auto missing = MakeNvmlTelemetry(0, "/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable);
  auto no_gpu = MakeNvmlTelemetry(3, FAKE_NVML_LIB);
  ASSERT_FALSE(no_gpu.ok());
  EXPECT_EQ(no_gpu.status().code(), StatusCode::kNotFound);
  auto negative = MakeNvmlTelemetry(-1, FAKE_NVML_LIB);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(negative.status().message(), "nvml telemetry"));
}

TEST_F(NvmlTelemetryTest, OpenTelemetryPicksNvmlForCudaAndSysfsOtherwise) {
  FakeSysfs fs;
  fs.Zone(0, "x86_pkg_temp", "52000");
  SensorRoots roots;
  roots.sysfs_root = fs.root();
  roots.nvml_library = FAKE_NVML_LIB;

  roots.device = "cuda:0";
  std::string why;
  auto s = OpenTelemetry(roots, &why)->Read();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->source, "nvml:gpu0");
  EXPECT_TRUE(Contains(why, "nvml")) << why;

  roots.device = "cpu";
  s = OpenTelemetry(roots, &why)->Read();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->source, "sysfs:x86_pkg_temp");
  EXPECT_DOUBLE_EQ(*s->temperature_c, 52.0);

  // A cuda device without a usable NVML still gets the CPU's figures, and says why.
  roots.device = "cuda:0";
  roots.nvml_library = fs.root() + "/no/libnvidia-ml.so.1";
  s = OpenTelemetry(roots, &why)->Read();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->source, "sysfs:x86_pkg_temp");
  EXPECT_TRUE(Contains(why, "sysfs")) << why;
  EXPECT_TRUE(Contains(why, "no NVIDIA driver")) << why;
}

TEST(RecordTelemetry, FillsBeforeAndAfterAndMarksTheRestNotExposed) {
  TelemetrySample before;
  before.temperature_c = 41.5;
  before.clock_mhz = 3000;
  before.source = "sysfs:x86_pkg_temp+cpufreq";
  TelemetrySample after;
  after.temperature_c = 63;
  after.source = "sysfs:x86_pkg_temp";
  Measurement m;
  RecordTelemetry(before, after, &m);
  EXPECT_DOUBLE_EQ(m.temperature_before_c, 41.5);
  EXPECT_DOUBLE_EQ(m.clock_before_mhz, 3000);
  EXPECT_DOUBLE_EQ(m.temperature_after_c, 63);
  EXPECT_TRUE(std::isnan(m.clock_after_mhz));
  EXPECT_EQ(m.telemetry_source, "sysfs:x86_pkg_temp+cpufreq");

  // A failed sample and an infinite figure are "not exposed"; the source comes from the
  // sample that has one.
  TelemetrySample odd;
  odd.temperature_c = std::numeric_limits<double>::infinity();
  odd.clock_mhz = 1410;
  odd.source = "nvml:gpu0";
  RecordTelemetry(Status::Unavailable("gpu lost"), odd, &m);
  EXPECT_TRUE(std::isnan(m.temperature_before_c));
  EXPECT_TRUE(std::isnan(m.clock_before_mhz));
  EXPECT_TRUE(std::isnan(m.temperature_after_c));
  EXPECT_DOUBLE_EQ(m.clock_after_mhz, 1410);
  EXPECT_EQ(m.telemetry_source, "nvml:gpu0");

  // A default Measurement (an agent that predates telemetry) exposes nothing.
  const Measurement old;
  EXPECT_TRUE(std::isnan(old.temperature_before_c) && std::isnan(old.temperature_after_c));
  EXPECT_TRUE(std::isnan(old.clock_before_mhz) && std::isnan(old.clock_after_mhz));
  EXPECT_EQ(old.telemetry_source, "");
}

}  // namespace
}  // namespace wattfleet
