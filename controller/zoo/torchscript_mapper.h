// The mapper of TorchScript import (torchscript_map.cc, torchscript_map_patterns.cc); private
// to those files. See torchscript_map.cc for the value states.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mapper_states.h"
#include "torchscript_graph.h"

namespace wattfleet::ts_internal {

using mapper::kNotData;
using mapper::kPoisoned;
using mapper::Params;
using mapper::T;

// An operator use that has no layer: the reason is appended to the kind in `unsupported`.
struct Refusal {
  std::string reason;
  // The rank (batch included) the operator needs of its data input, where the refusal is a
  // rank that does not fit; 0 otherwise. On the model's own input it is the input shape's
  // fault, and an error.
  int expected_rank = 0;
};
using Outcome = std::optional<Refusal>;  // nullopt: mapped

inline Refusal Refuse(std::string reason) { return Refusal{std::move(reason)}; }

inline std::string BaseKind(const std::string& kind) {
  // In-place variants map like the out-of-place ones ("aten::relu_" -> "aten::relu").
  if (kind.size() > 1 && kind.back() == '_' && kind[kind.size() - 2] != '_') {
    return kind.substr(0, kind.size() - 1);
  }
  return kind;
}

class Mapper {
 public:
  Mapper(const TsGraph& g, const Shape& input_shape, const std::string& name)
      : g_(g), b_(name, "torchscript", input_shape), input_rank_(static_cast<int>(input_shape.size()) + 1),
        id_(g.values.size(), kNotData),
        users_(g.values.size()), done_(g.nodes.size(), false) {
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      for (int v : g.nodes[n].inputs) users_[static_cast<size_t>(v)].push_back(static_cast<int>(n));
    }
    if (g.input >= 0) id_[static_cast<size_t>(g.input)] = GraphBuilder::kInput;
  }

  Result<TorchScriptImport> Run();

 private:
  bool IsData(int v) const { return id_[static_cast<size_t>(v)] >= GraphBuilder::kInput; }
  bool IsPoisoned(int v) const { return id_[static_cast<size_t>(v)] == kPoisoned; }
  const TsValue& Val(int v) const { return g_.values[static_cast<size_t>(v)]; }
  const TsNode* Producer(int v) const {
    const int p = Val(v).producer;
    return p < 0 ? nullptr : &g_.nodes[static_cast<size_t>(p)];
  }
  Shape ShapeOf(int v) const { return b_.ShapeOf(id_[static_cast<size_t>(v)]); }
  // The single node reading `v`, or nullptr.
  const TsNode* SoleUser(int v, int* index = nullptr) const {
    const auto& u = users_[static_cast<size_t>(v)];
    if (u.size() != 1) return nullptr;
    if (index) *index = u[0];
    return &g_.nodes[static_cast<size_t>(u[0])];
  }

  std::optional<int64_t> Int(int v) const {
    const TsValue& x = Val(v);
    if (x.kind == TsValue::Kind::kInt || x.kind == TsValue::Kind::kBool) return x.ints[0];
    return std::nullopt;
  }
  std::optional<double> Number(int v) const {
    if (Val(v).kind == TsValue::Kind::kDouble) return Val(v).number;
    return Int(v);
  }
  bool IsNone(int v) const { return Val(v).kind == TsValue::Kind::kNone; }
  // A constant int list, also when built by prim::ListConstruct of constants.
  std::optional<std::vector<int64_t>> Ints(int v) const {
    if (Val(v).kind == TsValue::Kind::kIntList) return Val(v).ints;
    const TsNode* p = Producer(v);
    if (!p || p->kind != "prim::ListConstruct") return std::nullopt;
    std::vector<int64_t> out;
    for (int item : p->inputs) {
      auto i = Int(item);
      if (!i) return std::nullopt;
      out.push_back(*i);
    }
    return out;
  }
  // One value for all spatial dims: lists must repeat it.
  std::optional<int64_t> Square(int v) const {
    auto list = Ints(v);
    if (!list) return Int(v);
    if (list->empty()) return std::nullopt;
    for (int64_t x : *list) {
      if (x != list->front()) return std::nullopt;
    }
    return list->front();
  }
  // The shape of a constant tensor, or of aten::t of one.
  std::optional<Shape> ConstShape(int v) const {
    if (Val(v).kind == TsValue::Kind::kTensor) return Val(v).tensor_shape;
    const TsNode* p = Producer(v);
    if (p && p->kind == "aten::t") {
      auto s = ConstShape(p->inputs[0]);
      if (s) std::reverse(s->begin(), s->end());
      return s;
    }
    return std::nullopt;
  }
  // A dim of the batched tensor as a per-sample dim (negative dims stay negative).
  std::optional<int64_t> SampleDim(int64_t batched) const {
    if (batched == 0) return std::nullopt;
    return batched > 0 ? batched - 1 : batched;
  }

  // Adds a node named after the operator's module; `out` receives the new id.
  void Emit(const TsNode& node, int out, T type, Params params, std::vector<int> inputs) {
    std::vector<GraphBuilder::Id> ids;
    for (int v : inputs) ids.push_back(id_[static_cast<size_t>(v)]);
    id_[static_cast<size_t>(out)] = EmitIds(node, type, std::move(params), std::move(ids));
  }
  GraphBuilder::Id EmitIds(const TsNode& node, T type, Params params,
                           std::vector<GraphBuilder::Id> ids) {
    return b_.Add(type, std::move(params), std::move(ids), NodeName(node, type));
  }
  std::string NodeName(const TsNode& node, T type);

  Outcome MapNode(const TsNode& node);
  Outcome MapConv(const TsNode& node);
  Outcome MapLinear(const TsNode& node);
  Outcome MapNorm(const TsNode& node);
  Outcome MapPool(const TsNode& node);
  Outcome MapBinary(const TsNode& node);
  Outcome MapCat(const TsNode& node);
  Outcome MapSplit(const TsNode& node);
  Outcome MapMean(const TsNode& node);
  Outcome MapChannelShuffle(const TsNode& node);
  // torchscript_map_transformer.cc
  Outcome MapView(const TsNode& node);
  Outcome MapFlattenTokens(const TsNode& node);
  bool MapClassToken(const TsNode& node, const TsNode& list, int64_t dim);
  Outcome MapSlice(const TsNode& node);
  Outcome MapSelect(const TsNode& node);
  Outcome MapNativeAttention(const TsNode& node);
  Outcome MapEncoderLayer(const TsNode& node);
  // At the first node of a module's scope: its whole run as one attention layer, when it is
  // one (the nodes are then done).
  bool FuseAttentionScope(size_t first);
  void Note(const std::string& entry) {
    if (seen_.insert(entry).second) unsupported_.push_back(entry);
  }

  const TsGraph& g_;
  GraphBuilder b_;
  int input_rank_;  // of the model's input, batch included
  std::vector<int> id_;                 // per value: builder id, kNotData or kPoisoned
  std::vector<std::vector<int>> users_;  // per value: reading nodes
  std::vector<bool> done_;              // nodes consumed by a pattern of an earlier node
  std::set<std::string> names_;
  std::map<std::string, int> name_counts_;
  std::vector<std::string> unsupported_;
  std::set<std::string> seen_;
  std::set<int> data_lists_;  // list values holding data tensors
};

}  // namespace wattfleet::ts_internal
