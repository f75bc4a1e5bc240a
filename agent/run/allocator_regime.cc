#include "wattfleet/run/allocator_regime.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace wattfleet {
namespace {

constexpr int kMmapThreshold = 32 << 20;  // glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
constexpr int kTrimThreshold = 64 << 20;  // twice it, as the adaptation sets it

#if defined(__GLIBC__)
bool UserChoseRegime() {
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr) return true;
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) return true;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr;
}
#endif

std::string Pin() {
#if defined(__GLIBC__)
  if (UserChoseRegime()) return "allocator: the user's malloc settings kept";
  if (::mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 &&
      ::mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1) {
    return "allocator: glibc malloc pinned at its adapted regime (mmap 32 MiB, trim 64 MiB)";
  }
  return "allocator: glibc refused the pinned thresholds; its own adaptation is kept";
#else
  return "allocator: not glibc; left as it is";
#endif
}

}  // namespace

std::string PinAllocatorRegime() {
  static std::once_flag once;
  static std::string line;
  std::call_once(once, [] { line = Pin(); });
  return line;
}

}  // namespace wattfleet
