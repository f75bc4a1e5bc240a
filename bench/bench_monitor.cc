// What a Monitor window costs (docs/python.md): the wall time begin + end add, and the CPU
// time the monitor spends over a 1 s window (its two reads plus any background poller), as a
// share of one core busy for that second. Two paths: the modeled meter on this machine's
// /proc, and the RAPL meter on a fake powercap tree (the real RAPL code, reading files).
//
//   ./build/bench/bench_monitor [--pairs N]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "wattfleet/monitor/window_monitor.h"

namespace {

using namespace wattfleet;
namespace fs = std::filesystem;

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

void Put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// CPU seconds this process spends over a `seconds`-long sleep, with `open` running inside it.
template <typename Fn>
double CpuOverSleep(double seconds, Fn open) {
  const double c0 = CpuSeconds();
  open([&] { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); });
  return CpuSeconds() - c0;
}

int Run(const std::string& label, const MonitorOptions& options, int pairs) {
  auto opened = WindowMonitor::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s: %s\n", label.c_str(), opened.status().ToString().c_str());
    return 1;
  }
  WindowMonitor& m = **opened;
  std::vector<double> wall;
  wall.reserve(static_cast<size_t>(pairs));
  const double c0 = CpuSeconds();
  for (int i = 0; i < pairs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!m.Begin("w").ok()) return 1;
    auto r = m.End("w");
    if (!r.ok()) return 1;
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double cpu_per_pair = (CpuSeconds() - c0) / pairs;
  std::sort(wall.begin(), wall.end());
  auto pct = [&](double q) { return wall[static_cast<size_t>(q * (wall.size() - 1))]; };

  // A 1 s window with the monitor around it, against a bare 1 s sleep with the monitor open:
  // the difference is what the window's own begin and end cost (reads, probe files). A
  // background poller (RAPL's) runs in both and is counted by neither.
  const double bare = CpuOverSleep(1.0, [](auto sleep) { sleep(); });
  const double monitored = CpuOverSleep(1.0, [&](auto sleep) {
    (void)m.Begin("second");
    sleep();
    (void)m.End("second");
  });
  const double overhead = std::max(0.0, monitored - bare);
  std::printf("%-10s begin+end wall: median %.1f us, p99 %.1f us, max %.1f us; CPU %.1f us per "
              "pair; over a 1 s window: %.2f ms CPU = %.3f %% of one core\n",
              label.c_str(), 1e6 * pct(0.5), 1e6 * pct(0.99), 1e6 * wall.back(),
              1e6 * cpu_per_pair, 1e3 * overhead, 100 * overhead);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 2000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--pairs") == 0) pairs = std::max(1, std::atoi(argv[i + 1]));
  }
  MonitorOptions modeled;
  modeled.sensor = "modeled";
  int rc = Run("modeled", modeled, pairs);

  const fs::path root = fs::temp_directory_path() / ("wattfleet-bench-rapl-" +
                                                     std::to_string(::getpid()));
  const fs::path domain = root / "class" / "powercap" / "intel-rapl:0";
  Put(domain / "name", "package-0\n");
  Put(domain / "max_energy_range_uj", "262143328850\n");
  Put(domain / "energy_uj", "1000000\n");
  MonitorOptions rapl;
  rapl.sensor = "rapl";
  rapl.roots.sysfs_root = root.string();
  rc |= Run("fake-rapl", rapl, pairs);
  fs::remove_all(root);
  return rc;
}
