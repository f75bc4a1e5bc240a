// A copy of an ONNX graph free of protobuf and of the ONNX library: what onnx_import.cc (the
// only translation unit that includes them) reads off the file after checking and shape
// inference, and what the op rules (onnx_map.cc, onnx_fuse.cc) walk.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wattfleet/zoo/model_import.h"

namespace wattfleet {

struct OnnxValue {
  std::string name;
  // From shape inference, batch included: dims it left unknown are -1; `ranked` false when
  // even the rank is unknown.
  Shape shape;
  bool ranked = false;
  bool constant = false;  // an initializer or a Constant node's output
  // A constant's values, when it has at most kSmallConstant of them (scalars, axes, shapes).
  std::vector<double> numbers;
  int producer = -1;  // index of the node that outputs it; -1 for inputs and initializers
};

inline constexpr size_t kSmallConstant = 64;

struct OnnxNode {
  std::string op;    // "Conv"; "DOMAIN:Op" outside the default domain ("com.microsoft:Gelu")
  std::string name;  // the file's node name, may be empty
  std::vector<int> inputs;  // value indices; -1 for an omitted optional input
  std::vector<int> outputs;
  std::map<std::string, std::vector<int64_t>> ints;  // INT and INTS attributes
  std::map<std::string, double> floats;              // FLOAT attributes
  std::map<std::string, std::string> strings;        // STRING attributes
  bool has_subgraph = false;  // If, Loop, Scan: control flow, never mapped
};

struct OnnxGraph {
  std::vector<OnnxValue> values;
  std::vector<OnnxNode> nodes;  // topological, as the checker requires
  int input = -1;               // the data input, batch at dim 0
  std::vector<int> outputs;
};

// Maps the graph onto layers; `input_shape` per sample (the batch dropped). Errors are
// InvalidArgument without the file name (the caller adds it).
Result<ModelImport> MapOnnxGraph(const OnnxGraph& graph, const Shape& input_shape,
                                 const std::string& name);

}  // namespace wattfleet
