// Helpers for the hardware-meter tests: a temporary fake sysfs tree, a clock that the meters'
// sampling threads can read while the test advances it, and atomic file replacement (a sampler
// must never see a half-written value that real sysfs would never show).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "wattfleet/common/clock.h"

namespace wattfleet {
namespace testing_sysfs {

namespace fs = std::filesystem;

// A Clock whose time only moves when the test says so; safe to read from other threads.
class AtomicFakeClock final : public Clock {
 public:
  double NowSeconds() override { return now_.load(); }
  int64_t UnixMillis() override { return static_cast<int64_t>(now_.load() * 1000); }
  void SleepFor(double seconds) override { Advance(seconds); }
  void Advance(double seconds) { now_.store(now_.load() + seconds); }

 private:
  std::atomic<double> now_{10.0};
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "wf_sysfs_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes `content` to `path` (creating parent directories) by renaming a temporary file over
// it, so that a concurrent reader sees the old or the new content, never an empty file.
inline void Put(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  { std::ofstream(tmp, std::ios::trunc) << content; }
  fs::rename(tmp, path);
}

inline void Put(const std::string& path, long long value) {
  Put(path, std::to_string(value) + "\n");
}

// A powercap RAPL domain directory under `dir`: its name, counter and wrap point.
inline void RaplDomain(const TempDir& dir, const std::string& entry, const std::string& name,
                       long long energy, long long max) {
  const std::string d = dir.path() + "/class/powercap/" + entry;
  Put(d + "/name", name + "\n");
  Put(d + "/energy_uj", energy);
  Put(d + "/max_energy_range_uj", max);
}

// Seconds that `f` takes to run.
template <typename F>
double Seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace testing_sysfs
}  // namespace wattfleet
