// Planner throughput: parse + expand + decompose + features + dedup + jobs.
//
//   ./build/bench/bench_planner
//
// Counters: architectures, layers_total, layers_distinct and the dedup ratio
// (layers_total / layers_distinct) of each campaign; peak_rss_mib is the process's peak
// resident memory after the benchmark (run one benchmark alone, with --benchmark_filter, for
// a figure that belongs to it alone).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <fstream>
#include <sstream>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/plan/planner.h"

namespace wattfleet {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A sweep of MLPs and CNNs in the spirit of THOR's and WattLayer's: 8 depths x 8 widths x
// 2 inputs of MLPs and 4 depths x 6 widths x 2 inputs of CNNs (176 architectures).
const char* kSweep = R"(
name: bench-sweep
batch_size: 32
devices: [{class: cpu}, {class: cuda}]
architectures:
  - family: mlp
    sweep: {depth: [1, 2, 3, 4, 5, 6, 7, 8], width: [16, 32, 64, 128, 256, 512, 1024, 2048],
            input: [[1, 28, 28], [3, 32, 32]]}
  - family: cnn
    sweep: {depth: [1, 2, 3, 4], width: [8, 16, 32, 64, 96, 128], input: [[1, 28, 28], [3, 32, 32]]}
plan: {layers: distinct, whole_models: true}
)";

void PlanText(benchmark::State& state, const std::string& text, const std::string& path) {
  size_t archs = 0, total = 0, distinct = 0, jobs = 0;
  for (auto _ : state) {
    auto campaign = ParseCampaign(text, path);
    if (!campaign.ok()) {
      state.SkipWithError(campaign.status().ToString().c_str());
      return;
    }
    auto plan = MakePlan(*campaign);
    if (!plan.ok()) {
      state.SkipWithError(plan.status().ToString().c_str());
      return;
    }
    archs = campaign->architectures.size();
    total = static_cast<size_t>(plan->layers_total);
    distinct = plan->layers.size();
    jobs = plan->jobs.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["architectures"] = static_cast<double>(archs);
  state.counters["layers_total"] = static_cast<double>(total);
  state.counters["layers_distinct"] = static_cast<double>(distinct);
  state.counters["jobs"] = static_cast<double>(jobs);
  state.counters["dedup_ratio"] = distinct ? static_cast<double>(total) / distinct : 0;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["peak_rss_mib"] = static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

void BM_PlanQuickstart(benchmark::State& state) {
  const std::string path = std::string(WATTFLEET_SOURCE_DIR) + "/experiments/quickstart.yaml";
  PlanText(state, ReadFile(path), path);
}
BENCHMARK(BM_PlanQuickstart)->Unit(benchmark::kMicrosecond);

void BM_PlanSweep(benchmark::State& state) { PlanText(state, kSweep, "bench-sweep.yaml"); }
BENCHMARK(BM_PlanSweep)->Unit(benchmark::kMillisecond);

// The whole zoo: 300+ architectures across vision, language and audio, two device classes,
// THOR probes.
void BM_PlanZooFull(benchmark::State& state) {
  const std::string path = std::string(WATTFLEET_SOURCE_DIR) + "/experiments/zoo-full.yaml";
  PlanText(state, ReadFile(path), path);
}
BENCHMARK(BM_PlanZooFull)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace wattfleet

BENCHMARK_MAIN();
