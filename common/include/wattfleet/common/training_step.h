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

// The sizes of one layer's trainable parameter tensors as libtorch's modules hold them (a
// weight and a bias, four per recurrent layer and direction, ...; `params`: its trainable
// parameters): an optimiser's update loops over them. Empty for a type that holds none.
std::vector<int64_t> ParameterTensorSizes(const LayerSpec& spec, int64_t params);

// A parameter tensor of at least this many elements (32 MiB in fp32) is a block the
// allocator maps on its own, in the regime the agents pin (agent/run/allocator_regime.h):
// the update's temporaries of its size are mapped and faulted in afresh at every step, which
// a tensor of the same parameters cut smaller does not pay. An update job keeps such tensors
// apart (`large_tensors`, `large_params`).
constexpr int64_t kMappedParameterElements = int64_t{8} << 20;

// The tensors an update job (`update`: a normalized optimiser step) cuts its parameters
// into: its `large_tensors` sharing `large_params` about equally, then its other tensors
// sharing the rest about equally. An update costs per element and per tensor, and how a
// network divides its parameters beyond that, and beyond blocks the allocator maps, changes
// little.
std::vector<int64_t> UpdateTensorSizes(const LayerSpec& update);

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
