// The architecture model: named layers connected as a directed acyclic graph.
//
// Nodes are in topological order and name their inputs by index, so residual adds and
// concatenations are ordinary nodes with several inputs. The last node is the output.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/common/layer.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ArchNode {
  std::string name;         // unique within the architecture, e.g. "conv1"
  LayerSpec spec;           // normalized, input shape filled
  // Indices of earlier nodes; -1 is the architecture's input, -2 its first extra input, ...
  std::vector<int> inputs;
};

// The index that ArchNode::inputs uses for the architecture's k-th input (0: input_shape,
// k >= 1: extra_inputs[k - 1]).
constexpr int GraphInput(int k = 0) { return -1 - k; }

// The file an architecture was imported from, when its whole-model jobs run the framework's
// own module rather than the rebuilt graph (a TorchScript import): the graph names and prices
// the layers, the file is the model as its users run it. Empty for zoo and family members.
struct ModelFile {
  std::string format;  // "torchscript"
  // Where the controller reads it (absolute); in a job an agent runs, its own local copy.
  std::string path;
  std::string sha256;  // of the whole file: an agent's copy must have it
  int64_t bytes = 0;
  bool empty() const { return path.empty(); }
};

struct Architecture {
  std::string name;    // e.g. "lenet5", "mlp-d3-w64"
  std::string family;  // e.g. "lenet5", "mlp", "cnn"
  Shape input_shape;   // per sample
  // Further inputs (per sample), read by nodes as GraphInput(1), GraphInput(2), ...: a
  // single-layer job of a multi-input layer has one per extra input of the layer.
  std::vector<Shape> extra_inputs = {};
  std::vector<ArchNode> nodes;
  ModelFile model_file = {};

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

// A layer alone as a one-node graph (what a layer job runs on random input): its inputs are
// the graph's inputs, one per input of the layer.
Architecture SingleLayerGraph(const std::string& name, const LayerSpec& spec);

// Builds a DAG architecture node by node, propagating shapes. Errors are kept, not returned
// at each call, so that architecture definitions read as straight-line code: after the first
// error every call is a no-op returning an invalid id, and Finish() reports that error with
// the failing node's name.
class GraphBuilder {
 public:
  using Id = int;
  static constexpr Id kInput = GraphInput(0);

  GraphBuilder(std::string name, std::string family, Shape input_shape);

  // Adds a node reading `inputs` (ids returned earlier, or kInput). `name` empty: the type in
  // lower case plus a per-type counter ("conv2d3").
  Id Add(LayerType type, std::map<std::string, double> params, std::vector<Id> inputs,
         std::string name = "");
  // The same, reading the most recently added node (the input when none was added).
  Id Then(LayerType type, std::map<std::string, double> params = {}, std::string name = "");

  Id last() const { return last_; }
  // The per-sample output shape of a node (empty after an error).
  Shape ShapeOf(Id id) const;
  // The first error, if any.
  const Status& status() const { return status_; }

  // The architecture, or the first error. The last node added is the output.
  Result<Architecture> Finish() &&;
  // What was built so far, even with no layers: for showing what was mapped of a model file
  // with operators that could not be (call only while status() is OK).
  Architecture Partial() && { return std::move(arch_); }

 private:
  Architecture arch_;
  std::vector<Shape> shapes_;  // output shape per node
  std::map<LayerType, int> type_counts_;
  std::set<std::string> names_;
  Id last_ = kInput;
  Status status_;
};

}  // namespace wattfleet
