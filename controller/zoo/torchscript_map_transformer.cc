// Op rules of TorchScript import for Transformers: the patch grid as tokens, the class token,
// token selection, slices, the fused attention and encoder operators of PyTorch's fast paths,
// and the attention of an nn.MultiheadAttention-like module traced operator by operator
// (fused into one MultiheadAttention layer, whose MACs and parameters the layer model knows).
#include <algorithm>
#include <limits>

#include "torchscript_mapper.h"

namespace wattfleet::ts_internal {
namespace {

bool IsLinearKind(const std::string& kind) {
  return kind == "aten::linear" || kind == "aten::addmm" || kind == "aten::matmul";
}

// The scope `inner` is `outer` or one of its submodules.
bool InScope(const std::string& inner, const std::string& outer) {
  return inner == outer ||
         (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
          inner[outer.size()] == '.');
}

}  // namespace

Outcome Mapper::MapView(const TsNode& node) {
  if (!MapChannelShuffle(node)) return std::nullopt;
  // The patch grid as a token sequence (torchvision's ViT): reshape [N, C, H, W] to
  // [N, C, H*W], then permute to [N, H*W, C]. The last size is shape arithmetic, not a
  // constant; with C kept, H*W is the only size the element count allows.
  const int x = node.inputs[0];
  const TsNode* list = Producer(node.inputs[1]);
  if (!IsData(x) || ShapeOf(x).size() != 3 || !list || list->kind != "prim::ListConstruct" ||
      list->inputs.size() != 3 || Int(list->inputs[1]) != ShapeOf(x)[0]) {
    return Refuse("no layer for this reshape");
  }
  int at = -1;
  const TsNode* permute = SoleUser(node.outputs[0], &at);
  if (!permute || BaseKind(permute->kind) != "aten::permute" ||
      Ints(permute->inputs[1]) != std::vector<int64_t>{0, 2, 1}) {
    return Refuse("no layer for this reshape");
  }
  done_[static_cast<size_t>(at)] = true;
  Emit(node, permute->outputs[0], T::kTokens, {}, {x});
  return std::nullopt;
}

Outcome Mapper::MapFlattenTokens(const TsNode& node) {
  // flatten(2) then transpose(1, 2): the patch grid as tokens, as timm and others write it.
  const int x = node.inputs[0];
  int at = -1;
  const TsNode* t = SoleUser(node.outputs[0], &at);
  if (!IsData(x) || ShapeOf(x).size() != 3 || Int(node.inputs[2]).value_or(0) != -1 || !t ||
      BaseKind(t->kind) != "aten::transpose" || t->inputs.size() < 3) {
    return Refuse("start_dim other than 1");
  }
  const auto a = Int(t->inputs[1]), b = Int(t->inputs[2]);
  if (!a || !b || std::min(*a, *b) != 1 || (std::max(*a, *b) != 2 && std::min(*a, *b) != -1)) {
    return Refuse("start_dim other than 1");
  }
  done_[static_cast<size_t>(at)] = true;
  Emit(node, t->outputs[0], T::kTokens, {}, {x});
  return std::nullopt;
}

bool Mapper::MapClassToken(const TsNode& node, const TsNode& list, int64_t dim) {
  // cat([class_token.expand(N, -1, -1), x], dim=1): a learned [1, 1, C] token prepended
  // (`dim` is per sample: the sequence's, 0).
  if (list.inputs.size() != 2 || (dim != 0 && dim != -2) || IsData(list.inputs[0]) || !IsData(list.inputs[1])) {
    return false;
  }
  const TsNode* expand = Producer(list.inputs[0]);
  const Shape s = ShapeOf(list.inputs[1]);
  if (!expand || BaseKind(expand->kind) != "aten::expand" || s.size() != 2) return false;
  const auto token = ConstShape(expand->inputs[0]);
  if (!token || *token != Shape{1, 1, s[1]}) return false;
  Emit(node, node.outputs[0], T::kClassToken, {}, {list.inputs[1]});
  return true;
}

Outcome Mapper::MapSlice(const TsNode& node) {
  // slice(x, dim, start, end, step): the whole dim is no layer; a part is a Narrow.
  const int x = node.inputs[0];
  if (!IsData(x) || node.inputs.size() < 5) return Refuse("");
  const auto dim = Int(node.inputs[1]), step = Int(node.inputs[4]);
  if (step != 1) return Refuse("a step other than 1");
  // x[:, ...] slices the whole batch: no layer.
  const bool from_start = IsNone(node.inputs[2]) || Int(node.inputs[2]) == 0;
  const bool to_end = IsNone(node.inputs[3]) ||
                      Int(node.inputs[3]).value_or(0) >= std::numeric_limits<int32_t>::max();
  if (dim == 0 && from_start && to_end) {
    id_[static_cast<size_t>(node.outputs[0])] = id_[static_cast<size_t>(x)];
    return std::nullopt;
  }
  const auto sample = dim ? SampleDim(*dim) : std::nullopt;
  if (!sample) return Refuse("along the batch dimension");
  const Shape s = ShapeOf(x);
  const int64_t rank = static_cast<int64_t>(s.size());
  const int64_t d = *sample < 0 ? *sample + rank : *sample;
  if (d < 0 || d >= rank) return Refuse("dim out of range");
  const int64_t size = s[static_cast<size_t>(d)];
  auto clamp = [&](std::optional<int64_t> v, int64_t none) {
    int64_t at = v.value_or(none);
    if (at < 0) at += size;
    return std::clamp<int64_t>(at, 0, size);
  };
  const int64_t start = IsNone(node.inputs[2]) ? 0 : clamp(Int(node.inputs[2]), 0);
  const int64_t end = IsNone(node.inputs[3]) ? size : clamp(Int(node.inputs[3]), size);
  if ((!IsNone(node.inputs[2]) && !Int(node.inputs[2])) ||
      (!IsNone(node.inputs[3]) && !Int(node.inputs[3]))) {
    return Refuse("non-constant bounds");
  }
  if (end <= start) return Refuse("empty slice");
  if (start == 0 && end == size) {
    id_[static_cast<size_t>(node.outputs[0])] = id_[static_cast<size_t>(x)];
    return std::nullopt;
  }
  Emit(node, node.outputs[0], T::kNarrow,
       {{"dim", static_cast<double>(d)},
        {"start", static_cast<double>(start)},
        {"length", static_cast<double>(end - start)}},
       {x});
  return std::nullopt;
}

Outcome Mapper::MapSelect(const TsNode& node) {
  // x[:, i] of a token sequence [N, C]: one token (ViT's class token, BERT's [CLS]).
  const int x = node.inputs[0];
  const auto dim = Int(node.inputs[1]);
  auto index = Int(node.inputs[2]);
  const Shape s = ShapeOf(x);
  if (!IsData(x) || !dim || !index || s.size() != 2 || (*dim != 1 && *dim != -2)) {
    return Refuse("no layer for this selection");
  }
  if (*index < 0) *index += s[0];
  Emit(node, node.outputs[0], T::kSelectToken, {{"index", static_cast<double>(*index)}}, {x});
  return std::nullopt;
}

Outcome Mapper::MapNativeAttention(const TsNode& node) {
  // _native_multi_head_attention(q, k, v, embed_dim, num_heads, qkv_weight, qkv_bias,
  // proj_weight, proj_bias, mask, need_weights, ...): nn.MultiheadAttention's fast path.
  const auto& in = node.inputs;
  if (in.size() < 10) return Refuse("overload with " + std::to_string(in.size()) + " arguments");
  if (in[0] != in[1] || in[0] != in[2]) return Refuse("not self-attention");
  const auto e = Int(in[3]), heads = Int(in[4]);
  const auto qkv = ConstShape(in[5]);
  const Shape s = ShapeOf(in[0]);
  if (!IsData(in[0]) || !e || !heads || !qkv || s.size() != 2 || s[1] != *e ||
      *qkv != Shape{3 * *e, *e}) {
    return Refuse("shapes the attention layer does not have");
  }
  Emit(node, node.outputs[0], T::kMultiheadAttention,
       {{"embed_dim", static_cast<double>(*e)},
        {"num_heads", static_cast<double>(*heads)},
        {"bias", IsNone(in[6]) ? 0.0 : 1.0},
        {"causal", IsNone(in[9]) ? 0.0 : 1.0}},
       {in[0]});
  // The averaged attention weights are not a tensor of the model's data path.
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    id_[static_cast<size_t>(node.outputs[i])] = kPoisoned;
  }
  return std::nullopt;
}

Outcome Mapper::MapEncoderLayer(const TsNode& node) {
  // _transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias,
  // proj_weight, proj_bias, use_gelu, norm_first, eps, norm_weight_1, norm_bias_1,
  // norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask, ...):
  // nn.TransformerEncoderLayer's fast path.
  const auto& in = node.inputs;
  if (in.size() < 19) return Refuse("overload with " + std::to_string(in.size()) + " arguments");
  const auto e = Int(in[1]), heads = Int(in[2]), gelu = Int(in[7]), norm_first = Int(in[8]);
  const auto ffn = ConstShape(in[14]);
  const Shape s = ShapeOf(in[0]);
  if (!IsData(in[0]) || !e || !heads || !gelu || !norm_first || !ffn || ffn->size() != 2 ||
      s.size() != 2 || s[1] != *e || (*ffn)[1] != *e) {
    return Refuse("shapes the encoder layer does not have");
  }
  Emit(node, node.outputs[0], T::kTransformerEncoderLayer,
       {{"nhead", static_cast<double>(*heads)},
        {"dim_feedforward", static_cast<double>((*ffn)[0])},
        {"gelu", static_cast<double>(*gelu != 0)},
        {"norm_first", static_cast<double>(*norm_first != 0)},
        {"dropout", 0},
        {"causal", IsNone(in[18]) ? 0.0 : 1.0}},
       {in[0]});
  return std::nullopt;
}

bool Mapper::FuseAttentionScope(size_t first) {
  // An attention module traced operator by operator (nn.MultiheadAttention outside its fast
  // path, with a mask say): the run of nodes in its scope. It is one self-attention layer when
  // its projections are those of one (q, k, v in one [3E, E] weight or three [E, E] ones, and
  // an [E, E] output), it computes a softmax, reads one tensor of the model and hands one on.
  const std::string& scope = g_.nodes[first].scope;
  if (scope.empty()) return false;
  if (first > 0 && InScope(g_.nodes[first - 1].scope, scope)) return false;  // not its start
  size_t end = first;
  while (end < g_.nodes.size() && InScope(g_.nodes[end].scope, scope)) ++end;
  std::vector<Shape> weights;  // [out, in] of every projection
  bool softmax = false, has_bias = false, masked = false;
  std::optional<int64_t> heads_divisor;
  for (size_t n = first; n < end; ++n) {
    const TsNode& node = g_.nodes[n];
    const std::string kind = BaseKind(node.kind);
    if (kind == "aten::softmax" || kind == "aten::scaled_dot_product_attention") softmax = true;
    if (IsLinearKind(kind) && node.inputs.size() >= 2) {
      const bool addmm = kind == "aten::addmm";
      auto w = ConstShape(node.inputs[addmm ? 2 : 1]);
      if (w && w->size() == 2) {
        // linear's weight is [out, in]; matmul's and addmm's (a transposed one) are [in, out].
        if (kind != "aten::linear") std::reverse(w->begin(), w->end());
        weights.push_back(*w);
        has_bias |= kind == "aten::linear" ? !IsNone(node.inputs[2]) : addmm;
      }
    }
    // embed_dim // num_heads, the head width nn.MultiheadAttention computes.
    // (a constant int, or a scalar tensor once traced).
    if ((kind == "aten::div" || kind == "aten::floor_divide") && node.inputs.size() >= 2) {
      const TsValue& d = Val(node.inputs[1]);
      if (d.kind == TsValue::Kind::kInt) heads_divisor = d.ints[0];
      if (d.kind == TsValue::Kind::kTensor && d.scalar && d.number >= 1 &&
          d.number == static_cast<double>(static_cast<int64_t>(d.number))) {
        heads_divisor = static_cast<int64_t>(d.number);
      }
    }
    // An additive mask of the scores: a constant [L, L] tensor (or [1, L, L]). Taken for the
    // causal one: what it costs is the same whatever it masks.
    if ((kind == "aten::baddbmm" || kind == "aten::add") && !node.inputs.empty()) {
      for (int v : node.inputs) {
        auto m = ConstShape(v);
        if (!m || m->size() < 2) continue;
        const int64_t l = m->back();
        const bool leading_ones = std::all_of(m->begin(), m->end() - 2,
                                              [](int64_t d) { return d == 1; });
        if (l > 1 && (*m)[m->size() - 2] == l && leading_ones) masked = true;
      }
    }
  }
  if (!softmax || weights.empty()) return false;
  const int64_t e = weights.back()[0];
  int64_t qkv_rows = 0;
  for (size_t i = 0; i + 1 < weights.size(); ++i) {
    if (weights[i][1] != e) return false;
    qkv_rows += weights[i][0];
  }
  if (weights.back() != Shape{e, e} || qkv_rows != 3 * e) return false;
  if (!heads_divisor || *heads_divisor <= 0 || e % *heads_divisor != 0) return false;

  // One tensor in from outside the run, one out to outside it.
  std::vector<bool> inside(g_.nodes.size(), false);
  for (size_t n = first; n < end; ++n) inside[n] = true;
  std::set<int> in_data, out_values;
  for (size_t n = first; n < end; ++n) {
    for (int v : g_.nodes[n].inputs) {
      if (IsData(v) || IsPoisoned(v)) in_data.insert(v);
    }
    for (int o : g_.nodes[n].outputs) {
      bool outside = std::find(g_.outputs.begin(), g_.outputs.end(), o) != g_.outputs.end();
      for (int user : users_[static_cast<size_t>(o)]) outside |= !inside[static_cast<size_t>(user)];
      if (outside) out_values.insert(o);
    }
  }
  if (in_data.size() != 1 || out_values.size() != 1) return false;
  const int x = *in_data.begin();
  const Shape s = ShapeOf(x);
  if (!IsData(x) || s.size() != 2 || s[1] != e) return false;
  for (size_t n = first; n < end; ++n) done_[n] = true;
  Emit(g_.nodes[first], *out_values.begin(), T::kMultiheadAttention,
       {{"embed_dim", static_cast<double>(e)},
        {"num_heads", static_cast<double>(*heads_divisor)},
        {"bias", has_bias ? 1.0 : 0.0},
        {"causal", masked ? 1.0 : 0.0}},
       {x});
  return true;
}

}  // namespace wattfleet::ts_internal
