// A libtorch-free copy of a frozen TorchScript forward graph, and the mapping of that graph
// onto wattfleet layers. torchscript_import.cc (the only libtorch translation unit of the
// controller) fills a TsGraph; torchscript_map.cc and torchscript_map_patterns.cc map it, so
// the op rules build and read without libtorch headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/zoo/torchscript_import.h"

namespace wattfleet {

// What is known about one graph value at import time.
struct TsValue {
  enum class Kind { kRuntime, kNone, kInt, kIntList, kDouble, kBool, kString, kTensor, kOther };
  Kind kind = Kind::kRuntime;   // kRuntime: computed when the model runs (not a constant)
  std::vector<int64_t> ints;    // kInt (one), kIntList, kBool (0/1)
  double number = 0;            // kDouble
  std::string text;             // kString
  Shape tensor_shape;           // kTensor: the constant's full shape
  bool scalar = false;          // kTensor of rank 0: its value is `number`
  int producer = -1;            // index of the node that outputs it; -1 for graph inputs
};

struct TsNode {
  std::string kind;          // "aten::_convolution", "prim::ListConstruct", ...
  std::vector<int> inputs;   // value indices
  std::vector<int> outputs;  // value indices
  std::string scope;         // module path, e.g. "layer1.0.conv1"; empty at the top level
};

struct TsGraph {
  std::vector<TsValue> values;
  std::vector<TsNode> nodes;  // in graph (topological) order
  int input = -1;             // the tensor input, batch at dim 0
  std::vector<int> outputs;   // the graph's outputs
};

// Maps the graph onto layers; see ImportTorchScript. Errors are InvalidArgument without the
// file name (the caller adds it).
Result<TorchScriptImport> MapTorchScriptGraph(const TsGraph& graph, const Shape& input_shape,
                                              const std::string& name);

}  // namespace wattfleet
