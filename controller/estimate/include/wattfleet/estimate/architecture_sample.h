// An architecture as the estimators see it: the ModelSample they predict for, and the
// LayerCatalog entries of its layers, with the features computed exactly as
// training_data.cc reads them from the dataset's layers table (per-sample features times the
// batch, parameters not; kernel, stride and groups from the hyper-parameters), so that a
// layer of a predicted architecture and the same layer measured are one catalog entry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/common/architecture.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ArchitectureSample {
  // kind "model", the architecture's name and family, features per iteration, one layer key
  // per node in node order. Measured values are zero (nothing was measured).
  ModelSample model;
  LayerCatalog catalog;  // one entry per distinct key of model.layer_keys
  // Per node, in node order: the node's own layer sample (its catalog entry), and its name
  // (a training step's parts follow the network's nodes as "loss" and "optimizer").
  std::vector<LayerSample> nodes;
  std::vector<std::string> node_names;
};

// The layer sample of one normalized spec run at `batch`: key CanonicalKey(spec), type name,
// features per iteration. InvalidArgument when the spec's features cannot be computed.
Result<LayerSample> MakeLayerSample(const LayerSpec& spec, int64_t batch,
                                   const std::string& device_class, const std::string& mode);

// `arch` at `batch` (>= 1) on `device_class` in `mode`. In training its layers are followed
// by the parts of its step, as a training campaign lists them (training_step.h): the loss and
// the update by `optimizer`. Errors name the failing node.
Result<ArchitectureSample> MakeArchitectureSample(const Architecture& arch, int64_t batch,
                                                  const std::string& device_class,
                                                  const std::string& mode,
                                                  Optimizer optimizer = Optimizer::kSgd,
                                                  Loss loss = Loss::kCrossEntropy);

}  // namespace wattfleet
