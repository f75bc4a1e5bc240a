// A whole-model job of an imported model runs the model's own TorchScript file
// (Architecture::model_file, an agent's local copy): the ground truth of a measurement is the
// model as its users run it, not the layer graph rebuilt from it. Included by
// torch_executor.cc only: it brings libtorch's headers.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "wattfleet/monitor/measurement_loop.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet::torch_script {

// The module of `job.graph.model_file.path`, on `device` in `dtype`, run on `inputs` (the
// graph's inputs at the job's batch): in inference, eval and InferenceMode; in training, the
// step of a training script with the job's optimiser and loss. A module traced in eval mode
// keeps what the trace recorded (batch norm with running statistics, no dropout).
// InvalidArgument for a file libtorch cannot load or a module that does not take the inputs.
Result<std::unique_ptr<Workload>> PrepareModule(const JobSpec& job,
                                                std::vector<torch::Tensor> inputs,
                                                torch::ScalarType dtype, torch::Device device);

}  // namespace wattfleet::torch_script
