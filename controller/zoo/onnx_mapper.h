// The mapper of ONNX import (onnx_map.cc, onnx_fuse.cc); private to those files.
//
// Values are data (computed from the model's input, with a builder id), poisoned (computed
// from an operator that could not be mapped) or neither: constants, and the shape arithmetic
// exporters write (Shape, Gather, Concat of sizes), consumed without a layer. Exporters spell
// out what PyTorch has one module for (LayerNorm before opset 17, GELU, SiLU, attention); a
// pass before the walk finds those runs of nodes and maps each run onto one layer.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mapper_states.h"
#include "onnx_graph.h"

namespace wattfleet::onnx_internal {

using mapper::kNotData;
using mapper::kPoisoned;
using mapper::Params;
using mapper::T;

// An operator use with no layer: the reason is appended to the operator in `unsupported`.
using Outcome = std::optional<std::string>;  // nullopt: mapped

// A run of nodes mapped onto one layer, emitted at its last node.
struct Fused {
  T type;
  Params params;
  std::vector<int> inputs;  // data values read from outside the run
  int output = -1;          // the one value read outside the run
  std::string what;         // "attention", for the reason when the layer cannot be added
};

class Mapper {
 public:
  Mapper(const OnnxGraph& g, const Shape& input_shape, const std::string& name);
  Result<ModelImport> Run();

 private:
  friend class Fuser;
  const OnnxValue& Val(int v) const { return g_.values[static_cast<size_t>(v)]; }
  bool IsData(int v) const { return v >= 0 && id_[static_cast<size_t>(v)] >= GraphBuilder::kInput; }
  bool IsPoisoned(int v) const { return v >= 0 && id_[static_cast<size_t>(v)] == kPoisoned; }
  // The value derives from the model's input (mapped or not); fixed before the walk.
  bool Flows(int v) const { return v >= 0 && flows_[static_cast<size_t>(v)]; }
  bool IsConst(int v) const { return v >= 0 && Val(v).constant; }
  Shape ShapeOf(int v) const { return b_.ShapeOf(id_[static_cast<size_t>(v)]); }
  // A constant scalar (one element, any rank).
  std::optional<double> Scalar(int v) const {
    if (!IsConst(v) || Val(v).numbers.size() != 1) return std::nullopt;
    return Val(v).numbers[0];
  }
  std::optional<int64_t> Attr(const OnnxNode& n, const std::string& key) const {
    auto it = n.ints.find(key);
    if (it == n.ints.end() || it->second.size() != 1) return std::nullopt;
    return it->second[0];
  }
  std::vector<int64_t> Attrs(const OnnxNode& n, const std::string& key) const {
    auto it = n.ints.find(key);
    return it == n.ints.end() ? std::vector<int64_t>{} : it->second;
  }
  const OnnxNode* Producer(int v) const {
    const int p = v < 0 ? -1 : Val(v).producer;
    return p < 0 ? nullptr : &g_.nodes[static_cast<size_t>(p)];
  }
  // The single node reading `v`, or nullptr.
  const OnnxNode* SoleUser(int v, int* index = nullptr) const {
    const auto& u = users_[static_cast<size_t>(v)];
    if (u.size() != 1) return nullptr;
    if (index) *index = u[0];
    return &g_.nodes[static_cast<size_t>(u[0])];
  }

  void Emit(const OnnxNode& node, int out, T type, Params params, const std::vector<int>& inputs);
  std::string NodeName(const OnnxNode& node, T type);

  Outcome MapNode(const OnnxNode& node);
  Outcome MapConv(const OnnxNode& node);
  Outcome MapGemm(const OnnxNode& node);
  Outcome MapMatMul(const OnnxNode& node);
  Outcome MapNorm(const OnnxNode& node);
  Outcome MapPool(const OnnxNode& node);
  Outcome MapBinary(const OnnxNode& node);
  Outcome MapConcat(const OnnxNode& node);
  Outcome MapGather(const OnnxNode& node);
  Outcome MapSlice(const OnnxNode& node);
  Outcome MapSplit(const OnnxNode& node);
  Outcome MapReshape(const OnnxNode& node);
  Outcome MapReduceMean(const OnnxNode& node);
  Outcome MapClip(const OnnxNode& node);
  void Note(const std::string& entry) {
    if (seen_.insert(entry).second) unsupported_.push_back(entry);
  }

  const OnnxGraph& g_;
  GraphBuilder b_;
  int64_t batch_;                        // the batch shapes were inferred at
  std::vector<bool> flows_;              // per value
  std::vector<int> id_;                  // per value: builder id, kNotData or kPoisoned
  std::vector<std::vector<int>> users_;  // per value: reading nodes
  std::vector<bool> done_;               // per node: mapped by a run or a pattern already
  std::map<size_t, Fused> fused_;        // by the node each run is emitted at
  std::set<std::string> names_;
  std::map<std::string, int> name_counts_;
  std::vector<std::string> unsupported_;
  std::set<std::string> seen_;
};

// The pass before the walk (onnx_fuse.cc): marks the runs' nodes done and records each run
// at its last node.
class Fuser {
 public:
  explicit Fuser(Mapper& m) : m_(m) {}
  void Run();

 private:
  bool LayerNorm(size_t first);
  bool Gelu(size_t erf);
  bool SiLU(size_t sigmoid);
  bool Attention(size_t softmax);
  // Pieces of Attention (onnx_fuse_attention.cc).
  bool IsProjection(const OnnxNode* p) const;
  std::optional<std::set<size_t>> SealedRun(int x, int y) const;
  std::optional<int64_t> EmbedDimOf(const std::set<size_t>& run, const OnnxNode& out_projection,
                                    bool* bias) const;
  bool CausalMaskIn(const std::set<size_t>& run, int64_t l) const;
  // Records a run: its nodes are done, and the layer is added at the last of them.
  void Record(const std::set<size_t>& nodes, Fused fused);
  // The data value `v` through nodes of `ops` (their data operand), upwards; -1 when a node
  // on the way has several data operands.
  int Up(int v, const std::set<std::string>& ops, const OnnxNode** stop = nullptr) const;
  // The one data operand of `node` other than constants; -1 when there is not exactly one.
  int DataOperand(const OnnxNode& node) const;
  const OnnxNode& Node(size_t i) const { return m_.g_.nodes[i]; }
  size_t IndexOf(const OnnxNode* n) const { return static_cast<size_t>(n - m_.g_.nodes.data()); }

  Mapper& m_;
};

}  // namespace wattfleet::onnx_internal
