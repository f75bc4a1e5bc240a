// A whole-model training job against the loop a libtorch user writes, in the same process,
// on this CPU:
//
//   ./build/bench/bench_training_step [--rounds 7] [--threads 1]
//
// For an MLP, a small CNN and a 2-layer LSTM classifier (cross-entropy), and each optimiser a
// campaign can name: time per step of (a) a bare loop over hand-built modules of the same
// shapes — optimizer.zero_grad() with gradients set to none, forward, loss, backward, step —
// and (b) the executor's workload for the same architecture (the path every whole-model
// training job runs), alternated round by round (which goes first alternates too), and the
// median of the per-round ratios.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "alternating_rounds.h"
#include "wattfleet/run/executor.h"
#include "wattfleet/common/architecture.h"

namespace wattfleet {
namespace {

// The optimiser a user writes for each name (docs/campaign.md, "Training").
std::unique_ptr<torch::optim::Optimizer> ByHand(Optimizer o, std::vector<torch::Tensor> p) {
  namespace optim = torch::optim;
  switch (o) {
    case Optimizer::kSgd: return std::make_unique<optim::SGD>(p, optim::SGDOptions(1e-3));
    case Optimizer::kSgdMomentum:
      return std::make_unique<optim::SGD>(p, optim::SGDOptions(1e-3).momentum(0.9));
    case Optimizer::kAdam: return std::make_unique<optim::Adam>(p, optim::AdamOptions(1e-4));
    case Optimizer::kAdamW:
      return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(1e-4).weight_decay(0.01));
  }
  return nullptr;
}

struct LastStepImpl : torch::nn::Module {
  torch::Tensor forward(const torch::Tensor& x) { return x.select(1, x.size(1) - 1); }
};
TORCH_MODULE(LastStep);

struct LstmOutputImpl : torch::nn::Module {
  explicit LstmOutputImpl(torch::nn::LSTM m) : lstm(register_module("lstm", m)) {}
  torch::Tensor forward(const torch::Tensor& x) { return std::get<0>(lstm->forward(x)); }
  torch::nn::LSTM lstm;
};
TORCH_MODULE(LstmOutput);

struct Case {
  const char* label;
  Shape input;
  int64_t batch;
  std::vector<LayerDecl> layers;
  std::function<torch::nn::Sequential()> by_hand;
};

void RunCase(const Case& c, Optimizer optimizer, int rounds, int threads) {
  auto arch = BuildSequential(c.label, "bench", c.input, c.layers);
  if (!arch.ok()) {
    std::fprintf(stderr, "%s\n", arch.status().ToString().c_str());
    std::exit(1);
  }
  JobSpec job;
  job.job_id = 1;
  job.kind = JobKind::kModel;
  job.mode = Mode::kTraining;
  job.optimizer = optimizer;
  job.batch = c.batch;
  job.graph = *arch;
  auto executor = MakeExecutor(ExecutorOptions{"cpu", threads});
  auto workload = (*executor)->Prepare(job);
  if (!workload.ok()) {
    std::fprintf(stderr, "%s\n", workload.status().ToString().c_str());
    std::exit(1);
  }
  torch::nn::Sequential net = c.by_hand();
  net->train();
  auto opt = ByHand(optimizer, net->parameters());
  std::vector<int64_t> shape{c.batch};
  shape.insert(shape.end(), c.input.begin(), c.input.end());
  const torch::Tensor x = torch::randn(shape);
  const int64_t classes = arch->OutputShape().back();
  const torch::Tensor y = torch::randint(0, classes, {c.batch});
  auto bare = [&](int64_t n) {
    for (int64_t k = 0; k < n; ++k) {
      net->zero_grad(/*set_to_none=*/true);
      torch::nn::functional::cross_entropy(net->forward(x), y).backward();
      opt->step();
    }
  };
  auto harness = [&](int64_t n) {
    if (Status s = (*workload)->Run(n); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.label, s.ToString().c_str());
      std::exit(1);
    }
  };
  bare(5);
  harness(5);
  const double probe = bench::PerIteration(bare, 5);
  const int64_t n = std::max<int64_t>(5, static_cast<int64_t>(0.3 / probe));
  const bench::Rounds timed = bench::AlternatingRounds(bare, harness, n, rounds);
  std::printf("| %s | %lld | %s | %.3f | %.3f | %+.1f %% (%.2f-%.2f) |\n", c.label,
              static_cast<long long>(c.batch), std::string(OptimizerName(optimizer)).c_str(),
              bench::Median(timed.first) * 1e3, bench::Median(timed.second) * 1e3,
              (bench::Median(timed.ratios) - 1) * 100, timed.ratios.front(),
              timed.ratios.back());
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  using namespace wattfleet;
  namespace nn = torch::nn;
  int rounds = 7, threads = 1;  // one intra-op thread, as the project's campaigns run
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  if (rounds < 1 || threads < 1) {
    std::fprintf(stderr, "usage: bench_training_step [--rounds N>=1] [--threads N>=1]\n");
    return 2;
  }
  using T = LayerType;
  const Case cases[] = {
      {"mlp 784-512-512-10", {784}, 64,
       {{T::kLinear, {{"in_features", 784}, {"out_features", 512}}, ""},
        {T::kReLU, {}, ""},
        {T::kLinear, {{"in_features", 512}, {"out_features", 512}}, ""},
        {T::kReLU, {}, ""},
        {T::kLinear, {{"in_features", 512}, {"out_features", 10}}, ""}},
       [] {
         return nn::Sequential(nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512),
                               nn::ReLU(), nn::Linear(512, 10));
       }},
      {"cnn 32x32, 32-64 ch", {3, 32, 32}, 16,
       {{T::kConv2d, {{"in_channels", 3}, {"out_channels", 32}, {"kernel_size", 3}, {"padding", 1}}, ""},
        {T::kReLU, {}, ""},
        {T::kMaxPool2d, {{"kernel_size", 2}}, ""},
        {T::kConv2d, {{"in_channels", 32}, {"out_channels", 64}, {"kernel_size", 3}, {"padding", 1}}, ""},
        {T::kReLU, {}, ""},
        {T::kAdaptiveAvgPool2d, {{"output_size", 1}}, ""},
        {T::kFlatten, {}, ""},
        {T::kLinear, {{"in_features", 64}, {"out_features", 10}}, ""}},
       [] {
         return nn::Sequential(
             nn::Conv2d(nn::Conv2dOptions(3, 32, 3).padding(1)), nn::ReLU(),
             nn::MaxPool2d(nn::MaxPool2dOptions(2)),
             nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(),
             nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)), nn::Flatten(),
             nn::Linear(64, 10));
       }},
      {"lstm 2x128, 32 steps", {32, 64}, 8,
       {{T::kLSTM, {{"input_size", 64}, {"hidden_size", 128}, {"num_layers", 2}}, ""},
        {T::kSelectToken, {{"index", 31}}, ""},
        {T::kLinear, {{"in_features", 128}, {"out_features", 10}}, ""}},
       [] {
         return nn::Sequential(
             LstmOutput(nn::LSTM(nn::LSTMOptions(64, 128).num_layers(2).batch_first(true))),
             LastStep(), nn::Linear(128, 10));
       }},
  };
  std::printf("| network | batch | optimiser | bare loop ms/step | whole-model job ms/step | "
              "difference: median (range of per-round ratios) |\n|---|---|---|---|---|---|\n");
  for (const Case& c : cases) {
    for (Optimizer o : {Optimizer::kSgd, Optimizer::kSgdMomentum, Optimizer::kAdam,
                        Optimizer::kAdamW}) {
      RunCase(c, o, rounds, threads);
    }
  }
  return 0;
}
