// The architecture model: sequential and DAG construction with shape propagation, and totals.
#include "wattfleet/common/architecture.h"

#include <cctype>
#include <set>
#include <utility>

namespace wattfleet {
namespace {

// A loss or an optimiser step is a part of a training step, measured beside the network; a
// graph holding one would run it inside every forward pass.
std::string StepPartError(LayerType type) {
  return std::string(LayerTypeName(type)) +
         " is a part of the training step, not a layer of a network: a training campaign names "
         "its optimizer and loss instead";
}

// "conv2d3": the type in lower case and its 1-based index among nodes of that type.
std::string AutoName(LayerType type, int type_index) {
  std::string name;
  for (char c : LayerTypeName(type)) {
    name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name + std::to_string(type_index);
}

Status CheckInputShape(const std::string& where, const Shape& shape) {
  if (shape.empty()) return Status::InvalidArgument(where + ": the input shape is empty");
  for (int64_t d : shape) {
    if (d < 1) {
      return Status::InvalidArgument(where + ": the input shape " + ShapeToString(shape) +
                                     " has a non-positive dimension");
    }
  }
  return Status::OK();
}

}  // namespace

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
  WF_RETURN_IF_ERROR(CheckInputShape(where, input_shape));
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
    std::string node_name = decl.name.empty() ? AutoName(decl.type, type_index) : decl.name;
    // Indices are 0-based, the same numbers that ArchNode::inputs use.
    const std::string context = "layer " + std::to_string(i) + " (" + node_name + ")";
    if (!names.insert(node_name).second) {
      return Status::InvalidArgument(context + ": duplicate node name '" + node_name + "'");
    }

    if (IsTrainingStepPart(decl.type)) {
      return Status::InvalidArgument(context + ": " + StepPartError(decl.type));
    }
    LayerSpec spec;
    spec.type = decl.type;
    spec.params = decl.params;
    spec.input_shape = shape;
    LayerFeatures features;
    auto normalized = Normalize(std::move(spec), &features);
    if (!normalized.ok()) return normalized.status().WithContext(context);
    shape = features.output_shape;

    ArchNode node;
    node.name = std::move(node_name);
    node.spec = std::move(normalized).value();
    node.inputs = {static_cast<int>(i) - 1};
    arch.nodes.push_back(std::move(node));
  }
  return arch;
}

Architecture SingleLayerGraph(const std::string& name, const LayerSpec& spec) {
  Architecture graph;
  graph.name = name;
  graph.family = "layer";
  graph.input_shape = spec.input_shape;
  graph.extra_inputs = spec.extra_inputs;
  ArchNode node;
  node.name = "layer";
  node.spec = spec;
  for (int k = 0; k <= static_cast<int>(spec.extra_inputs.size()); ++k) {
    node.inputs.push_back(GraphInput(k));
  }
  graph.nodes.push_back(std::move(node));
  return graph;
}

GraphBuilder::GraphBuilder(std::string name, std::string family, Shape input_shape) {
  arch_.name = std::move(name);
  arch_.family = std::move(family);
  arch_.input_shape = std::move(input_shape);
  status_ = CheckInputShape("architecture '" + arch_.name + "'", arch_.input_shape);
}

Shape GraphBuilder::ShapeOf(Id id) const {
  if (id == kInput) return arch_.input_shape;
  if (id < 0 || static_cast<size_t>(id) >= shapes_.size()) return {};
  return shapes_[static_cast<size_t>(id)];
}

GraphBuilder::Id GraphBuilder::Add(LayerType type, std::map<std::string, double> params,
                                   std::vector<Id> inputs, std::string name) {
  if (!status_.ok()) return -100;
  const int index = static_cast<int>(arch_.nodes.size());
  const int type_index = ++type_counts_[type];
  if (name.empty()) name = AutoName(type, type_index);
  const std::string context = "architecture '" + arch_.name + "', node " +
                              std::to_string(index) + " (" + name + ")";
  auto fail = [&](Status s) {
    status_ = s.WithContext(context);
    return -100;
  };
  if (!names_.insert(name).second) {
    return fail(Status::InvalidArgument("duplicate node name '" + name + "'"));
  }
  if (inputs.empty()) return fail(Status::InvalidArgument("it reads no input"));
  if (IsTrainingStepPart(type)) return fail(Status::InvalidArgument(StepPartError(type)));
  LayerSpec spec;
  spec.type = type;
  spec.params = std::move(params);
  for (size_t j = 0; j < inputs.size(); ++j) {
    const Id in = inputs[j];
    if (in != kInput && (in < 0 || in >= index)) {
      return fail(Status::InvalidArgument("input " + std::to_string(j) + " (" +
                                          std::to_string(in) + ") is not an earlier node"));
    }
    Shape shape = ShapeOf(in);
    if (j == 0) {
      spec.input_shape = std::move(shape);
    } else {
      spec.extra_inputs.push_back(std::move(shape));
    }
  }
  LayerFeatures features;
  auto normalized = Normalize(std::move(spec), &features);
  if (!normalized.ok()) return fail(normalized.status());

  shapes_.push_back(features.output_shape);
  ArchNode node;
  node.name = std::move(name);
  node.spec = std::move(normalized).value();
  node.inputs = std::move(inputs);
  arch_.nodes.push_back(std::move(node));
  last_ = index;
  return index;
}

GraphBuilder::Id GraphBuilder::Then(LayerType type, std::map<std::string, double> params,
                                    std::string name) {
  return Add(type, std::move(params), {last_}, std::move(name));
}

Result<Architecture> GraphBuilder::Finish() && {
  if (!status_.ok()) return status_;
  if (arch_.nodes.empty()) {
    return Status::InvalidArgument("architecture '" + arch_.name + "': it has no layers");
  }
  return std::move(arch_);
}

}  // namespace wattfleet
