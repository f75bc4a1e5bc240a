// What a training step runs beyond the network's layers, and how the step's parts are
// measured alone. The hyper-parameters are those of a typical fine-tuning script; the cost of
// an update does not depend on them (no weight decay, except AdamW's, which decouples it).
#include "torch_training.h"
#include "torch_window.h"
#include "wattfleet/common/training_step.h"


#include <algorithm>
#include <string>

namespace wattfleet::torch_training {
namespace {

using torch::Tensor;

// The loss forward and backward over a fixed random output, its gradient cleared each time.
class LossWorkload final : public Workload {
 public:
  LossWorkload(Loss loss, Tensor output, torch::Device device)
      : loss_(loss), output_(std::move(output)), device_(device) {
    target_ = MakeTarget(loss_, output_);
  }

  Status Run(int64_t iterations) override {
    return RunWindow(device_, [&] {
      for (int64_t k = 0; k < iterations; ++k) {
        output_.mutable_grad().reset();
        StepLoss(loss_, output_, target_).backward();
      }
    });
  }

 private:
  Loss loss_;
  Tensor output_, target_;
  torch::Device device_;
};

// The optimiser's update of parameters whose gradients the backward pass left, then the
// gradients set to none (PyTorch's `zero_grad()`).
class UpdateWorkload final : public Workload {
 public:
  UpdateWorkload(Optimizer optimizer, std::vector<Tensor> params, std::vector<Tensor> grads,
                 torch::Device device)
      : params_(std::move(params)), grads_(std::move(grads)), device_(device) {
    optimizer_ = MakeOptimizer(optimizer, params_);
  }

  Status Run(int64_t iterations) override {
    return RunWindow(device_, [&] {
      for (int64_t k = 0; k < iterations; ++k) {
        // Handing a gradient over is what backward does last; it moves no data.
        for (size_t i = 0; i < params_.size(); ++i) params_[i].mutable_grad() = grads_[i];
        optimizer_->step();
        for (Tensor& p : params_) p.mutable_grad().reset();
      }
    });
  }

 private:
  std::vector<Tensor> params_, grads_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  torch::Device device_;
};

Optimizer OptimizerOf(LayerType type) {
  switch (type) {
    case LayerType::kSGDMomentumStep: return Optimizer::kSgdMomentum;
    case LayerType::kAdamStep: return Optimizer::kAdam;
    case LayerType::kAdamWStep: return Optimizer::kAdamW;
    default: return Optimizer::kSgd;
  }
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(Optimizer optimizer,
                                                       std::vector<Tensor> params) {
  namespace optim = torch::optim;
  switch (optimizer) {
    case Optimizer::kSgdMomentum:
      return std::make_unique<optim::SGD>(std::move(params),
                                          optim::SGDOptions(1e-3).momentum(0.9));
    case Optimizer::kAdam:
      return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions(1e-4));
    case Optimizer::kAdamW:
      return std::make_unique<optim::AdamW>(std::move(params),
                                            optim::AdamWOptions(1e-4).weight_decay(0.01));
    case Optimizer::kSgd: break;
  }
  return std::make_unique<optim::SGD>(std::move(params), optim::SGDOptions(1e-3));
}

Tensor MakeTarget(Loss loss, const Tensor& output) {
  auto opts = torch::TensorOptions().device(output.device());
  if (loss == Loss::kMse) return torch::randn(output.sizes(), opts.dtype(torch::kFloat32));
  const int64_t classes = output.dim() == 0 ? 1 : output.size(-1);
  return torch::randint(0, classes, {output.numel() / std::max<int64_t>(classes, 1)},
                        opts.dtype(torch::kLong));
}

Tensor StepLoss(Loss loss, const Tensor& output, const Tensor& target) {
  Tensor out = output.to(torch::kFloat32);
  if (loss == Loss::kMse) return torch::mse_loss(out, target);
  const int64_t classes = out.dim() == 0 ? 1 : out.size(-1);
  return torch::nn::functional::cross_entropy(out.reshape({-1, classes}), target);
}

void TrainingStep(torch::nn::Module& module, const std::function<Tensor()>& forward, Loss loss,
                  const Tensor& target, torch::optim::Optimizer* optimizer) {
  module.zero_grad(/*set_to_none=*/true);
  Tensor value = StepLoss(loss, forward(), target);
  // A network without parameters (pooling alone) has nothing to differentiate.
  if (value.requires_grad()) value.backward();
  if (optimizer != nullptr) optimizer->step();
}

Result<std::unique_ptr<Workload>> PrepareStepPart(const JobSpec& job, const LayerSpec& spec,
                                                  torch::ScalarType dtype,
                                                  torch::Device device) {
  if (job.mode != Mode::kTraining) {
    return Status::InvalidArgument(std::string(LayerTypeName(spec.type)) +
                                   " is a part of a training step: it is measured in training");
  }
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  if (!IsOptimizerStep(spec.type)) {
    std::vector<int64_t> shape{job.batch};
    shape.insert(shape.end(), spec.input_shape.begin(), spec.input_shape.end());
    Tensor output = torch::randn(shape, opts).requires_grad_(true);
    const Loss loss = spec.type == LayerType::kMSELoss ? Loss::kMse : Loss::kCrossEntropy;
    return std::unique_ptr<Workload>(std::make_unique<LossWorkload>(loss, output, device));
  }
  std::vector<Tensor> params, grads;
  for (const int64_t size : UpdateTensorSizes(spec)) {
    params.push_back(torch::randn({size}, opts).requires_grad_(true));
    grads.push_back(torch::randn({size}, opts));
  }
  return std::unique_ptr<Workload>(std::make_unique<UpdateWorkload>(
      OptimizerOf(spec.type), std::move(params), std::move(grads), device));
}

}  // namespace wattfleet::torch_training
