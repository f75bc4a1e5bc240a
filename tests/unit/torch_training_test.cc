// The training step the executor runs is the loop a PyTorch user writes: from the same
// weights, on the same batch, its parameters after a few steps equal those of a plain loop
// with the optimiser built by hand, for every optimiser a campaign can name.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "torch_training.h"

namespace wattfleet {
namespace {

// The optimiser a user would write for each name, with the documented hyper-parameters.
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

torch::nn::Sequential Net() {
  return torch::nn::Sequential(torch::nn::Linear(6, 8), torch::nn::ReLU(),
                               torch::nn::Linear(8, 4));
}

TEST(TrainingStep, IsThePlainLoopForEveryOptimiser) {
  for (Optimizer o : {Optimizer::kSgd, Optimizer::kSgdMomentum, Optimizer::kAdam,
                      Optimizer::kAdamW}) {
    for (Loss l : {Loss::kCrossEntropy, Loss::kMse}) {
      torch::manual_seed(7);
      torch::nn::Sequential ours = Net();
      torch::nn::Sequential plain = Net();
      {
        torch::NoGradGuard no_grad;
        auto a = ours->parameters(), b = plain->parameters();
        for (size_t i = 0; i < a.size(); ++i) b[i].copy_(a[i]);
      }
      std::vector<torch::Tensor> initial;
      for (const torch::Tensor& p : ours->parameters()) initial.push_back(p.detach().clone());
      const torch::Tensor x = torch::randn({5, 6});
      const torch::Tensor target = torch_training::MakeTarget(l, ours->forward(x).detach());
      auto ours_opt = torch_training::MakeOptimizer(o, ours->parameters());
      auto plain_opt = ByHand(o, plain->parameters());
      for (int step = 0; step < 3; ++step) {
        torch_training::TrainingStep(
            *ours, [&] { return ours->forward(x); }, l, target, ours_opt.get());
        plain_opt->zero_grad();
        torch::Tensor out = plain->forward(x);
        torch::Tensor loss = l == Loss::kMse ? torch::mse_loss(out, target)
                                             : torch::nn::functional::cross_entropy(out, target);
        loss.backward();
        plain_opt->step();
      }
      auto a = ours->parameters(), b = plain->parameters();
      double moved = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-6, 1e-7))
            << OptimizerName(o) << "/" << LossName(l) << " parameter " << i;
        moved += (a[i] - initial[i]).abs().sum().item<double>();
      }
      EXPECT_GT(moved, 0) << "the step updated nothing";
    }
  }
}

// The update of a step-part job changes its parameters, and its gradients end cleared.
TEST(TrainingStep, AnUpdateJobUpdatesAndClears) {
  JobSpec job;
  job.mode = Mode::kTraining;
  LayerSpec spec;
  spec.type = LayerType::kAdamStep;
  spec.input_shape = {1000};
  spec.params["tensors"] = 3;
  auto part = torch_training::PrepareStepPart(job, spec, torch::kFloat32, torch::kCPU);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_TRUE((*part)->Run(3).ok());
  // With a large tensor kept apart, as a network's mapped weights are.
  spec.params["large_tensors"] = 1;
  spec.params["large_params"] = 900;
  auto apart = torch_training::PrepareStepPart(job, spec, torch::kFloat32, torch::kCPU);
  ASSERT_TRUE(apart.ok()) << apart.status().ToString();
  EXPECT_TRUE((*apart)->Run(2).ok());
  job.mode = Mode::kInference;
  EXPECT_FALSE(torch_training::PrepareStepPart(job, spec, torch::kFloat32, torch::kCPU).ok());
}

}  // namespace
}  // namespace wattfleet
