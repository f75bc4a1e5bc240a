// The rapl meter against fake powercap trees: exact sums, wraparound, and every way the files
// can be missing or wrong; plus the sysfs reader it goes through (errno mapping, strict
// integers, files that are not files).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "wattfleet/meters/meter.h"
#include "sysfs_fake.h"
#include "sysfs_reader.h"

namespace wattfleet {
namespace {

using namespace testing_sysfs;  // NOLINT

constexpr long long kMax = 262143328850LL;  // a real max_energy_range_uj

std::string Powercap(const TempDir& dir) { return dir.path() + "/class/powercap"; }

void Domain(const TempDir& dir, const std::string& entry, const std::string& name,
            long long energy, long long max = kMax) {
  const std::string d = Powercap(dir) + "/" + entry;
  Put(d + "/name", name + "\n");
  Put(d + "/energy_uj", energy);
  Put(d + "/max_energy_range_uj", max);
}

void Energy(const TempDir& dir, const std::string& entry, long long energy) {
  Put(Powercap(dir) + "/" + entry + "/energy_uj", energy);
}

TEST(RaplMeter, LabelsAndExactSumOfPackageAndDram) {
  TempDir dir;
  fs::create_directories(Powercap(dir) + "/intel-rapl");  // the control type: not a domain
  Domain(dir, "intel-rapl:0", "package-0", 1000000);
  Domain(dir, "intel-rapl:0:0", "core", 5000);    // inside the package: ignored
  Domain(dir, "intel-rapl:0:1", "dram", 7000);
  Domain(dir, "intel-rapl:1", "psys", 9000000);   // covers the package: ignored
  Domain(dir, "intel-rapl-mmio:0", "package-0", 1);  // same counter again: ignored
  AtomicFakeClock clock;
  auto made = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Meter& m = **made;
  EXPECT_EQ(m.name(), "rapl");
  EXPECT_EQ(m.domain(), "package+dram");
  EXPECT_FALSE(m.is_estimate());
  EXPECT_DOUBLE_EQ(m.update_period_s(), 0.001);

  auto e = m.ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_DOUBLE_EQ(*e, 0);

  Energy(dir, "intel-rapl:0", 1000000 + 2500000);  // 2.5 J
  Energy(dir, "intel-rapl:0:1", 7000 + 500000);    // 0.5 J
  Energy(dir, "intel-rapl:0:0", 999999);           // ignored
  Energy(dir, "intel-rapl:1", 99999999);           // ignored
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NEAR(*e, 3.0, 1e-9);
}

TEST(RaplMeter, PackagesAreSummedAndDomainIsPackageWithoutDram) {
  TempDir dir;
  Domain(dir, "intel-rapl:0", "package-0", 10);
  Domain(dir, "intel-rapl:1", "package-1", 20);
  AtomicFakeClock clock;
  auto made = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->domain(), "package");
  Energy(dir, "intel-rapl:0", 10 + 1000000);
  Energy(dir, "intel-rapl:1", 20 + 3000000);
  auto e = (*made)->ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, 4.0, 1e-9);
}

TEST(RaplMeter, Wraparound) {
  TempDir dir;
  const long long max = 1000000000;  // 1000 J
  Domain(dir, "intel-rapl:0", "package-0", max - 1000, max);
  AtomicFakeClock clock;
  auto made = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Meter& m = **made;
  Energy(dir, "intel-rapl:0", 500);  // wrapped: 1000 uJ to the top, then 500
  auto e = m.ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NEAR(*e, 1500e-6, 1e-12);
  // And it keeps accumulating across a second wrap.
  Energy(dir, "intel-rapl:0", max - 10);
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok());
  Energy(dir, "intel-rapl:0", 40);
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(*e, (1500 + (max - 10 - 500) + 50) * 1e-6, 1e-9);
}

TEST(RaplMeter, NoPowercapOrNoDomainIsNotFoundNamingTheDirectory) {
  TempDir dir;
  AtomicFakeClock clock;
  auto m = MakeRaplMeter(dir.path(), clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(m.status().message(), Powercap(dir))) << m.status().message();

  Domain(dir, "intel-rapl:1", "psys", 5);  // a domain, but not a package
  m = MakeRaplMeter(dir.path(), clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(m.status().message(), Powercap(dir))) << m.status().message();
}

TEST(RaplMeter, MissingFilesAtCreationNameThePath) {
  for (const std::string file : {"energy_uj", "max_energy_range_uj", "name"}) {
    TempDir dir;
    Domain(dir, "intel-rapl:0", "package-0", 5);
    const std::string path = Powercap(dir) + "/intel-rapl:0/" + file;
    fs::remove(path);
    AtomicFakeClock clock;
    auto m = MakeRaplMeter(dir.path(), clock);
    ASSERT_FALSE(m.ok()) << file;
    EXPECT_EQ(m.status().code(), StatusCode::kNotFound) << m.status().ToString();
    EXPECT_TRUE(Contains(m.status().message(), path)) << m.status().message();
  }
}

TEST(RaplMeter, GarbageIsCorruptionNamingTheFile) {
  for (const std::string bad : {"", "\n", "12abc\n", "abc", "-5\n", "1.5\n", "0x10\n",
                                "99999999999999999999999\n"}) {
    TempDir dir;
    Domain(dir, "intel-rapl:0", "package-0", 5);
    const std::string path = Powercap(dir) + "/intel-rapl:0/energy_uj";
    Put(path, bad);
    AtomicFakeClock clock;
    auto m = MakeRaplMeter(dir.path(), clock);
    ASSERT_FALSE(m.ok()) << "\"" << bad << "\"";
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption) << m.status().ToString();
    EXPECT_TRUE(Contains(m.status().message(), path)) << m.status().message();
  }
  // Mid-measurement too, and a counter above its range.
  TempDir dir;
  Domain(dir, "intel-rapl:0", "package-0", 5, 1000);
  AtomicFakeClock clock;
  auto made = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok());
  const std::string path = Powercap(dir) + "/intel-rapl:0/energy_uj";
  Put(path, "banana\n");
  auto e = (*made)->ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Contains(e.status().message(), path)) << e.status().message();
  Put(path, 2000);
  e = (*made)->ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), "max_energy_range_uj")) << e.status().message();
}

TEST(RaplMeter, FileVanishingMidMeasurementIsAnErrorNamingIt) {
  TempDir dir;
  Domain(dir, "intel-rapl:0", "package-0", 100);
  AtomicFakeClock clock;
  auto made = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok());
  Meter& m = **made;
  ASSERT_TRUE(m.ReadJoules().ok());
  const std::string path = Powercap(dir) + "/intel-rapl:0/energy_uj";
  fs::remove(path);
  auto e = m.ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(e.status().message(), path)) << e.status().message();
  // Back again: the counter resumes from its last good value.
  Put(path, 100 + 2000000);
  e = m.ReadJoules();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NEAR(*e, 2.0, 1e-9);
}

TEST(RaplMeter, PollerFailureIsLatchedForTheNextRead) {
  TempDir dir;
  Domain(dir, "intel-rapl:0", "package-0", 100);
  AtomicFakeClock clock;
  auto made = MakeRaplMeter(dir.path(), clock);
  ASSERT_TRUE(made.ok());
  const std::string path = Powercap(dir) + "/intel-rapl:0/energy_uj";
  fs::remove(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // > 2 poll periods
  Put(path, 100);
  // The file is back, but a wrap may have been missed while it was gone: this window fails.
  auto e = (*made)->ReadJoules();
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), path)) << e.status().message();
  EXPECT_TRUE((*made)->ReadJoules().ok()) << "reported once";
}

TEST(RaplMeter, DirectoryOrFifoInsteadOfAFileIsAnErrorNotAHang) {
  {
    TempDir dir;
    Domain(dir, "intel-rapl:0", "package-0", 100);
    const std::string path = Powercap(dir) + "/intel-rapl:0/energy_uj";
    fs::remove(path);
    fs::create_directory(path);
    AtomicFakeClock clock;
    auto m = MakeRaplMeter(dir.path(), clock);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kIOError);
    EXPECT_TRUE(Contains(m.status().message(), path)) << m.status().message();
  }
  {
    TempDir dir;
    Domain(dir, "intel-rapl:0", "package-0", 100);
    const std::string path = Powercap(dir) + "/intel-rapl:0/energy_uj";
    AtomicFakeClock clock;
    auto made = MakeRaplMeter(dir.path(), clock);
    ASSERT_TRUE(made.ok());
    fs::remove(path);
    ASSERT_EQ(mkfifo(path.c_str(), 0644), 0);  // nobody ever writes to it
    Result<double> e = 0.0;
    const double took = Seconds([&] { e = (*made)->ReadJoules(); });
    ASSERT_FALSE(e.ok());
    EXPECT_TRUE(Contains(e.status().message(), path)) << e.status().message();
    EXPECT_LT(took, 1.0);
  }
}

TEST(RaplMeter, DestroyingReturnsPromptly) {
  TempDir dir;
  Domain(dir, "intel-rapl:0", "package-0", 100);
  auto made = MakeRaplMeter(dir.path());
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Meter> m = std::move(*made);
  EXPECT_LT(Seconds([&] { m.reset(); }), 1.0);
}

TEST(SysfsReader, ErrnoMapping) {
  const std::string path = "/sys/class/powercap/intel-rapl:0/energy_uj";
  for (int err : {EACCES, EPERM}) {
    Status st = sysfs::ErrnoToStatus(err, path);
    EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
    EXPECT_TRUE(Contains(st.message(), path)) << st.message();
    EXPECT_TRUE(Contains(st.message(), "root")) << st.message();
    EXPECT_TRUE(Contains(st.message(), "chmod a+r")) << st.message();
    EXPECT_TRUE(Contains(st.message(), "udev")) << st.message();
  }
  Status st = sysfs::ErrnoToStatus(ENOENT, path);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(st.message(), path));
  for (int err : {EIO, EISDIR, ENODATA}) {
    st = sysfs::ErrnoToStatus(err, path, "read");
    EXPECT_EQ(st.code(), StatusCode::kIOError) << err;
    EXPECT_TRUE(Contains(st.message(), path));
  }
}

TEST(RaplMeter, RootOnlyCounterIsPermissionDeniedWhenNotRoot) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads mode-000 files; ErrnoMapping covers EACCES";
  TempDir dir;
  Domain(dir, "intel-rapl:0", "package-0", 100);
  const std::string path = Powercap(dir) + "/intel-rapl:0/energy_uj";
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  AtomicFakeClock clock;
  auto m = MakeRaplMeter(dir.path(), clock);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(m.status().message(), path)) << m.status().message();
  EXPECT_TRUE(Contains(m.status().message(), "root")) << m.status().message();
}

TEST(SysfsReader, StrictIntegers) {
  EXPECT_EQ(*sysfs::ParseInt("42\n", "f"), 42);
  EXPECT_EQ(*sysfs::ParseInt("  -17 \n", "f"), -17);
  EXPECT_EQ(*sysfs::ParseInt("9223372036854775807", "f"), INT64_MAX);
  for (const std::string bad : {"", " ", "-", "+5", "4 2", "0x10", "1e3", "12abc",
                                "9223372036854775808"}) {
    auto r = sysfs::ParseInt(bad, "/the/file");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_TRUE(Contains(r.status().message(), "/the/file"));
  }
}

TEST(SysfsReader, OversizedFileIsCorruption) {
  TempDir dir;
  Put(dir.path() + "/big", std::string(10000, '1'));
  auto r = sysfs::ReadFile(dir.path() + "/big");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace wattfleet
