// The TorchScript module of an imported model as a whole-model workload.
#include "torch_script.h"

#include <torch/script.h>

#include <string>
#include <utility>

#include "torch_training.h"
#include "torch_window.h"

namespace wattfleet::torch_script {
namespace {

using torch::Tensor;

class ModuleWorkload final : public Workload {
 public:
  ModuleWorkload(torch::jit::Module module, std::vector<Tensor> inputs, const JobSpec& job,
                 torch::Device device)
      : module_(std::move(module)), mode_(job.mode), loss_(job.loss), device_(device) {
    for (Tensor& x : inputs) inputs_.emplace_back(std::move(x));
    if (mode_ != Mode::kTraining) {
      module_.eval();
      return;
    }
    module_.train();
    for (const Tensor& p : module_.parameters()) {
      if (p.requires_grad()) params_.push_back(p);
    }
    if (!params_.empty()) optimizer_ = torch_training::MakeOptimizer(job.optimizer, params_);
  }

  Status Run(int64_t iterations) override {
    return RunWindow(device_, [&] {
      if (mode_ == Mode::kInference) {
        c10::InferenceMode guard;
        for (int64_t k = 0; k < iterations; ++k) sink_ = module_.forward(inputs_);
      } else {
        for (int64_t k = 0; k < iterations; ++k) TrainingStep();
      }
    });
  }

 private:
  Tensor Forward() {
    torch::jit::IValue out = module_.forward(inputs_);
    // A model returning a tuple or a list: its first tensor is the output the loss reads.
    if (out.isTuple()) out = out.toTupleRef().elements().at(0);
    if (out.isList()) out = out.toListRef().at(0);
    return out.toTensor();
  }

  // The loop of a training script: gradients set to none, forward, loss, backward, update.
  void TrainingStep() {
    if (!target_.defined()) {
      torch::NoGradGuard no_grad;
      target_ = torch_training::MakeTarget(loss_, Forward());
    }
    for (Tensor& p : params_) p.mutable_grad().reset();
    Tensor value = torch_training::StepLoss(loss_, Forward(), target_);
    if (value.requires_grad()) value.backward();
    if (optimizer_) optimizer_->step();
  }

  torch::jit::Module module_;
  std::vector<torch::jit::IValue> inputs_;
  torch::jit::IValue sink_;  // keeps the last output alive so that nothing is elided
  Mode mode_;
  Loss loss_;
  torch::Device device_;
  std::vector<Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  Tensor target_;
};

}  // namespace

Result<std::unique_ptr<Workload>> PrepareModule(const JobSpec& job, std::vector<Tensor> inputs,
                                                torch::ScalarType dtype, torch::Device device) {
  const ModelFile& file = job.graph.model_file;
  if (file.format != "torchscript") {
    return Status::InvalidArgument("model file format '" + file.format + "' is not supported");
  }
  try {
    torch::jit::Module module = torch::jit::load(file.path, device);
    module.to(device, dtype);
    return std::unique_ptr<Workload>(
        std::make_unique<ModuleWorkload>(std::move(module), std::move(inputs), job, device));
  } catch (const c10::Error& e) {
    return Status::InvalidArgument("TorchScript " + file.path + ": " +
                                   e.what_without_backtrace());
  }
}

}  // namespace wattfleet::torch_script
