// The architecture model: named layers connected as a graph.
//
// Today architectures are sequential (each node reads the previous one), but nodes already
// name their inputs by index so that residual adds and concatenations fit without a change of
// representation.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "wattfleet/common/layer.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ArchNode {
  std::string name;         // unique within the architecture, e.g. "conv1"
  LayerSpec spec;           // normalized, input shape filled
  std::vector<int> inputs;  // indices of earlier nodes; -1 is the architecture's input
};

struct Architecture {
  std::string name;    // e.g. "lenet5", "mlp-d3-w64"
  std::string family;  // e.g. "lenet5", "mlp", "cnn"
  Shape input_shape;   // per sample
  std::vector<ArchNode> nodes;

  // Sums of the nodes' features (per sample).
  LayerFeatures Totals() const;
  Shape OutputShape() const;
};

// One layer of a sequential architecture before shapes are known.
struct LayerDecl {
  LayerType type;
  std::map<std::string, double> params;
  std::string name;  // optional; "<type lowercase><index>" when empty
};

// Builds a sequential architecture: propagates shapes from `input_shape` through the layers,
// normalizes every spec and names unnamed nodes. Errors name the failing layer (index, name).
Result<Architecture> BuildSequential(const std::string& name, const std::string& family,
                                     const Shape& input_shape,
                                     const std::vector<LayerDecl>& layers);

}  // namespace wattfleet
