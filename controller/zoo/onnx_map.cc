// The op rules of ONNX import: each operator that reads the input's data becomes a layer (or
// a few), joins a run mapped onto one layer (onnx_fuse.cc), or is listed as unsupported. The
// model's tensors carry the batch at dim 0; layer shapes and dims are per sample, one lower.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "onnx_mapper.h"
#include "pool_window.h"

namespace wattfleet {
namespace onnx_internal {
namespace {

const std::map<std::string, T>& Activations() {
  static const std::map<std::string, T> kMap = {
      {"Relu", T::kReLU},       {"Sigmoid", T::kSigmoid}, {"Tanh", T::kTanh},
      {"HardSwish", T::kHardswish}, {"Gelu", T::kGELU}, {"com.microsoft:Gelu", T::kGELU}};
  return kMap;
}

// Operators whose output is the input's data unchanged (in inference).
bool PassesThrough(const std::string& op) {
  return op == "Identity" || op == "Dropout" || op == "Cast";
}

// Operators the rules know: one reading a poisoned value is skipped silently only when it is
// one of these (an unknown operator is listed whatever its inputs).
bool Known(const std::string& op) {
  static const std::set<std::string> kOps = {
      "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization",
      "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Transpose", "Add",
      "Mul", "Sub", "Div", "Concat", "Gather", "Slice", "Split", "ReduceMean", "Clip",
      "Softmax", "HardSigmoid", "Shape", "Size", "Identity", "Dropout", "Cast", "Erf", "Pow",
      "Sqrt", "Squeeze", "Unsqueeze", "Expand", "Where", "Equal", "ConstantOfShape"};
  return kOps.count(op) > 0 || Activations().count(op) > 0;
}

double D(int64_t v) { return static_cast<double>(v); }

// Symmetric pads [b1, b2, ..., e1, e2, ...] of one value for every spatial dim.
std::optional<int64_t> SquarePads(const std::vector<int64_t>& pads, size_t spatial) {
  if (pads.empty()) return 0;
  if (pads.size() != 2 * spatial) return std::nullopt;
  for (int64_t p : pads) {
    if (p != pads[0]) return std::nullopt;
  }
  return pads[0];
}

// One value for every spatial dim (absent: `fallback`).
std::optional<int64_t> Same(const std::vector<int64_t>& v, size_t spatial, int64_t fallback) {
  if (v.empty()) return fallback;
  if (v.size() != spatial) return std::nullopt;
  for (int64_t x : v) {
    if (x != v[0]) return std::nullopt;
  }
  return v[0];
}

// The one padding of every spatial dim of per-sample shape `s`: the `pads` attribute, or what
// auto_pad SAME_UPPER/SAME_LOWER computes (ceil(in / stride) outputs, as TensorFlow's "same")
// where that is the same on both sides; nullopt, with the reason in `why`, otherwise.
std::optional<int64_t> Padding(const OnnxNode& node, const Shape& s, int64_t k, int64_t stride,
                               int64_t dilation, std::string* why) {
  auto it = node.strings.find("auto_pad");
  const std::string mode = it == node.strings.end() ? "NOTSET" : it->second;
  const size_t spatial = s.empty() ? 0 : s.size() - 1;
  if (mode == "VALID") return 0;
  if (mode == "NOTSET") {
    auto it_pads = node.ints.find("pads");
    auto p = SquarePads(it_pads == node.ints.end() ? std::vector<int64_t>{} : it_pads->second,
                        spatial);
    if (!p) *why = "asymmetric pads";
    return p;
  }
  if (mode != "SAME_UPPER" && mode != "SAME_LOWER") {
    *why = "auto_pad " + mode;
    return std::nullopt;
  }
  std::optional<int64_t> common;
  for (size_t i = 1; i < s.size(); ++i) {
    const int64_t out = (s[i] + stride - 1) / stride;
    const int64_t total =
        std::max<int64_t>((out - 1) * stride + (k - 1) * dilation + 1 - s[i], 0);
    if (total % 2 != 0 || (common && *common != total / 2)) {
      *why = "auto_pad " + mode + " pads one side more than the other";
      return std::nullopt;
    }
    common = total / 2;
  }
  return common.value_or(0);
}

}  // namespace

Mapper::Mapper(const OnnxGraph& g, const Shape& input_shape, const std::string& name)
    : g_(g), b_(name, "onnx", input_shape), flows_(g.values.size(), false),
      id_(g.values.size(), kNotData), users_(g.values.size()), done_(g.nodes.size(), false) {
  batch_ = g.input >= 0 && !Val(g.input).shape.empty() ? Val(g.input).shape[0] : 1;
  if (g.input >= 0) {
    flows_[static_cast<size_t>(g.input)] = true;
    id_[static_cast<size_t>(g.input)] = GraphBuilder::kInput;
  }
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const OnnxNode& node = g.nodes[n];
    bool flows = false;
    for (int v : node.inputs) {
      if (v < 0) continue;
      users_[static_cast<size_t>(v)].push_back(static_cast<int>(n));
      flows |= flows_[static_cast<size_t>(v)];
    }
    // A tensor's shape is not its data: what is computed from it is shape arithmetic.
    if (node.op == "Shape" || node.op == "Size") flows = false;
    for (int o : node.outputs) flows_[static_cast<size_t>(o)] = flows;
  }
}

std::string Mapper::NodeName(const OnnxNode& node, T type) {
  // The module path, where the exporter kept one: in a weight's name ("layer1.0.conv1.weight")
  // or in the node's ("/layer1/layer1.0/conv1/Conv"). Later layers of a module get the type
  // appended; nodes without either are named by type and count.
  std::string scope;
  for (int v : node.inputs) {
    if (!IsConst(v)) continue;
    const std::string& n = Val(v).name;
    const auto dot = n.rfind('.');
    if (dot != std::string::npos && dot > 0 && n.find('/') == std::string::npos &&
        n.find("::") == std::string::npos) {
      scope = n.substr(0, dot);
      break;
    }
  }
  if (scope.empty() && node.name.size() > 1 && node.name[0] == '/') {
    // "/blocks.0/self_attn/MatMul" is blocks.0.self_attn; "/layer1/layer1.0/conv1/Conv" is
    // layer1.0.conv1 (a component may repeat its parent's path).
    std::vector<std::string> parts;
    for (size_t at = 1; at < node.name.size();) {
      const size_t end = std::min(node.name.find('/', at), node.name.size());
      parts.push_back(node.name.substr(at, end - at));
      at = end + 1;
    }
    parts.pop_back();  // the operator
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (it->empty()) continue;
      if (!scope.empty() && scope.compare(0, it->size() + 1, *it + ".") == 0) break;
      scope = scope.empty() ? *it : *it + "." + scope;
    }
  }
  std::string base(LayerTypeName(type));
  std::transform(base.begin(), base.end(), base.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!scope.empty()) {
    if (names_.insert(scope).second) return scope;
    base = scope + "." + base;
  }
  while (true) {
    std::string candidate = base + std::to_string(++name_counts_[base]);
    if (names_.insert(candidate).second) return candidate;
  }
}

void Mapper::Emit(const OnnxNode& node, int out, T type, Params params,
                  const std::vector<int>& inputs) {
  std::vector<GraphBuilder::Id> ids;
  for (int v : inputs) ids.push_back(id_[static_cast<size_t>(v)]);
  id_[static_cast<size_t>(out)] = b_.Add(type, std::move(params), std::move(ids),
                                         NodeName(node, type));
}

Result<ModelImport> Mapper::Run() {
  Fuser(*this).Run();
  for (size_t n = 0; n < g_.nodes.size(); ++n) {
    const OnnxNode& node = g_.nodes[n];
    if (!b_.status().ok()) return b_.status();
    bool data = false, poisoned = false;
    for (int v : node.inputs) {
      data |= IsData(v);
      poisoned |= IsPoisoned(v);
    }
    if (auto run = fused_.find(n); run != fused_.end()) {
      Fused& f = run->second;
      bool ready = true;
      for (int v : f.inputs) ready &= IsData(v);
      for (int v : f.inputs) poisoned |= IsPoisoned(v);
      if (poisoned || !ready) {
        if (!poisoned) Note(f.what + " (its input is not a tensor of the model)");
        id_[static_cast<size_t>(f.output)] = kPoisoned;
        continue;
      }
      if (f.type == T::kMultiheadAttention) {
        const Shape s = ShapeOf(f.inputs[0]);
        if (s.size() != 2 || D(s[1]) != f.params["embed_dim"]) {
          Note(f.what + " (not over [tokens, embed_dim] per sample)");
          id_[static_cast<size_t>(f.output)] = kPoisoned;
          continue;
        }
      }
      if (f.type == T::kLayerNorm && f.params.count("normalized_shape") == 0) {
        const Shape s = ShapeOf(f.inputs[0]);
        if (!s.empty()) f.params["normalized_shape"] = D(s.back());
      }
      Emit(node, f.output, f.type, f.params, f.inputs);
      continue;
    }
    if (done_[n]) continue;
    if (!data && !poisoned) {
      // Constants and shape arithmetic; but a value from the input that no rule mapped (a
      // second output, say) is not to be read past silently.
      bool stray = false;
      for (int v : node.inputs) stray |= Flows(v) && node.op != "Shape" && node.op != "Size";
      if (!stray) continue;
      Note(node.op + " (reads an output that has no layer)");
      for (int o : node.outputs) id_[static_cast<size_t>(o)] = kPoisoned;
      continue;
    }
    if (poisoned) {
      // Downstream of an unmapped operator: list unknown operators too, map nothing.
      if (!Known(node.op)) Note(node.op);
      for (int o : node.outputs) id_[static_cast<size_t>(o)] = kPoisoned;
      continue;
    }
    if (node.has_subgraph) {
      Note(node.op + " (control flow)");
      for (int o : node.outputs) id_[static_cast<size_t>(o)] = kPoisoned;
      continue;
    }
    if (Outcome refused = MapNode(node)) {
      Note(node.op + (refused->empty() ? "" : " (" + *refused + ")"));
      for (int o : node.outputs) {
        if (Flows(o)) id_[static_cast<size_t>(o)] = kPoisoned;
      }
    }
  }
  if (!b_.status().ok()) return b_.status();
  if (g_.outputs.size() != 1) Note("several outputs");
  ModelImport result;
  result.unsupported = unsupported_;
  if (!unsupported_.empty()) {  // what was mapped, for a caller that shows it
    result.architecture = std::move(b_).Partial();
    return result;
  }
  if (!IsData(g_.outputs[0]) || id_[static_cast<size_t>(g_.outputs[0])] != b_.last()) {
    return Status::InvalidArgument("the model's output is not its last layer");
  }
  WF_ASSIGN_OR_RETURN(result.architecture, std::move(b_).Finish());
  return result;
}

Outcome Mapper::MapNode(const OnnxNode& node) {
  const std::string& op = node.op;
  const int x = node.inputs.empty() ? -1 : node.inputs[0];
  const int out = node.outputs.empty() ? -1 : node.outputs[0];
  auto unary = [&](T type, Params params) -> Outcome {
    if (!IsData(x)) return "its first operand is not a tensor of the model";
    Emit(node, out, type, std::move(params), {x});
    return std::nullopt;
  };
  if (op == "Shape" || op == "Size") return std::nullopt;  // shape arithmetic
  if (PassesThrough(op)) {
    if (!IsData(x)) return "its first operand is not a tensor of the model";
    id_[static_cast<size_t>(out)] = id_[static_cast<size_t>(x)];
    return std::nullopt;  // a Dropout's mask output stays unmapped: nothing reads it
  }
  if (auto it = Activations().find(op); it != Activations().end()) return unary(it->second, {});
  if (op == "HardSigmoid") {
    auto a = node.floats.find("alpha"), b = node.floats.find("beta");
    // PyTorch's hardsigmoid is relu6(x + 3) / 6: alpha 1/6, beta 1/2 (ONNX's default alpha
    // is 0.2, another function).
    if (a == node.floats.end() || std::abs(a->second - 1.0 / 6) > 1e-4 ||
        (b != node.floats.end() && std::abs(b->second - 0.5) > 1e-4)) {
      return "alpha other than 1/6";
    }
    return unary(T::kHardsigmoid, {});
  }
  if (op == "Clip") return MapClip(node);
  if (op == "Softmax") {
    const Shape s = IsData(x) ? ShapeOf(x) : Shape{};
    int64_t axis = Attr(node, "axis").value_or(-1);
    if (axis < 0) axis += static_cast<int64_t>(s.size()) + 1;
    if (axis != static_cast<int64_t>(s.size())) return "over other than the last dimension";
    return unary(T::kSoftmax, {{"dim", D(axis - 1)}});
  }
  if (op == "Flatten") {
    if (Attr(node, "axis").value_or(1) != 1) return "axis other than 1";
    return unary(T::kFlatten, {});
  }
  if (op == "Conv" || op == "ConvTranspose") return MapConv(node);
  if (op == "Gemm") return MapGemm(node);
  if (op == "MatMul") return MapMatMul(node);
  if (op == "BatchNormalization" || op == "LayerNormalization") return MapNorm(node);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") return MapPool(node);
  if (op == "Add" || op == "Mul") return MapBinary(node);
  if (op == "Concat") return MapConcat(node);
  if (op == "Gather") return MapGather(node);
  if (op == "Slice") return MapSlice(node);
  if (op == "Split") return MapSplit(node);
  if (op == "Reshape") return MapReshape(node);
  if (op == "ReduceMean") return MapReduceMean(node);
  return std::string();
}

Outcome Mapper::MapClip(const OnnxNode& node) {
  // Bounds are inputs from opset 11 on, attributes before.
  auto bound = [&](size_t at, const char* attr) -> std::optional<double> {
    if (node.inputs.size() > at && node.inputs[at] >= 0) return Scalar(node.inputs[at]);
    auto it = node.floats.find(attr);
    if (it != node.floats.end()) return it->second;
    return std::nullopt;
  };
  const auto lo = bound(1, "min"), hi = bound(2, "max");
  if (!IsData(node.inputs[0])) return "its first operand is not a tensor of the model";
  if (lo == 0.0 && hi == 6.0) {
    Emit(node, node.outputs[0], T::kReLU6, {}, {node.inputs[0]});
    return std::nullopt;
  }
  if (lo == 0.0 && !hi) {
    Emit(node, node.outputs[0], T::kReLU, {}, {node.inputs[0]});
    return std::nullopt;
  }
  return "bounds other than 0 and 6";
}

Outcome Mapper::MapConv(const OnnxNode& node) {
  const bool transposed = node.op == "ConvTranspose";
  const int x = node.inputs[0];
  if (!IsData(x) || node.inputs.size() < 2 || !IsConst(node.inputs[1])) {
    return "the weight is not a constant";
  }
  const Shape w = Val(node.inputs[1]).shape;
  const Shape s = ShapeOf(x);
  if (w.size() != s.size() + 1 || w.size() < 3) return "weight rank does not fit";
  const size_t spatial = w.size() - 2;
  const Shape kernel(w.begin() + 2, w.end());
  const auto k = Same(kernel, spatial, 0);
  const auto stride = Same(Attrs(node, "strides"), spatial, 1);
  const auto dilation = Same(Attrs(node, "dilations"), spatial, 1);
  const auto output_padding = Same(Attrs(node, "output_padding"), spatial, 0);
  const int64_t groups = Attr(node, "group").value_or(1);
  if (!k || !stride || !dilation || !output_padding || groups < 1) {
    return "non-square arguments";
  }
  auto mode = node.strings.find("auto_pad");
  if (transposed && mode != node.strings.end() && mode->second.rfind("SAME", 0) == 0) {
    return "auto_pad " + mode->second;
  }
  std::string why;
  const auto padding = Padding(node, s, *k, *stride, *dilation, &why);
  if (!padding) return why;
  if (!Attrs(node, "output_shape").empty()) return "output_shape";
  T type;
  if (spatial == 2) {
    type = transposed ? T::kConvTranspose2d : T::kConv2d;
  } else if (spatial == 1 && !transposed) {
    type = T::kConv1d;
  } else {
    return "no layer for this rank";
  }
  Params p = {{"in_channels", D(transposed ? w[0] : w[1] * groups)},
              {"out_channels", D(transposed ? w[1] * groups : w[0])},
              {"kernel_size", D(*k)},
              {"stride", D(*stride)},
              {"padding", D(*padding)},
              {"dilation", D(*dilation)},
              {"groups", D(groups)},
              {"bias", node.inputs.size() > 2 && node.inputs[2] >= 0 ? 1.0 : 0.0}};
  if (transposed) p["output_padding"] = D(*output_padding);
  Emit(node, node.outputs[0], type, std::move(p), {x});
  return std::nullopt;
}

Outcome Mapper::MapGemm(const OnnxNode& node) {
  // Gemm(A, B, C) = alpha * A' B' + beta * C: a Linear when A is the data, B a constant matrix
  // and C (if any) a constant bias.
  const int x = node.inputs[0];
  if (!IsData(x) || node.inputs.size() < 2 || !IsConst(node.inputs[1])) {
    return "the weight is not a constant matrix";
  }
  if (Attr(node, "transA").value_or(0) != 0) return "transposed input";
  auto alpha = node.floats.find("alpha"), beta = node.floats.find("beta");
  if ((alpha != node.floats.end() && alpha->second != 1.0) ||
      (beta != node.floats.end() && beta->second != 1.0)) {
    return "alpha or beta other than 1";
  }
  Shape w = Val(node.inputs[1]).shape;
  if (w.size() != 2) return "the weight is not a constant matrix";
  if (Attr(node, "transB").value_or(0) == 0) std::reverse(w.begin(), w.end());  // [out, in]
  const bool bias = node.inputs.size() > 2 && node.inputs[2] >= 0;
  if (bias && !IsConst(node.inputs[2])) return "the bias is not a constant";
  Emit(node, node.outputs[0], T::kLinear,
       {{"in_features", D(w[1])}, {"out_features", D(w[0])}, {"bias", bias ? 1.0 : 0.0}}, {x});
  return std::nullopt;
}

Outcome Mapper::MapMatMul(const OnnxNode& node) {
  // MatMul(x, W [in, out]), its bias added by the sole reader if that adds a constant [out].
  const int x = node.inputs[0], out = node.outputs[0];
  if (!IsData(x) || !IsConst(node.inputs[1]) || Val(node.inputs[1]).shape.size() != 2) {
    return "the weight is not a constant matrix";
  }
  const Shape w = Val(node.inputs[1]).shape;
  int reader = -1;
  const OnnxNode* add = SoleUser(out, &reader);
  int bias_out = -1;
  if (add && add->op == "Add" && add->inputs.size() == 2) {
    const int other = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
    if (IsConst(other) && Val(other).shape == Shape{w[1]}) {
      done_[static_cast<size_t>(reader)] = true;
      bias_out = add->outputs[0];
    }
  }
  Emit(node, out, T::kLinear,
       {{"in_features", D(w[0])}, {"out_features", D(w[1])}, {"bias", bias_out >= 0 ? 1.0 : 0.0}},
       {x});
  if (bias_out >= 0) id_[static_cast<size_t>(bias_out)] = id_[static_cast<size_t>(out)];
  return std::nullopt;
}

Outcome Mapper::MapNorm(const OnnxNode& node) {
  const int x = node.inputs[0];
  if (!IsData(x)) return "its first operand is not a tensor of the model";
  const Shape s = ShapeOf(x);
  if (node.op == "BatchNormalization") {
    if (s.size() > 3) return "no layer for this rank";
    Emit(node, node.outputs[0], s.size() == 3 ? T::kBatchNorm2d : T::kBatchNorm1d, {}, {x});
    return std::nullopt;
  }
  const int64_t rank = static_cast<int64_t>(s.size()) + 1;
  const int64_t axis = Attr(node, "axis").value_or(-1);
  if (axis != -1 && axis != rank - 1) return "over several dimensions";
  const bool affine = node.inputs.size() > 1 && node.inputs[1] >= 0;
  Emit(node, node.outputs[0], T::kLayerNorm,
       {{"normalized_shape", D(s.back())}, {"elementwise_affine", affine ? 1.0 : 0.0}}, {x});
  return std::nullopt;
}

Outcome Mapper::MapPool(const OnnxNode& node) {
  const int x = node.inputs[0];
  if (!IsData(x)) return "its first operand is not a tensor of the model";
  const Shape s = ShapeOf(x);
  if (s.size() != 2 && s.size() != 3) return "no layer for this rank";
  const bool two_d = s.size() == 3;
  const size_t spatial = s.size() - 1;
  if (node.op == "GlobalAveragePool") {
    Emit(node, node.outputs[0], two_d ? T::kAdaptiveAvgPool2d : T::kAdaptiveAvgPool1d,
         {{"output_size", 1}}, {x});
    return std::nullopt;
  }
  const bool max = node.op == "MaxPool";
  if (max && node.outputs.size() > 1 && !users_[static_cast<size_t>(node.outputs[1])].empty()) {
    return "indices";
  }
  const auto k = Same(Attrs(node, "kernel_shape"), spatial, 0);
  const auto stride = Same(Attrs(node, "strides"), spatial, 1);
  const auto dilation = Same(Attrs(node, "dilations"), spatial, 1);
  const bool ceil = Attr(node, "ceil_mode").value_or(0) != 0;
  if (!k || *k < 1 || !stride) return "non-square arguments";
  if (dilation != 1) return "dilation";
  std::string why;
  const auto padding = Padding(node, s, *k, *stride, 1, &why);
  if (!padding) return why;
  FixedPool pool = FixedPoolOf(max, s, *k, *stride, *padding, ceil);
  Emit(node, node.outputs[0], pool.type, std::move(pool.params), {x});
  return std::nullopt;
}

}  // namespace onnx_internal

Result<ModelImport> MapOnnxGraph(const OnnxGraph& graph, const Shape& input_shape,
                                 const std::string& name) {
  return onnx_internal::Mapper(graph, input_shape, name).Run();
}

}  // namespace wattfleet
