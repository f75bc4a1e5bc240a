// The training step as users write it, for the libtorch executor: the named optimiser, the
// loss over a network's output, and the layer jobs that measure those two parts of a step on
// their own (training_step.h says how a campaign lists them). Included by torch_executor.cc
// only: it brings libtorch's headers.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "wattfleet/monitor/measurement_loop.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/layer.h"
#include "wattfleet/common/status.h"

namespace wattfleet::torch_training {

// The optimiser over `params` with the hyper-parameters a fine-tuning script would use
// (docs/campaign.md, "Training"); they do not change what a step costs.
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(Optimizer optimizer,
                                                       std::vector<torch::Tensor> params);

// A random target for `output` under `loss`: class indices over its last dim for
// cross-entropy, values of its shape for MSE. On the output's device.
torch::Tensor MakeTarget(Loss loss, const torch::Tensor& output);
// The loss of `output` against `target` (float32, whatever the output's dtype), a scalar.
torch::Tensor StepLoss(Loss loss, const torch::Tensor& output, const torch::Tensor& target);

// One step of a training script over `module`, whose forward pass is `forward`: gradients set
// to none (PyTorch's `zero_grad()`), forward, `loss` against `target`, backward, and the
// update when there is an optimiser (a network without parameters has none).
void TrainingStep(torch::nn::Module& module, const std::function<torch::Tensor()>& forward,
                  Loss loss, const torch::Tensor& target, torch::optim::Optimizer* optimizer);

// A layer job of a step part (IsTrainingStepPart): the loss forward and backward over a
// random output at the job's batch, or the optimiser's update of the spec's parameters in its
// `tensors` tensors, gradients cleared the way `zero_grad()` does (set to none). InvalidArgument
// outside training.
Result<std::unique_ptr<Workload>> PrepareStepPart(const JobSpec& job, const LayerSpec& spec,
                                                  torch::ScalarType dtype, torch::Device device);

}  // namespace wattfleet::torch_training
