// The parts of a training step beyond a network's layers: the loss over its output (forward
// and backward) and the optimiser's update of its parameters. A training campaign measures
// each as a layer job of its own (layer type CrossEntropyLoss, MSELoss, SGDStep, ...), lists
// them after the network's nodes, and the layer-wise estimators price them like any layer,
// so that a step's layers sum to the whole step (docs/campaign.md, "Training").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

LayerType LossLayerType(Loss loss);
LayerType StepLayerType(Optimizer optimizer);

// The trainable parameter tensors of one layer as libtorch's modules hold them (a weight and
// a bias, four per recurrent layer and direction, ...): an optimiser's update loops over them.
int64_t ParameterTensors(const LayerSpec& spec);

// A step part named as the node it follows would be: "loss", "optimizer".
struct StepPart {
  std::string name;
  LayerSpec spec;  // normalized
};

// The loss over `arch`'s output and the update of its parameters by `optimizer` (none for a
// network without parameters). Errors name the architecture.
Result<std::vector<StepPart>> TrainingStepParts(const Architecture& arch, Optimizer optimizer,
                                                Loss loss);

}  // namespace wattfleet
