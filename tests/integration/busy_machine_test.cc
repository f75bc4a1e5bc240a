// The quickstart's protocol on a machine other work keeps busy: the real `wattfleet run`, its
// real agent (the sensor `run` picks on this machine) and, beside them, CPU load from this
// test's own threads, bursty or steady. Every job must end with a measurement (flagged or
// not) and the run must exit 0, saying why any measurement is flagged and what to do.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/store_open.h"
#include "../unit/exported.h"

namespace wattfleet {
namespace {

using wattfleet::testing::Slurp;

// Busy threads: all the time, or together for `on_s` of every `period_s` (a bursty neighbour
// such as a build or a data loader). Stopped and joined when destroyed.
class CpuLoad {
 public:
  CpuLoad(int threads, double on_s, double period_s) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, start, on_s, period_s] {
        volatile uint64_t sink = 0;
        while (!stop_.load(std::memory_order_relaxed)) {
          const double t =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          const double phase = period_s > 0 ? t - period_s * static_cast<int64_t>(t / period_s)
                                            : 0.0;
          if (period_s > 0 && phase >= on_s) {
            const double rest = std::min(period_s - phase, 0.05);
            std::this_thread::sleep_for(std::chrono::duration<double>(rest));
            continue;
          }
          for (int k = 0; k < 100000; ++k) sink = sink + static_cast<uint64_t>(k);
        }
      });
    }
  }
  ~CpuLoad() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
  }
  CpuLoad(const CpuLoad&) = delete;
  CpuLoad& operator=(const CpuLoad&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

class BusyMachineTest : public ::testing::Test {
 protected:
  // The quickstart's measurement protocol (experiments/quickstart.yaml) on its MLP: its
  // layers and the whole network.
  void RunBeside(const std::string& name) {
#ifndef WATTFLEET_E2E_WITH_TORCH
    GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF)";
#endif
    const std::string campaign = dir_ + "/" + name + ".yaml";
    {
      std::ofstream f(campaign);
      f << "name: " << name << "\n"
        << "mode: inference\n"
           "batch_size: 16\n"
           "devices: [{class: cpu}]\n"
           "measurement: {warmup_ms: 100, min_window_ms: 200, target_rel_ci: 0.05,"
           " min_repeats: 3, max_repeats: 10, cooldown_ms: 20}\n"
           "architectures:\n"
           "  - family: mlp\n"
           "    sweep: {depth: [2], width: [64], input: [[1, 28, 28]]}\n"
           "plan: {layers: distinct, whole_models: true}\n";
    }
    const std::string db = dir_ + "/" + name + ".db";
    const std::string log = dir_ + "/" + name + ".log";
    const int code = wattfleet::testing::RunCli(
        {"run", campaign, "--agents", "1", "--threads", "1", "--db", db}, log, 840);
    const std::string out = Slurp(log);
    EXPECT_EQ(code, 0) << out;
    auto store = OpenStore(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto campaigns = (*store)->ListCampaigns();
    ASSERT_TRUE(campaigns.ok() && campaigns->size() == 1u) << out;
    int64_t jobs = 0;
    for (const auto& [state, n] : campaigns->front().jobs) jobs += n;
    EXPECT_GT(jobs, 3) << out;
    EXPECT_EQ(campaigns->front().jobs["done"], jobs) << out;
    auto rows = testing::Exported(db);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    EXPECT_EQ(static_cast<int64_t>(rows->size()), jobs) << out;
    EXPECT_NE(out.find(std::to_string(jobs) + " measurements in "), std::string::npos) << out;
    // Flagged measurements are counted with why, and with what to do about them.
    const int64_t flagged = std::count_if(rows->begin(), rows->end(), [](const ExportRow& r) {
      return !QualityFlags(r.m).empty();
    });
    if (flagged > 0) {
      EXPECT_NE(out.find(std::to_string(flagged) + " of them carry quality flags"),
                std::string::npos)
          << out;
      EXPECT_NE(out.find("--include-flagged"), std::string::npos) << out;
      EXPECT_NE(out.find("--fresh"), std::string::npos) << out;
    }
  }

  wattfleet::testing::TempDir tmp_;
  std::string dir_ = tmp_.path();
  const int cores_ = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

TEST_F(BusyMachineTest, BesideABurstyLoadEveryJobIsMeasured) {
  // Every core busy 0.3 s of every 1.5 s: idle powers and windows land on either side.
  CpuLoad load(cores_, 0.3, 1.5);
  RunBeside("bursty");
}

TEST_F(BusyMachineTest, BesideASteadyLoadEveryJobIsMeasured) {
  // Two busy threads per core: a load of twice the core count, all the time.
  CpuLoad load(2 * cores_, 0, 0);
  RunBeside("steady");
}

}  // namespace
}  // namespace wattfleet
