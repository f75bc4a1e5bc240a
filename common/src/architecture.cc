// The architecture model: sequential construction with shape propagation, and totals.
#include "wattfleet/common/architecture.h"

#include <cctype>
#include <set>
#include <utility>

namespace wattfleet {

// Every node's features are summed, input_elements and output_elements included (the total
// activation traffic of one forward pass); output_shape is the architecture's output.
// Nodes built by BuildSequential always analyze; a node that does not (a hand-made,
// inconsistent spec) contributes nothing rather than poisoning the sums.
LayerFeatures Architecture::Totals() const {
  LayerFeatures total;
  for (const auto& node : nodes) {
    auto f = ComputeFeatures(node.spec);
    if (!f.ok()) continue;
    total.macs += f->macs;
    total.flops += f->flops;
    total.params += f->params;
    total.input_elements += f->input_elements;
    total.output_elements += f->output_elements;
  }
  total.output_shape = OutputShape();
  return total;
}

// The last node's output (sequential architectures end at their last node); the input shape
// for an architecture with no nodes; empty when the last node does not analyze.
Shape Architecture::OutputShape() const {
  if (nodes.empty()) return input_shape;
  auto f = ComputeFeatures(nodes.back().spec);
  return f.ok() ? f->output_shape : Shape{};
}

Result<Architecture> BuildSequential(const std::string& name, const std::string& family,
                                     const Shape& input_shape,
                                     const std::vector<LayerDecl>& layers) {
  const std::string where = "architecture '" + name + "'";
  if (input_shape.empty()) {
    return Status::InvalidArgument(where + ": the input shape is empty");
  }
  for (int64_t d : input_shape) {
    if (d < 1) {
      return Status::InvalidArgument(where + ": the input shape " + ShapeToString(input_shape) +
                                     " has a non-positive dimension");
    }
  }
  if (layers.empty()) return Status::InvalidArgument(where + ": it has no layers");

  Architecture arch;
  arch.name = name;
  arch.family = family;
  arch.input_shape = input_shape;
  arch.nodes.reserve(layers.size());

  std::map<LayerType, int> type_counts;
  std::set<std::string> names;
  Shape shape = input_shape;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerDecl& decl = layers[i];
    // Counted for every layer, named or not, so that an auto name depends only on the layer's
    // position among layers of its type.
    const int type_index = ++type_counts[decl.type];
    std::string node_name = decl.name;
    if (node_name.empty()) {
      for (char c : LayerTypeName(decl.type)) {
        node_name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      node_name += std::to_string(type_index);
    }
    // Indices are 0-based, the same numbers that ArchNode::inputs use.
    const std::string context = "layer " + std::to_string(i) + " (" + node_name + ")";
    if (!names.insert(node_name).second) {
      return Status::InvalidArgument(context + ": duplicate node name '" + node_name + "'");
    }

    LayerSpec spec;
    spec.type = decl.type;
    spec.params = decl.params;
    spec.input_shape = shape;
    auto normalized = Normalize(std::move(spec));
    if (!normalized.ok()) return normalized.status().WithContext(context);
    auto features = ComputeFeatures(*normalized);
    if (!features.ok()) return features.status().WithContext(context);
    shape = features->output_shape;

    ArchNode node;
    node.name = std::move(node_name);
    node.spec = std::move(normalized).value();
    node.inputs = {static_cast<int>(i) - 1};
    arch.nodes.push_back(std::move(node));
  }
  return arch;
}

}  // namespace wattfleet
