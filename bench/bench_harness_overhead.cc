// The measurement harness against a bare libtorch loop, in the same process, on this CPU:
//
//   ./build/bench/bench_harness_overhead [--rounds 7]
//
// For a typical Conv2d and Linear layer job: time per iteration of (a) a bare loop over the
// module's forward, (b) the executor's workload (the path every job runs), alternated round by
// round (and which goes first alternates too) so that drift hits both alike, and the median
// ratio; then (c) the full protocol of
// docs/measurement.md (warm-up, window growth, repeats to the CI target, default settings) with
// its 95 % CI of time per iteration.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "alternating_rounds.h"
#include "wattfleet/run/executor.h"
#include "wattfleet/monitor/measurement_loop.h"
#include "wattfleet/meters/meter.h"
#include "wattfleet/common/architecture.h"

namespace wattfleet {
namespace {

struct Case {
  const char* label;
  LayerType type;
  std::map<std::string, double> params;
  Shape input;
  int64_t batch;
};

void RunCase(const Case& c, int rounds) {
  auto arch = BuildSequential(c.label, "bench", c.input, {{c.type, c.params, "layer"}});
  JobSpec job;
  job.job_id = 1;
  job.batch = c.batch;
  job.graph = *arch;
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 0});
  auto workload = (*executor)->Prepare(job);
  if (!workload.ok()) {
    std::fprintf(stderr, "%s\n", workload.status().ToString().c_str());
    std::exit(1);
  }

  // The bare loop: the same module kind and shapes, built directly.
  torch::nn::AnyModule module;
  const LayerSpec& s = arch->nodes[0].spec;
  if (c.type == LayerType::kConv2d) {
    module = torch::nn::AnyModule(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(s.Int("in_channels"), s.Int("out_channels"), s.Int("kernel_size"))
            .padding(torch::ExpandingArray<2>(s.Int("padding")))));
  } else {
    module = torch::nn::AnyModule(
        torch::nn::Linear(torch::nn::LinearOptions(s.Int("in_features"), s.Int("out_features"))));
  }
  module.ptr()->eval();
  std::vector<int64_t> shape{c.batch};
  shape.insert(shape.end(), c.input.begin(), c.input.end());
  torch::Tensor x = torch::randn(shape);
  torch::Tensor sink;
  auto bare = [&](int64_t n) {
    c10::InferenceMode guard;
    for (int64_t k = 0; k < n; ++k) sink = module.forward(x);
  };
  auto harness = [&](int64_t n) { (void)(*workload)->Run(n); };

  // Iterations for ~0.2 s, from a warm-up run.
  bare(20);
  harness(20);
  const double probe = bench::PerIteration(bare, 50);
  const int64_t n = std::max<int64_t>(10, static_cast<int64_t>(0.2 / probe));
  const bench::Rounds timed = bench::AlternatingRounds(bare, harness, n, rounds);

  ModeledMeterOptions mopts;
  auto meter = MakeModeledMeter(mopts);
  IdleBaseline idle(**meter, SystemClock());
  MeasurementSettings settings;  // the documented defaults
  auto m = Measure(**workload, **meter, idle, settings);
  std::printf("%-8s bare %.4f ms/iter, harness %.4f ms/iter (medians of %d rounds of %lld), "
              "overhead %+.2f %%\n",
              c.label, bench::Median(timed.first) * 1e3, bench::Median(timed.second) * 1e3,
              rounds, static_cast<long long>(n), (bench::Median(timed.ratios) - 1) * 100);
  if (m.ok()) {
    std::printf("%-8s protocol: %.4f ms/iter, %zu windows of %lld, 95%% CI of time %.2f %%, of "
                "energy %.2f %% (target %.0f %%)\n",
                c.label, m->time_per_iter_s * 1e3, m->repeats.size(),
                static_cast<long long>(m->iterations_per_window), m->time_rel_ci * 100,
                m->rel_ci * 100, settings.target_rel_ci * 100);
  } else {
    std::printf("%-8s protocol failed: %s\n", c.label, m.status().ToString().c_str());
  }
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  using namespace wattfleet;
  int rounds = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }
  const Case cases[] = {
      {"conv2d", LayerType::kConv2d,
       {{"in_channels", 32}, {"out_channels", 64}, {"kernel_size", 3}, {"padding", 1}},
       {32, 28, 28}, 16},
      {"linear", LayerType::kLinear, {{"in_features", 1024}, {"out_features", 1024}}, {1024}, 64},
  };
  for (const Case& c : cases) RunCase(c, rounds);
  return 0;
}
