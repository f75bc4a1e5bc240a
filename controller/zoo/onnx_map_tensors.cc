// Op rules of ONNX import that move or combine tensors rather than compute on them: element-wise
// binaries, concatenation (and the class token), gathers (embeddings, a selected token),
// slices and splits, reshapes (flatten, the patch grid as tokens) and spatial means.
#include <algorithm>
#include <limits>

#include "onnx_mapper.h"

namespace wattfleet::onnx_internal {
namespace {

double D(int64_t v) { return static_cast<double>(v); }

// A per-sample dim from a batched axis of a tensor of per-sample rank `rank`; nullopt for the
// batch axis or one out of range.
std::optional<int64_t> SampleAxis(int64_t axis, size_t rank) {
  const int64_t batched = static_cast<int64_t>(rank) + 1;
  if (axis < 0) axis += batched;
  if (axis <= 0 || axis >= batched) return std::nullopt;
  return axis - 1;
}

}  // namespace

Outcome Mapper::MapBinary(const OnnxNode& node) {
  const bool add = node.op == "Add";
  if (node.inputs.size() != 2) return "arity";
  int a = node.inputs[0], b = node.inputs[1];
  if (IsData(a) && IsData(b)) {
    // Mul broadcasts its later inputs only: the full-size operand goes first (a
    // squeeze-and-excitation block computes scale * input).
    if (!add && NumElements(ShapeOf(b)) > NumElements(ShapeOf(a))) std::swap(a, b);
    Emit(node, node.outputs[0], add ? T::kAdd : T::kMul, {}, {a, b});
    return std::nullopt;
  }
  if (!IsData(a)) std::swap(a, b);
  if (!IsConst(b)) return "operand computed apart from the model's data";
  // A learned table of the per-sample shape added to every sample.
  Shape table = Val(b).shape;
  const Shape s = ShapeOf(a);
  if (table.size() == s.size() + 1 && table.front() == 1) table.erase(table.begin());
  if (add && table == s && s.size() == 2) {
    Emit(node, node.outputs[0], T::kPositionalEmbedding, {}, {a});
    return std::nullopt;
  }
  return "constant operand";
}

Outcome Mapper::MapConcat(const OnnxNode& node) {
  const auto axis = Attr(node, "axis");
  if (!axis) return "no axis";
  // The class token: concat([token.expand(N, -1, -1), x], 1) of a learned [1, 1, C] token.
  if (node.inputs.size() == 2 && !Flows(node.inputs[0]) && IsData(node.inputs[1])) {
    const Shape s = ShapeOf(node.inputs[1]);
    const OnnxNode* expand = Producer(node.inputs[0]);
    if (expand && expand->op == "Expand" && IsConst(expand->inputs[0]) && s.size() == 2 &&
        Val(expand->inputs[0]).shape == Shape{1, 1, s[1]} && SampleAxis(*axis, 2) == 0) {
      Emit(node, node.outputs[0], T::kClassToken, {}, {node.inputs[1]});
      return std::nullopt;
    }
  }
  for (int v : node.inputs) {
    if (!IsData(v)) return "constant operand";
  }
  const auto dim = SampleAxis(*axis, ShapeOf(node.inputs[0]).size());
  if (!dim) return "along the batch dimension";
  if (node.inputs.size() == 1) {
    id_[static_cast<size_t>(node.outputs[0])] = id_[static_cast<size_t>(node.inputs[0])];
    return std::nullopt;
  }
  Emit(node, node.outputs[0], T::kConcat, {{"dim", D(*dim)}}, node.inputs);
  return std::nullopt;
}

Outcome Mapper::MapGather(const OnnxNode& node) {
  const int table = node.inputs[0], index = node.inputs[1];
  const int64_t axis = Attr(node, "axis").value_or(0);
  // An embedding: rows of a constant [V, E] table picked by the model's token ids.
  if (IsConst(table) && IsData(index) && axis == 0 && Val(table).shape.size() == 2) {
    const Shape w = Val(table).shape;
    Emit(node, node.outputs[0], T::kEmbedding,
         {{"num_embeddings", D(w[0])}, {"embedding_dim", D(w[1])}}, {index});
    return std::nullopt;
  }
  // x[:, i] of a token sequence [N, L, C]: one token (ViT's class token, BERT's [CLS]).
  auto i = Scalar(index);
  if (IsData(table) && i && Val(index).shape.empty()) {
    const Shape s = ShapeOf(table);
    if (s.size() == 2 && SampleAxis(axis, 2) == 0) {
      int64_t at = static_cast<int64_t>(*i);
      if (at < 0) at += s[0];
      Emit(node, node.outputs[0], T::kSelectToken, {{"index", D(at)}}, {table});
      return std::nullopt;
    }
  }
  return "no layer for this gather";
}

Outcome Mapper::MapSlice(const OnnxNode& node) {
  // Slice(x, starts, ends[, axes, steps]) with constant bounds along one axis: a Narrow, or
  // nothing when it keeps the whole axis.
  const int x = node.inputs[0];
  if (!IsData(x) || node.inputs.size() < 3) return "bounds given as attributes";
  auto list = [&](size_t at) -> std::optional<std::vector<double>> {
    if (node.inputs.size() <= at || node.inputs[at] < 0) return std::vector<double>{};
    if (!IsConst(node.inputs[at])) return std::nullopt;
    return Val(node.inputs[at]).numbers;
  };
  const auto starts = list(1), ends = list(2), axes = list(3), steps = list(4);
  if (!starts || !ends || !axes || !steps || starts->size() != 1 || ends->size() != 1) {
    return "non-constant or several bounds";
  }
  if (!steps->empty() && (*steps)[0] != 1) return "a step other than 1";
  const Shape s = ShapeOf(x);
  const auto dim = SampleAxis(axes->empty() ? 0 : static_cast<int64_t>((*axes)[0]), s.size());
  if (!dim) return "along the batch dimension";
  const int64_t size = s[static_cast<size_t>(*dim)];
  auto clamp = [&](double v) {
    if (v >= static_cast<double>(std::numeric_limits<int64_t>::max() / 2)) return size;
    int64_t at = static_cast<int64_t>(v);
    if (at < 0) at += size;
    return std::clamp<int64_t>(at, 0, size);
  };
  const int64_t start = clamp((*starts)[0]), end = clamp((*ends)[0]);
  if (end <= start) return "empty slice";
  if (start == 0 && end == size) {
    id_[static_cast<size_t>(node.outputs[0])] = id_[static_cast<size_t>(x)];
    return std::nullopt;
  }
  Emit(node, node.outputs[0], T::kNarrow,
       {{"dim", D(*dim)}, {"start", D(start)}, {"length", D(end - start)}}, {x});
  return std::nullopt;
}

Outcome Mapper::MapSplit(const OnnxNode& node) {
  const int x = node.inputs[0];
  if (!IsData(x)) return "its first operand is not a tensor of the model";
  const Shape s = ShapeOf(x);
  const auto dim = SampleAxis(Attr(node, "axis").value_or(0), s.size());
  if (!dim) return "along the batch dimension";
  const int64_t size = s[static_cast<size_t>(*dim)];
  std::vector<int64_t> lengths = Attrs(node, "split");  // before opset 13
  if (node.inputs.size() > 1 && node.inputs[1] >= 0) {
    if (!IsConst(node.inputs[1])) return "non-constant sizes";
    lengths.clear();
    for (double v : Val(node.inputs[1]).numbers) lengths.push_back(static_cast<int64_t>(v));
  }
  const int64_t pieces = static_cast<int64_t>(node.outputs.size());
  if (lengths.empty()) {
    if (pieces < 1 || size % pieces != 0) return "uneven pieces";
    lengths.assign(static_cast<size_t>(pieces), size / pieces);
  }
  if (static_cast<int64_t>(lengths.size()) != pieces) return "piece count";
  int64_t start = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    Emit(node, node.outputs[i], T::kNarrow,
         {{"dim", D(*dim)}, {"start", D(start)}, {"length", D(lengths[i])}}, {x});
    start += lengths[i];
  }
  return std::nullopt;
}

Outcome Mapper::MapReshape(const OnnxNode& node) {
  const int x = node.inputs[0], out = node.outputs[0];
  if (!IsData(x)) return "its first operand is not a tensor of the model";
  const Shape s = ShapeOf(x);
  const OnnxValue& result = Val(out);
  if (!result.ranked || result.shape.empty()) return "a shape inference could not tell";
  const Shape per_sample(result.shape.begin() + 1, result.shape.end());
  const bool known = std::all_of(per_sample.begin(), per_sample.end(),
                                 [](int64_t d) { return d > 0; });
  if (per_sample == s) {  // no change
    id_[static_cast<size_t>(out)] = id_[static_cast<size_t>(x)];
    return std::nullopt;
  }
  if (per_sample.size() == 1 && (per_sample[0] == NumElements(s) || !known)) {
    Emit(node, out, T::kFlatten, {}, {x});
    return std::nullopt;
  }
  // The patch grid as a token sequence: [N, C, H, W] to [N, C, H*W], then [N, H*W, C].
  int at = -1;
  const OnnxNode* t = SoleUser(out, &at);
  if (s.size() == 3 && per_sample == Shape{s[0], s[1] * s[2]} && t && t->op == "Transpose" &&
      Attrs(*t, "perm") == std::vector<int64_t>{0, 2, 1}) {
    done_[static_cast<size_t>(at)] = true;
    Emit(node, t->outputs[0], T::kTokens, {}, {x});
    return std::nullopt;
  }
  return "no layer for this reshape";
}

Outcome Mapper::MapReduceMean(const OnnxNode& node) {
  // Only the mean over every spatial dim is a layer: global average pooling.
  const int x = node.inputs[0];
  if (!IsData(x)) return "its first operand is not a tensor of the model";
  const Shape s = ShapeOf(x);
  std::vector<int64_t> axes = Attrs(node, "axes");
  if (node.inputs.size() > 1 && node.inputs[1] >= 0) {  // opset 18
    if (!IsConst(node.inputs[1])) return "non-constant axes";
    for (double v : Val(node.inputs[1]).numbers) axes.push_back(static_cast<int64_t>(v));
  }
  const int64_t rank = static_cast<int64_t>(s.size()) + 1;
  std::set<int64_t> over, spatial;
  for (int64_t a : axes) over.insert(a < 0 ? a + rank : a);
  for (int64_t d = 2; d < rank; ++d) spatial.insert(d);
  if ((s.size() != 2 && s.size() != 3) || over != spatial) return "not over the spatial dimensions";
  const T pool = s.size() == 3 ? T::kAdaptiveAvgPool2d : T::kAdaptiveAvgPool1d;
  const bool keep = Attr(node, "keepdims").value_or(1) != 0;
  if (keep) {
    Emit(node, node.outputs[0], pool, {{"output_size", 1}}, {x});
    return std::nullopt;
  }
  // The pool keeps its 1x1 dims; the mean drops them.
  const int pooled = b_.Add(pool, {{"output_size", 1}}, {id_[static_cast<size_t>(x)]},
                            NodeName(node, pool));
  id_[static_cast<size_t>(node.outputs[0])] =
      b_.Add(T::kFlatten, {}, {pooled}, NodeName(node, T::kFlatten));
  return std::nullopt;
}

}  // namespace wattfleet::onnx_internal
