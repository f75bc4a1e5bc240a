// Op rules of TorchScript import that read several operands or span several operators:
// element-wise binaries, concatenation, splits, global means and ShuffleNet's channel shuffle.
#include <algorithm>
#include <set>

#include "torchscript_mapper.h"

namespace wattfleet::ts_internal {

Outcome Mapper::MapBinary(const TsNode& node) {
  const bool add = BaseKind(node.kind) == "aten::add";
  int a = node.inputs[0], b = node.inputs[1];
  if (add && node.inputs.size() > 2 && Number(node.inputs[2]) != 1.0) return Refuse("alpha");
  if (IsData(a) && IsData(b)) {
    // Mul broadcasts its later inputs only: the full-size operand goes first (a
    // squeeze-and-excitation block computes scale * input).
    if (!add && NumElements(ShapeOf(b)) > NumElements(ShapeOf(a))) std::swap(a, b);
    Emit(node, node.outputs[0], add ? T::kAdd : T::kMul, {}, {a, b});
    return std::nullopt;
  }
  if (!IsData(a)) std::swap(a, b);
  auto table = ConstShape(b);
  if (!table) return Refuse("scalar operand");
  // A learned table of the per-sample shape added to every sample.
  const Shape s = ShapeOf(a);
  if (table->size() == s.size() + 1 && table->front() == 1) table->erase(table->begin());
  if (add && *table == s && s.size() == 2) {
    Emit(node, node.outputs[0], T::kPositionalEmbedding, {}, {a});
    return std::nullopt;
  }
  return Refuse("constant operand");
}

Outcome Mapper::MapCat(const TsNode& node) {
  const TsNode* list = Producer(node.inputs[0]);
  const auto dim = Int(node.inputs[1]);
  if (!list || list->kind != "prim::ListConstruct" || list->inputs.empty() || !dim) {
    return Refuse("");
  }
  const auto sample = SampleDim(*dim);
  if (sample && MapClassToken(node, *list, *sample)) return std::nullopt;
  for (int item : list->inputs) {
    if (!IsData(item)) return Refuse("constant operand");
  }
  if (!sample) return Refuse("along the batch dimension");
  if (list->inputs.size() == 1) {  // DenseNet concatenates one tensor at each block's start
    id_[static_cast<size_t>(node.outputs[0])] = id_[static_cast<size_t>(list->inputs[0])];
    return std::nullopt;
  }
  Emit(node, node.outputs[0], T::kConcat, {{"dim", static_cast<double>(*sample)}},
       list->inputs);
  return std::nullopt;
}

Outcome Mapper::MapSplit(const TsNode& node) {
  const std::string kind = BaseKind(node.kind);
  const int x = node.inputs[0];
  const auto dim = Int(node.inputs[2]);
  int unpack_at = -1;
  const TsNode* unpack = SoleUser(node.outputs[0], &unpack_at);
  const Shape s = ShapeOf(x);
  const auto sample = dim ? SampleDim(*dim) : std::nullopt;
  if (!IsData(x) || !sample || !unpack || unpack->kind != "prim::ListUnpack") return Refuse("");
  const int64_t rank = static_cast<int64_t>(s.size());
  const int64_t d = *sample < 0 ? *sample + rank : *sample;
  if (d < 0 || d >= rank) return Refuse("dim out of range");
  const int64_t size = s[static_cast<size_t>(d)];
  std::vector<int64_t> lengths;
  if (auto sizes = Ints(node.inputs[1]); sizes && Val(node.inputs[1]).kind != TsValue::Kind::kInt) {
    lengths = *sizes;  // split_with_sizes
  } else if (auto n = Int(node.inputs[1]); n && *n > 0) {
    // chunk(n) cuts pieces of ceil(size / n); split(n) pieces of n.
    const int64_t piece = kind.find("chunk") != std::string::npos ? (size + *n - 1) / *n : *n;
    for (int64_t start = 0; start < size; start += piece) {
      lengths.push_back(std::min(piece, size - start));
    }
  }
  if (lengths.size() != unpack->outputs.size()) return Refuse("piece count");
  done_[static_cast<size_t>(unpack_at)] = true;
  int64_t start = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    Emit(node, unpack->outputs[i], T::kNarrow,
         {{"dim", static_cast<double>(d)},
          {"start", static_cast<double>(start)},
          {"length", static_cast<double>(lengths[i])}},
         {x});
    start += lengths[i];
  }
  return std::nullopt;
}

Outcome Mapper::MapMean(const TsNode& node) {
  const int x = node.inputs[0];
  auto dims = Ints(node.inputs[1]);
  const auto keepdim = Int(node.inputs[2]);
  const Shape s = ShapeOf(x);
  const int64_t rank = static_cast<int64_t>(s.size()) + 1;  // batched
  if (!IsData(x) || !dims || !keepdim || (s.size() != 2 && s.size() != 3)) return Refuse("");
  // Only the mean over every spatial dim is a layer: global average pooling.
  std::set<int64_t> over;
  for (int64_t d : *dims) over.insert(d < 0 ? d + rank : d);
  std::set<int64_t> spatial;
  for (int64_t d = 2; d < rank; ++d) spatial.insert(d);
  if (over != spatial) return Refuse("not over the spatial dimensions");
  const T pool = s.size() == 3 ? T::kAdaptiveAvgPool2d : T::kAdaptiveAvgPool1d;
  GraphBuilder::Id id = EmitIds(node, pool, {{"output_size", 1}}, {id_[static_cast<size_t>(x)]});
  if (!*keepdim) id = EmitIds(node, T::kFlatten, {}, {id});
  id_[static_cast<size_t>(node.outputs[0])] = id;
  return std::nullopt;
}

Outcome Mapper::MapChannelShuffle(const TsNode& node) {
  // ShuffleNet's channel shuffle: view [N, g, C/g, H, W], transpose(1, 2), contiguous, view
  // [N, C, H, W]. Any other view or reshape has no layer.
  const int x = node.inputs[0];
  const TsNode* list = Producer(node.inputs[1]);
  if (!IsData(x) || ShapeOf(x).size() != 3 || !list || list->kind != "prim::ListConstruct" ||
      list->inputs.size() != 5) {
    return Refuse("");
  }
  const auto groups = Int(list->inputs[1]);
  int at = -1;
  const TsNode* next = SoleUser(node.outputs[0], &at);
  std::vector<int> consumed;
  if (!groups || !next || next->kind != "aten::transpose" || next->inputs.size() < 3 ||
      Int(next->inputs[1]) != 1 ||
      Int(next->inputs[2]) != 2) {
    return Refuse("");
  }
  consumed.push_back(at);
  next = SoleUser(next->outputs[0], &at);
  if (next && next->kind == "aten::contiguous") {
    consumed.push_back(at);
    next = SoleUser(next->outputs[0], &at);
  }
  const TsNode* back = next && next->inputs.size() > 1 ? Producer(next->inputs[1]) : nullptr;
  if (!next || (next->kind != "aten::view" && next->kind != "aten::reshape") || !back ||
      back->kind != "prim::ListConstruct" || back->inputs.size() != 4) {
    return Refuse("");
  }
  consumed.push_back(at);
  for (int n : consumed) done_[static_cast<size_t>(n)] = true;
  Emit(node, next->outputs[0], T::kChannelShuffle, {{"groups", static_cast<double>(*groups)}},
       {x});
  return std::nullopt;
}

}  // namespace wattfleet::ts_internal
