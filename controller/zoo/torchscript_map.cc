// The op rules of TorchScript import: each operator of a frozen forward graph that reads
// the input's data becomes a layer (or a few), or is listed as unsupported.
//
// Values are in three states. Data: computed from the model input, with a builder node id.
// Poisoned: computed from an unsupported operator's output; operators reading them are not
// mapped (their kinds are still listed when unknown). Otherwise: constants and shape
// arithmetic (aten::size, prim::NumToTensor, ...), consumed without a node. The model's
// tensors carry the batch at dim 0; layer shapes and dims are per sample, one lower.
#include <algorithm>
#include <cctype>

#include "pool_window.h"
#include "torchscript_mapper.h"

namespace wattfleet {
namespace ts_internal {
namespace {

const std::map<std::string, T>& Activations() {
  static const std::map<std::string, T> kMap = {
      {"aten::relu", T::kReLU},         {"aten::silu", T::kSiLU},
      {"aten::hardswish", T::kHardswish}, {"aten::hardsigmoid", T::kHardsigmoid},
      {"aten::sigmoid", T::kSigmoid},   {"aten::tanh", T::kTanh},
      {"aten::gelu", T::kGELU}};
  return kMap;
}

// Kinds the mapper knows: operators reading poisoned values are skipped silently only when
// their kind is one of these (an unknown kind is listed whatever its inputs).
const std::set<std::string>& KnownKinds() {
  static const std::set<std::string> kKinds = [] {
    std::set<std::string> k = {
        "aten::_convolution", "aten::conv1d", "aten::conv2d", "aten::conv_transpose2d",
        "aten::linear", "aten::addmm", "aten::matmul", "aten::t", "aten::batch_norm",
        "aten::layer_norm", "aten::group_norm", "aten::hardtanh", "aten::softmax",
        "aten::max_pool1d", "aten::max_pool2d", "aten::avg_pool1d", "aten::avg_pool2d",
        "aten::adaptive_avg_pool1d", "aten::adaptive_avg_pool2d", "aten::flatten",
        "aten::dropout", "aten::feature_dropout", "aten::alpha_dropout", "aten::add",
        "aten::mul", "aten::cat", "aten::embedding", "aten::chunk", "aten::split",
        "aten::split_with_sizes", "aten::unsafe_chunk", "aten::unsafe_split", "aten::mean",
        "aten::view", "aten::reshape", "aten::transpose", "aten::size", "aten::dim",
        "aten::numel", "aten::Int", "aten::contiguous", "aten::detach", "aten::clone",
        "prim::Constant", "prim::NumToTensor", "prim::ListConstruct", "prim::ListUnpack",
        "prim::TupleConstruct", "aten::permute", "aten::expand", "aten::slice", "aten::select",
        "aten::_native_multi_head_attention", "aten::_transformer_encoder_layer_fwd",
        "prim::TupleUnpack"};
    for (const auto& [kind, type] : Activations()) k.insert(kind);
    return k;
  }();
  return kKinds;
}

}  // namespace

std::string Mapper::NodeName(const TsNode& node, T type) {
  // The module path names the node when it is the first layer of that module (a Conv2d
  // module has one); later layers of a module's forward get the type appended.
  std::string base(LayerTypeName(type));
  std::transform(base.begin(), base.end(), base.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!node.scope.empty()) {
    if (names_.insert(node.scope).second) return node.scope;
    base = node.scope + "." + base;
  }
  while (true) {
    std::string candidate = base + std::to_string(++name_counts_[base]);
    if (names_.insert(candidate).second) return candidate;
  }
}

Result<TorchScriptImport> Mapper::Run() {
  for (size_t n = 0; n < g_.nodes.size(); ++n) {
    const TsNode& node = g_.nodes[n];
    if (done_[n]) continue;
    if (FuseAttentionScope(n)) continue;
    // A shape that does not propagate is the input shape's fault (or the model's), not an
    // unsupported operator: reported as the error.
    if (!b_.status().ok()) return b_.status();
    bool data = false, poisoned = false;
    for (int v : node.inputs) {
      data |= IsData(v);
      poisoned |= IsPoisoned(v);
    }
    if (node.kind == "prim::ListConstruct" || node.kind == "prim::TupleConstruct") {
      // Lists of data are read by their consumers (aten::cat); the list itself is no layer.
      if (data || poisoned) {
        for (int o : node.outputs) id_[static_cast<size_t>(o)] = poisoned ? kPoisoned : kNotData;
        if (!poisoned) data_lists_.insert(node.outputs[0]);
      }
      continue;
    }
    for (int v : node.inputs) data |= data_lists_.count(v) > 0;
    if (!data && !poisoned) continue;  // constants and shape arithmetic
    if (poisoned) {
      // Downstream of an unmapped operator: list unknown kinds too, map nothing.
      if (KnownKinds().count(BaseKind(node.kind)) == 0) Note(node.kind);
      for (int o : node.outputs) id_[static_cast<size_t>(o)] = kPoisoned;
      continue;
    }
    if (Outcome refused = MapNode(node)) {
      if (refused->expected_rank > 0 && g_.input >= 0 &&
          std::find(node.inputs.begin(), node.inputs.end(), g_.input) != node.inputs.end()) {
        return Status::InvalidArgument(
            "the input shape has rank " + std::to_string(input_rank_) + " (batch included), " +
            "but the model's first layer (" + node.kind + ") expects rank " +
            std::to_string(refused->expected_rank) + "; give --input-shape with " +
            std::to_string(refused->expected_rank) + " dimensions, batch first");
      }
      Note(node.kind + (refused->reason.empty() ? "" : " (" + refused->reason + ")"));
      for (int o : node.outputs) id_[static_cast<size_t>(o)] = kPoisoned;
    }
  }
  // The output: one data tensor, the last layer added (tracing records ops in run order).
  std::vector<int> outs;
  for (int v : g_.outputs) {
    const TsNode* p = Producer(v);
    if (p && p->kind == "prim::TupleConstruct") {
      outs.insert(outs.end(), p->inputs.begin(), p->inputs.end());
    } else {
      outs.push_back(v);
    }
  }
  if (outs.size() != 1) Note("prim::TupleConstruct (several outputs)");
  if (!b_.status().ok()) return b_.status();
  TorchScriptImport result;
  result.unsupported = unsupported_;
  if (!unsupported_.empty()) {  // what was mapped, for a caller that shows it
    result.architecture = std::move(b_).Partial();
    return result;
  }
  if (IsData(outs[0]) && id_[static_cast<size_t>(outs[0])] != b_.last()) {
    return Status::InvalidArgument("the model's output is not its last layer");
  }
  WF_ASSIGN_OR_RETURN(result.architecture, std::move(b_).Finish());
  return result;
}

Outcome Mapper::MapNode(const TsNode& node) {
  const std::string kind = BaseKind(node.kind);
  // The rules read arguments by position: an overload with fewer is not the one they know.
  static const std::map<std::string, size_t> kMinInputs = {
      {"aten::_convolution", 9}, {"aten::conv1d", 7}, {"aten::conv2d", 7},
      {"aten::conv_transpose2d", 8}, {"aten::linear", 3}, {"aten::addmm", 3},
      {"aten::matmul", 2}, {"aten::batch_norm", 2}, {"aten::layer_norm", 3},
      {"aten::group_norm", 3}, {"aten::hardtanh", 3}, {"aten::softmax", 2},
      {"aten::max_pool1d", 6}, {"aten::max_pool2d", 6}, {"aten::avg_pool1d", 5},
      {"aten::avg_pool2d", 5}, {"aten::adaptive_avg_pool1d", 2},
      {"aten::adaptive_avg_pool2d", 2}, {"aten::flatten", 3}, {"aten::dropout", 3},
      {"aten::feature_dropout", 3}, {"aten::alpha_dropout", 3}, {"aten::embedding", 2},
      {"aten::add", 2}, {"aten::mul", 2}, {"aten::cat", 2}, {"aten::chunk", 3},
      {"aten::unsafe_chunk", 3}, {"aten::split", 3}, {"aten::unsafe_split", 3},
      {"aten::split_with_sizes", 3}, {"aten::mean", 3}, {"aten::view", 2},
      {"aten::reshape", 2}, {"aten::slice", 5}, {"aten::select", 3}};
  if (auto it = kMinInputs.find(kind); it != kMinInputs.end() && node.inputs.size() < it->second) {
    return Refuse("overload with " + std::to_string(node.inputs.size()) + " arguments");
  }
  const int x = node.inputs.empty() ? -1 : node.inputs[0];
  const int out = node.outputs.empty() ? -1 : node.outputs[0];
  auto unary = [&](T type, Params params) -> Outcome {
    if (x < 0 || !IsData(x)) return Refuse("its first operand is not a tensor of the model");
    Emit(node, out, type, std::move(params), {x});
    return std::nullopt;
  };
  if (auto it = Activations().find(kind); it != Activations().end()) return unary(it->second, {});
  if (kind == "aten::size" || kind == "aten::dim" || kind == "aten::numel") {
    return std::nullopt;  // shape arithmetic: the outputs stay non-data
  }
  if (kind == "aten::contiguous" || kind == "aten::detach" || kind == "aten::clone") {
    if (!IsData(x)) return Refuse("");
    id_[static_cast<size_t>(out)] = id_[static_cast<size_t>(x)];
    return std::nullopt;
  }
  if (kind == "aten::hardtanh") {
    if (Number(node.inputs[1]) != 0.0 || Number(node.inputs[2]) != 6.0) {
      return Refuse("bounds other than 0 and 6");
    }
    return unary(T::kReLU6, {});
  }
  if (kind == "aten::softmax") {
    auto dim = Int(node.inputs[1]);
    auto sample = dim ? SampleDim(*dim) : std::nullopt;
    if (!sample) return Refuse("over the batch dimension");
    return unary(T::kSoftmax, {{"dim", static_cast<double>(*sample)}});
  }
  if (kind == "aten::flatten") {
    const auto start = Int(node.inputs[1]), end = Int(node.inputs[2]);
    const auto rank = static_cast<int64_t>(ShapeOf(x).size()) + 1;
    if (start == 2) return MapFlattenTokens(node);
    if (start != 1 || (end != -1 && end != rank - 1)) return Refuse("start_dim other than 1");
    return unary(T::kFlatten, {});
  }
  if (kind == "aten::dropout" || kind == "aten::feature_dropout" ||
      kind == "aten::alpha_dropout") {
    auto p = Number(node.inputs[1]);
    if (!p) return Refuse("non-constant p");
    if (*p == 0 && IsData(x)) {  // dropout(p=0) passes its input on, training or not
      id_[static_cast<size_t>(out)] = id_[static_cast<size_t>(x)];
      return std::nullopt;
    }
    return unary(T::kDropout, {{"p", *p}});
  }
  if (kind == "aten::embedding") {
    auto w = ConstShape(node.inputs[0]);
    const int idx = node.inputs[1];
    if (!w || w->size() != 2 || !IsData(idx)) return Refuse("weight is not a constant matrix");
    Emit(node, out, T::kEmbedding,
         {{"num_embeddings", static_cast<double>((*w)[0])},
          {"embedding_dim", static_cast<double>((*w)[1])}},
         {idx});
    return std::nullopt;
  }
  if (kind == "aten::_convolution" || kind == "aten::conv1d" || kind == "aten::conv2d" ||
      kind == "aten::conv_transpose2d") {
    return MapConv(node);
  }
  if (kind == "aten::linear" || kind == "aten::addmm" || kind == "aten::matmul") {
    return MapLinear(node);
  }
  if (kind == "aten::batch_norm" || kind == "aten::layer_norm" || kind == "aten::group_norm") {
    return MapNorm(node);
  }
  if (kind.find("pool") != std::string::npos) return MapPool(node);
  if (kind == "aten::add" || kind == "aten::mul") return MapBinary(node);
  if (kind == "aten::cat") return MapCat(node);
  if (kind == "aten::chunk" || kind == "aten::unsafe_chunk" || kind == "aten::split" ||
      kind == "aten::unsafe_split" || kind == "aten::split_with_sizes") {
    return MapSplit(node);
  }
  if (kind == "aten::mean") return MapMean(node);
  if (kind == "aten::view" || kind == "aten::reshape") return MapView(node);
  if (kind == "aten::slice") return MapSlice(node);
  if (kind == "aten::select") return MapSelect(node);
  if (kind == "aten::_native_multi_head_attention") return MapNativeAttention(node);
  if (kind == "aten::_transformer_encoder_layer_fwd") return MapEncoderLayer(node);
  return Refuse("");
}

Outcome Mapper::MapConv(const TsNode& node) {
  const auto& in = node.inputs;
  const int x = in[0];
  const bool generic = node.kind == "aten::_convolution";
  const bool transposed = generic ? Int(in[6]).value_or(0) != 0
                                  : node.kind == "aten::conv_transpose2d";
  auto w = ConstShape(in[1]);
  if (!IsData(x) || !w) return Refuse("the weight is not a constant");
  if (Val(in[4]).kind == TsValue::Kind::kString) return Refuse("string padding");
  // Argument positions: _convolution(x, w, b, stride, padding, dilation, transposed,
  // output_padding, groups, ...), convNd(x, w, b, stride, padding, dilation, groups),
  // conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation).
  const int dilation_at = generic ? 5 : transposed ? 7 : 5;
  const int groups_at = generic ? 8 : transposed ? 6 : 6;
  const auto stride = Square(in[3]), padding = Square(in[4]), dilation = Square(in[dilation_at]);
  const auto groups = Int(in[groups_at]);
  std::optional<int64_t> output_padding = 0;
  if (transposed) output_padding = Square(in[generic ? 7 : 5]);
  const Shape s = ShapeOf(x);
  if (w->size() != s.size() + 1 || w->size() < 3) {
    return Refusal{"weight rank does not fit", static_cast<int>(w->size())};
  }
  const std::vector<int64_t> kernel(w->begin() + 2, w->end());
  const bool square = std::all_of(kernel.begin(), kernel.end(),
                                  [&](int64_t k) { return k == kernel[0]; });
  if (!stride || !padding || !dilation || !groups || !output_padding || !square) {
    return Refuse("non-square or non-constant arguments");
  }
  T type;
  if (s.size() == 3) {
    type = transposed ? T::kConvTranspose2d : T::kConv2d;
  } else if (s.size() == 2 && !transposed) {
    type = T::kConv1d;
  } else {
    return Refuse("no layer for this rank");
  }
  // in_channels from the weight, so that an input shape with other channels fails in the
  // builder instead of being taken as the model's.
  const int64_t in_channels = transposed ? (*w)[0] : (*w)[1] * *groups;
  Params p = {{"in_channels", static_cast<double>(in_channels)},
              {"out_channels", static_cast<double>(transposed ? (*w)[1] * *groups : (*w)[0])},
              {"kernel_size", static_cast<double>(kernel[0])},
              {"stride", static_cast<double>(*stride)},
              {"padding", static_cast<double>(*padding)},
              {"dilation", static_cast<double>(*dilation)},
              {"groups", static_cast<double>(*groups)},
              {"bias", IsNone(in[2]) ? 0.0 : 1.0}};
  if (transposed) p["output_padding"] = static_cast<double>(*output_padding);
  Emit(node, node.outputs[0], type, std::move(p), {x});
  return std::nullopt;
}

Outcome Mapper::MapLinear(const TsNode& node) {
  const auto& in = node.inputs;
  const int out = node.outputs[0];
  int x = in[0];
  std::optional<Shape> w;  // [out_features, in_features]
  bool bias = false;
  int folded_add = -1;  // the output of an add folded in as the bias
  if (node.kind == "aten::linear") {
    w = ConstShape(in[1]);
    bias = !IsNone(in[2]);
  } else if (node.kind == "aten::addmm") {  // addmm(bias, x, t(weight))
    x = in[1];
    w = ConstShape(in[2]);
    if (w) std::reverse(w->begin(), w->end());
    bias = !IsData(in[0]) && !IsNone(in[0]);
  } else {  // matmul(x, weight [in, out]), its bias added by the sole reader if any
    w = ConstShape(in[1]);
    if (w) std::reverse(w->begin(), w->end());
    int reader = -1;
    const TsNode* add = SoleUser(out, &reader);
    if (w && w->size() == 2 && add && BaseKind(add->kind) == "aten::add" &&
        add->inputs[0] == out && ConstShape(add->inputs[1]) == Shape{(*w)[0]} &&
        (add->inputs.size() < 3 || Number(add->inputs[2]) == 1.0)) {
      bias = true;
      done_[static_cast<size_t>(reader)] = true;
      folded_add = add->outputs[0];
    }
  }
  if (!IsData(x) || !w || w->size() != 2) return Refuse("the weight is not a constant matrix");
  Params p = {{"in_features", static_cast<double>((*w)[1])},
              {"out_features", static_cast<double>((*w)[0])},
              {"bias", bias ? 1.0 : 0.0}};
  Emit(node, out, T::kLinear, std::move(p), {x});
  if (folded_add >= 0) id_[static_cast<size_t>(folded_add)] = id_[static_cast<size_t>(out)];
  return std::nullopt;
}

Outcome Mapper::MapNorm(const TsNode& node) {
  const auto& in = node.inputs;
  const int x = in[0];
  if (!IsData(x)) return Refuse("its first operand is not a tensor of the model");
  const Shape s = ShapeOf(x);
  const bool affine = !IsNone(in[node.kind == "aten::batch_norm" ? 1 : 2]);
  if (node.kind == "aten::batch_norm") {
    // The layer model's BatchNorm always has its affine parameters.
    if (!affine) return Refuse("affine=False");
    if (s.size() > 3) return Refuse("no layer for this rank");
    Emit(node, node.outputs[0], s.size() == 3 ? T::kBatchNorm2d : T::kBatchNorm1d, {}, {x});
  } else if (node.kind == "aten::layer_norm") {
    auto normalized = Ints(in[1]);
    if (!normalized || normalized->size() != 1) return Refuse("over several dimensions");
    Emit(node, node.outputs[0], T::kLayerNorm,
         {{"normalized_shape", static_cast<double>(normalized->front())},
          {"elementwise_affine", affine ? 1.0 : 0.0}},
         {x});
  } else {
    auto groups = Int(in[1]);
    if (!groups) return Refuse("non-constant num_groups");
    Emit(node, node.outputs[0], T::kGroupNorm,
         {{"num_groups", static_cast<double>(*groups)}, {"affine", affine ? 1.0 : 0.0}}, {x});
  }
  return std::nullopt;
}

Outcome Mapper::MapPool(const TsNode& node) {
  const std::string kind = BaseKind(node.kind);
  const auto& in = node.inputs;
  const int x = in[0];
  if (!IsData(x)) return Refuse("its first operand is not a tensor of the model");
  const Shape s = ShapeOf(x);
  const bool two_d = kind.back() == 'd' && kind[kind.size() - 2] == '2';
  if (s.size() != (two_d ? 3u : 2u)) return Refuse("no layer for this rank");
  if (kind == "aten::adaptive_avg_pool1d" || kind == "aten::adaptive_avg_pool2d") {
    auto size = Square(in[1]);
    if (!size) return Refuse("non-square output_size");
    Emit(node, node.outputs[0], two_d ? T::kAdaptiveAvgPool2d : T::kAdaptiveAvgPool1d,
         {{"output_size", static_cast<double>(*size)}}, {x});
    return std::nullopt;
  }
  const bool max = kind == "aten::max_pool1d" || kind == "aten::max_pool2d";
  if (!max && kind != "aten::avg_pool1d" && kind != "aten::avg_pool2d") return Refuse("");
  // max_poolNd(x, kernel, stride, padding, dilation, ceil_mode);
  // avg_poolNd(x, kernel, stride, padding, ceil_mode, count_include_pad[, divisor_override]).
  const auto k = Square(in[1]), p = Square(in[3]);
  auto stride_list = Ints(in[2]);
  const auto stride = stride_list && stride_list->empty() ? k : Square(in[2]);
  const auto dilation = max ? Square(in[4]) : std::optional<int64_t>(1);
  const auto ceil = Int(in[max ? 5 : 4]);
  if (!k || !p || !stride || !ceil) return Refuse("non-square or non-constant arguments");
  if (dilation != 1) return Refuse("dilation");
  FixedPool pool = FixedPoolOf(max, s, *k, *stride, *p, *ceil != 0);
  Emit(node, node.outputs[0], pool.type, std::move(pool.params), {x});
  return std::nullopt;
}

}  // namespace ts_internal

Result<TorchScriptImport> MapTorchScriptGraph(const TsGraph& graph, const Shape& input_shape,
                                              const std::string& name) {
  return ts_internal::Mapper(graph, input_shape, name).Run();
}

}  // namespace wattfleet
