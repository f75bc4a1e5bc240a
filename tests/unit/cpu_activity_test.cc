// Interference readings from a fake procfs tree (the aggregate cpu line and the measuring
// process's own stat line), and from the real /proc while this test burns CPU itself.
#include "wattfleet/monitor/cpu_activity.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "wattfleet/meters/proc_stat.h"
#include "sysfs_fake.h"

namespace wattfleet {
namespace {

using testing_sysfs::Put;
using testing_sysfs::TempDir;

// A /proc/stat with `busy` ticks of user time (and 10 of steal, counted as busy), 2 cores.
std::string Stat(unsigned long long busy) {
  return "cpu  " + std::to_string(busy - 10) + " 0 0 5000 20 0 0 10 0 0\n"
         "cpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\nintr 1 2 3\n";
}
// A /proc/self/stat whose command name holds spaces and a parenthesis, as names may.
std::string SelfStat(unsigned long long utime, unsigned long long stime) {
  std::string s = "4242 (exec (worker) x) R 1 1 1 0 -1 4194560 100 0 0 0 ";
  return s + std::to_string(utime) + " " + std::to_string(stime) + " 0 0 20 0 9 0 100\n";
}

TEST(CpuActivity, ReadsTheMachineAndTheProcessFromProcfs) {
  TempDir root;
  Put(root.path() + "/stat", Stat(1000));
  Put(root.path() + "/self/stat", SelfStat(300, 100));
  ProcCpuActivity source(root.path());
  auto a = source.Read();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->machine_busy, 1000u);
  EXPECT_EQ(a->self, 400u);

  // One second later: 100 ticks of ours and 150 of somebody else's (steal included).
  Put(root.path() + "/stat", Stat(1250));
  Put(root.path() + "/self/stat", SelfStat(380, 120));
  auto b = source.Read();
  ASSERT_TRUE(b.ok());
  EXPECT_NEAR(OthersCores(*a, *b, 100, 1.0), 1.5, 1e-12);
  EXPECT_NEAR(OthersCores(*a, *b, 100, 2.0), 0.75, 1e-12);
  // Coarse ticks can make ours look larger than the machine's: never negative.
  EXPECT_EQ(OthersCores(*b, CpuActivity{b->machine_busy + 5, b->self + 9}, 100, 1.0), 0.0);
  EXPECT_EQ(OthersCores(*a, *b, 100, 0.0), 0.0);
}

TEST(CpuActivity, ReapedChildrenCountAsTheProcessesOwnWorkWhenAsked) {
  TempDir root;
  Put(root.path() + "/stat", Stat(1000));
  // utime 300, stime 100, then the children's cutime 40 and cstime 2.
  Put(root.path() + "/self/stat",
      "4242 (wattfleet) S 1 1 1 0 -1 4194560 100 0 0 0 300 100 40 2 20 0 9 0 100\n");
  auto own = ProcCpuActivity(root.path()).Read();
  auto with_children = ProcCpuActivity(root.path(), true).Read();
  ASSERT_TRUE(own.ok() && with_children.ok());
  EXPECT_EQ(own->self, 400u);
  EXPECT_EQ(with_children->self, 442u);
}

TEST(CpuActivity, DamagedFilesAreErrorsNamingThem) {
  TempDir root;
  Put(root.path() + "/stat", Stat(1000));
  Put(root.path() + "/self/stat", "4242 (x) R 1 2 3\n");
  auto a = ProcCpuActivity(root.path()).Read();
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(root.path() + "/self/stat"), std::string::npos);
  Put(root.path() + "/self/stat", "4242 (x) R 1 1 1 0 -1 4194560 100 0 0 0 abc 5 0 0\n");
  a = ProcCpuActivity(root.path()).Read();
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("abc"), std::string::npos) << a.status().message();
}

TEST(CpuActivity, TheRealProcfsSeesThisProcessItsOwnWork) {
  ProcCpuActivity source("/proc");
  auto a = source.Read();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  // Burn CPU until this process has at least 20 ticks more (bounded by a generous ceiling).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  volatile double sink = 0;
  Result<CpuActivity> b = a;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1000000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
    b = source.Read();
    ASSERT_TRUE(b.ok());
    if (b->self >= a->self + 20) break;
  }
  EXPECT_GE(b->self, a->self + 20);
  EXPECT_GE(b->machine_busy - a->machine_busy, b->self - a->self - 2)  // the machine saw it
      << "machine " << b->machine_busy - a->machine_busy << " self " << b->self - a->self;
}

}  // namespace
}  // namespace wattfleet
