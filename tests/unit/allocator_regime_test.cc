// The jobs' process pins glibc malloc's thresholds: a block below 32 MiB, freed and taken
// again, comes back from the heap without the kernel faulting its pages in afresh, whatever
// the process freed before. In its own binary: the regime is per process.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

#include "wattfleet/run/allocator_regime.h"

namespace wattfleet {
namespace {

long MinorFaults() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Takes `bytes`, writes every page of it and gives it back: what a step does with a gradient.
void TouchBlock(size_t bytes) {
  auto* p = static_cast<unsigned char*>(std::malloc(bytes));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, bytes);
  // The compiler may not drop the write or the block.
  volatile unsigned char sink = p[bytes / 2];
  (void)sink;
  std::free(p);
}

TEST(AllocatorRegime, ABlockGivenBackIsReusedWithoutFaults) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "the regime is glibc's";
#endif
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
      std::getenv("GLIBC_TUNABLES")) {
    GTEST_SKIP() << "the environment sets malloc's thresholds";
  }
  const std::string line = PinAllocatorRegime();
  EXPECT_NE(line.find("pinned"), std::string::npos) << line;
  EXPECT_EQ(PinAllocatorRegime(), line);  // once per process
  constexpr size_t kBlock = 24u << 20;      // above glibc's first thresholds, below the pinned
  TouchBlock(kBlock);                       // the heap grows: its pages are faulted in once
  const long before = MinorFaults();
  for (int i = 0; i < 5; ++i) TouchBlock(kBlock);
  // Unpinned, a fresh process maps this block afresh (6 144 pages) at least once more before
  // its thresholds adapt; pinned, it stays in the heap.
  EXPECT_LT(MinorFaults() - before, 600);
}

}  // namespace
}  // namespace wattfleet
