// The layer model: validation (Normalize), features (ComputeFeatures) and identity
// (CanonicalKey) of one layer.
//
// One function, Analyze(), holds all the shape arithmetic: Normalize() runs it to reject specs
// whose shapes do not fit, and ComputeFeatures() runs it to produce the numbers, so the two can
// never disagree about what a valid layer is.
//
// FLOP conventions (per sample; bias additions are NOT counted anywhere, so FLOPs of a
// Conv/Linear layer are exactly 2 x MACs whatever its bias setting):
//   Conv, Linear, LSTM/GRU matrix products: 2 per MAC.
//   BatchNorm (inference form, folded to y = a*x + b): 2 per element.
//   LayerNorm: 3 per element for the statistics (sum for the mean, subtract, square-accumulate
//     for the variance), 1 to scale by 1/std, +1 for the affine transform when
//     elementwise_affine = 1 (so 5 per element by default).
//   ReLU 1, Sigmoid 4 (negate, exp, add, divide), Tanh 4 (same count as Sigmoid, via
//     2*sigmoid(2x)-1 folded), GELU 8 (tanh approximation: cube, 2 mul, add, tanh, add, 2 mul
//     counted with tanh as one op), Softmax 3 (exp, sum, divide) per element.
//   Max/Avg pools: kernel_size^dims per output element. AdaptiveAvgPool: 1 per input element.
//   Flatten, Dropout (inference), Embedding (a gather): 0.
//   LSTM: 9 element-wise ops per hidden unit per step (4 gate nonlinearities, tanh(c),
//     c = f*c + i*g (3), h = o*tanh(c) (1)); GRU: 7 (3 gate nonlinearities, r*(W h) (1),
//     h = (1-z)*n + z*h (3)).
#include "wattfleet/common/layer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

namespace wattfleet {
namespace {

struct TypeName {
  LayerType type;
  const char* name;
};

constexpr TypeName kTypeNames[] = {
    {LayerType::kConv1d, "Conv1d"},
    {LayerType::kConv2d, "Conv2d"},
    {LayerType::kLinear, "Linear"},
    {LayerType::kBatchNorm1d, "BatchNorm1d"},
    {LayerType::kBatchNorm2d, "BatchNorm2d"},
    {LayerType::kLayerNorm, "LayerNorm"},
    {LayerType::kReLU, "ReLU"},
    {LayerType::kGELU, "GELU"},
    {LayerType::kSigmoid, "Sigmoid"},
    {LayerType::kTanh, "Tanh"},
    {LayerType::kSoftmax, "Softmax"},
    {LayerType::kMaxPool1d, "MaxPool1d"},
    {LayerType::kMaxPool2d, "MaxPool2d"},
    {LayerType::kAvgPool1d, "AvgPool1d"},
    {LayerType::kAvgPool2d, "AvgPool2d"},
    {LayerType::kAdaptiveAvgPool1d, "AdaptiveAvgPool1d"},
    {LayerType::kAdaptiveAvgPool2d, "AdaptiveAvgPool2d"},
    {LayerType::kFlatten, "Flatten"},
    {LayerType::kDropout, "Dropout"},
    {LayerType::kEmbedding, "Embedding"},
    {LayerType::kLSTM, "LSTM"},
    {LayerType::kGRU, "GRU"},
};

// Integer hyper-parameters above this are rejected: they are certainly typos, and keeping
// them small keeps the int64 feature arithmetic far from overflow.
constexpr double kMaxInt = 1e9;
constexpr double kMaxElements = 1e15;

template <typename... Args>
std::string StrCat(Args&&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// Integers print without decimals; anything else round-trips.
std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

Status Error(LayerType type, const std::string& msg) {
  return Status::InvalidArgument(StrCat(LayerTypeName(type), ": ", msg));
}

enum class Kind {
  kRequired,  // must be given
  kDefault,   // filled with `fallback` when absent
  kDerived,   // filled from the input shape or another hyper-parameter by Analyze()
};
enum class Domain {
  kPositive,     // integer >= 1
  kNonNegative,  // integer >= 0
  kBool,         // 0 or 1
  kAnyInt,       // any integer (Softmax's dim)
  kProbability,  // real in [0, 1)
};
struct ParamDef {
  const char* name;
  Kind kind;
  double fallback;
  Domain domain;
};

const std::vector<ParamDef>& ParamDefs(LayerType type) {
  using K = Kind;
  using D = Domain;
  static const std::vector<ParamDef> kConv = {
      {"in_channels", K::kRequired, 0, D::kPositive},
      {"out_channels", K::kRequired, 0, D::kPositive},
      {"kernel_size", K::kRequired, 0, D::kPositive},
      {"stride", K::kDefault, 1, D::kPositive},
      {"padding", K::kDefault, 0, D::kNonNegative},
      {"dilation", K::kDefault, 1, D::kPositive},
      {"groups", K::kDefault, 1, D::kPositive},
      {"bias", K::kDefault, 1, D::kBool}};
  static const std::vector<ParamDef> kLinear = {{"in_features", K::kRequired, 0, D::kPositive},
                                                {"out_features", K::kRequired, 0, D::kPositive},
                                                {"bias", K::kDefault, 1, D::kBool}};
  static const std::vector<ParamDef> kBatchNorm = {{"num_features", K::kDerived, 0, D::kPositive}};
  static const std::vector<ParamDef> kLayerNorm = {
      {"normalized_shape", K::kDerived, 0, D::kPositive},
      {"elementwise_affine", K::kDefault, 1, D::kBool}};
  static const std::vector<ParamDef> kNone = {};
  static const std::vector<ParamDef> kSoftmax = {{"dim", K::kDefault, -1, D::kAnyInt}};
  static const std::vector<ParamDef> kPool = {{"kernel_size", K::kRequired, 0, D::kPositive},
                                              {"stride", K::kDerived, 0, D::kPositive},
                                              {"padding", K::kDefault, 0, D::kNonNegative}};
  static const std::vector<ParamDef> kAdaptive = {{"output_size", K::kRequired, 0, D::kPositive}};
  static const std::vector<ParamDef> kDropout = {{"p", K::kDefault, 0.5, D::kProbability}};
  static const std::vector<ParamDef> kEmbedding = {
      {"num_embeddings", K::kRequired, 0, D::kPositive},
      {"embedding_dim", K::kRequired, 0, D::kPositive}};
  static const std::vector<ParamDef> kRnn = {
      {"input_size", K::kRequired, 0, D::kPositive}, {"hidden_size", K::kRequired, 0, D::kPositive},
      {"num_layers", K::kDefault, 1, D::kPositive},  {"bias", K::kDefault, 1, D::kBool},
      {"bidirectional", K::kDefault, 0, D::kBool}};
  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d:
      return kConv;
    case LayerType::kLinear:
      return kLinear;
    case LayerType::kBatchNorm1d:
    case LayerType::kBatchNorm2d:
      return kBatchNorm;
    case LayerType::kLayerNorm:
      return kLayerNorm;
    case LayerType::kSoftmax:
      return kSoftmax;
    case LayerType::kMaxPool1d:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool1d:
    case LayerType::kAvgPool2d:
      return kPool;
    case LayerType::kAdaptiveAvgPool1d:
    case LayerType::kAdaptiveAvgPool2d:
      return kAdaptive;
    case LayerType::kDropout:
      return kDropout;
    case LayerType::kEmbedding:
      return kEmbedding;
    case LayerType::kLSTM:
    case LayerType::kGRU:
      return kRnn;
    case LayerType::kReLU:
    case LayerType::kGELU:
    case LayerType::kSigmoid:
    case LayerType::kTanh:
    case LayerType::kFlatten:
      return kNone;
  }
  return kNone;
}

std::string AcceptedNames(LayerType type) {
  const auto& defs = ParamDefs(type);
  if (defs.empty()) return "it takes no hyper-parameters";
  std::vector<std::string> names;
  for (const auto& d : defs) names.emplace_back(d.name);
  std::sort(names.begin(), names.end());
  std::string out = "accepted: ";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

Status CheckValue(LayerType type, const ParamDef& def, double v) {
  if (!std::isfinite(v)) {
    return Error(type, StrCat(def.name, " must be a finite number, got ", FormatNumber(v)));
  }
  if (def.domain == Domain::kProbability) {
    if (v < 0 || v >= 1) {
      return Error(type, StrCat(def.name, " must be in [0, 1), got ", FormatNumber(v)));
    }
    return Status::OK();
  }
  if (v != std::floor(v)) {
    return Error(type, StrCat(def.name, " must be an integer, got ", FormatNumber(v)));
  }
  if (std::fabs(v) > kMaxInt) {
    return Error(type, StrCat(def.name, " is too large: ", FormatNumber(v)));
  }
  switch (def.domain) {
    case Domain::kPositive:
      if (v < 1) return Error(type, StrCat(def.name, " must be positive, got ", FormatNumber(v)));
      break;
    case Domain::kNonNegative:
      if (v < 0) {
        return Error(type, StrCat(def.name, " must be non-negative, got ", FormatNumber(v)));
      }
      break;
    case Domain::kBool:
      if (v != 0 && v != 1) {
        return Error(type, StrCat(def.name, " must be 0 or 1, got ", FormatNumber(v)));
      }
      break;
    case Domain::kAnyInt:
    case Domain::kProbability:
      break;
  }
  return Status::OK();
}

// Expected input ranks: [min, max].
std::pair<size_t, size_t> RankRange(LayerType type) {
  constexpr size_t kAny = 64;
  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kMaxPool1d:
    case LayerType::kAvgPool1d:
    case LayerType::kAdaptiveAvgPool1d:
    case LayerType::kLSTM:
    case LayerType::kGRU:
      return {2, 2};
    case LayerType::kConv2d:
    case LayerType::kBatchNorm2d:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool2d:
    case LayerType::kAdaptiveAvgPool2d:
      return {3, 3};
    case LayerType::kBatchNorm1d:
      return {1, 2};
    default:
      return {1, kAny};
  }
}

const char* RankHint(LayerType type) {
  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kMaxPool1d:
    case LayerType::kAvgPool1d:
    case LayerType::kAdaptiveAvgPool1d:
      return " [C,L]";
    case LayerType::kLSTM:
    case LayerType::kGRU:
      return " [seq,input_size]";
    case LayerType::kConv2d:
    case LayerType::kBatchNorm2d:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool2d:
    case LayerType::kAdaptiveAvgPool2d:
      return " [C,H,W]";
    case LayerType::kBatchNorm1d:
      return " [C] or [C,L]";
    default:
      return "";
  }
}

Status CheckInputShape(const LayerSpec& spec) {
  const auto [lo, hi] = RankRange(spec.type);
  const size_t rank = spec.input_shape.size();
  if (rank < lo || rank > hi) {
    std::string want = lo == hi ? StrCat(lo) : hi >= 64 ? StrCat("at least ", lo)
                                                        : StrCat(lo, " or ", hi);
    return Error(spec.type, StrCat("input shape ", ShapeToString(spec.input_shape), " must have ",
                                   want, " dimensions", RankHint(spec.type)));
  }
  double elements = 1;
  for (int64_t d : spec.input_shape) {
    if (d < 1 || d > static_cast<int64_t>(kMaxInt)) {
      return Error(spec.type, StrCat("input shape ", ShapeToString(spec.input_shape),
                                     " has a dimension outside [1, 1e9]"));
    }
    elements *= static_cast<double>(d);
  }
  if (elements > kMaxElements) {
    return Error(spec.type, StrCat("input shape ", ShapeToString(spec.input_shape),
                                   " has more than 1e15 elements"));
  }
  return Status::OK();
}

int64_t Pow(int64_t base, size_t exp) {
  int64_t r = 1;
  for (size_t i = 0; i < exp; ++i) r *= base;
  return r;
}

// floor((in + 2p - d(k-1) - 1) / s) + 1, or an error naming kernel_size when the (dilated)
// kernel does not fit the padded input.
Result<int64_t> SpatialOut(LayerType type, int64_t in, int64_t k, int64_t s, int64_t p,
                           int64_t d) {
  const int64_t span = d * (k - 1) + 1;
  if (in + 2 * p < span) {
    return Error(type, StrCat("kernel_size ", k, (d > 1 ? StrCat(" (dilation ", d, ")") : ""),
                              " is larger than the input size ", in,
                              (p > 0 ? StrCat(" padded by ", p, " on each side") : "")));
  }
  return (in + 2 * p - span) / s + 1;
}

// Fills the derived hyper-parameters of `spec` (those still absent), checks the shape
// arithmetic and returns the features. `spec` has passed the per-parameter checks.
Result<LayerFeatures> Analyze(LayerSpec& spec) {
  const LayerType type = spec.type;
  const Shape& in = spec.input_shape;
  auto& params = spec.params;
  auto get = [&](const char* name) { return static_cast<int64_t>(params.at(name)); };
  auto derive = [&](const char* name, int64_t value) {
    if (params.find(name) == params.end()) params[name] = static_cast<double>(value);
    return get(name);
  };

  // Products of hyper-parameters can still exceed int64 for absurd layers (e.g. a 1e9-wide
  // Linear on a long sequence): multiply with overflow checks and refuse such layers.
  bool overflow = false;
  auto mul = [&overflow](std::initializer_list<int64_t> factors) {
    int64_t r = 1;
    for (int64_t x : factors) overflow |= __builtin_mul_overflow(r, x, &r);
    return r;
  };
  auto add = [&overflow](int64_t a, int64_t b) {
    int64_t r = 0;
    overflow |= __builtin_add_overflow(a, b, &r);
    return r;
  };
  auto elements_of = [&mul](const Shape& shape) {
    int64_t r = 1;
    for (int64_t d : shape) r = mul({r, d});
    return r;
  };

  LayerFeatures f;
  f.input_elements = NumElements(in);  // bounded by CheckInputShape
  f.output_shape = in;  // element-wise layers keep it
  const int64_t elements = f.input_elements;

  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d: {
      const size_t dims = in.size() - 1;
      const int64_t cin = get("in_channels"), cout = get("out_channels"), k = get("kernel_size");
      const int64_t groups = get("groups");
      if (cin != in[0]) {
        return Error(type, StrCat("in_channels is ", cin, " but the input has ", in[0],
                                  " channels"));
      }
      if (cin % groups != 0) {
        return Error(type, StrCat("groups ", groups, " does not divide in_channels ", cin));
      }
      if (cout % groups != 0) {
        return Error(type, StrCat("groups ", groups, " does not divide out_channels ", cout));
      }
      f.output_shape = {cout};
      for (size_t i = 1; i <= dims; ++i) {
        WF_ASSIGN_OR_RETURN(int64_t o, SpatialOut(type, in[i], k, get("stride"), get("padding"),
                                                  get("dilation")));
        f.output_shape.push_back(o);
      }
      const int64_t weights_per_out = mul({cin / groups, Pow(k, dims)});
      f.macs = mul({elements_of(f.output_shape), weights_per_out});
      f.params = add(mul({cout, weights_per_out}), get("bias") ? cout : 0);
      f.flops = mul({2, f.macs});
      break;
    }
    case LayerType::kLinear: {
      const int64_t fin = get("in_features"), fout = get("out_features");
      if (fin != in.back()) {
        return Error(type, StrCat("in_features is ", fin, " but the input's last dimension is ",
                                  in.back()));
      }
      f.output_shape.back() = fout;
      f.macs = mul({elements / fin, fin, fout});
      f.params = add(mul({fin, fout}), get("bias") ? fout : 0);
      f.flops = mul({2, f.macs});
      break;
    }
    case LayerType::kBatchNorm1d:
    case LayerType::kBatchNorm2d: {
      const int64_t n = derive("num_features", in[0]);
      if (n != in[0]) {
        return Error(type, StrCat("num_features is ", n, " but the input has ", in[0],
                                  " channels"));
      }
      f.params = 2 * n;
      f.flops = 2 * elements;
      break;
    }
    case LayerType::kLayerNorm: {
      const int64_t n = derive("normalized_shape", in.back());
      if (n != in.back()) {
        return Error(type, StrCat("normalized_shape is ", n,
                                  " but the input's last dimension is ", in.back()));
      }
      const bool affine = get("elementwise_affine") != 0;
      f.params = affine ? 2 * n : 0;
      f.flops = mul({affine ? 5 : 4, elements});
      break;
    }
    case LayerType::kReLU:
      f.flops = elements;
      break;
    case LayerType::kSigmoid:
    case LayerType::kTanh:
      f.flops = 4 * elements;
      break;
    case LayerType::kGELU:
      f.flops = 8 * elements;
      break;
    case LayerType::kSoftmax: {
      const int64_t dim = get("dim"), rank = static_cast<int64_t>(in.size());
      if (dim < -rank || dim >= rank) {
        return Error(type, StrCat("dim ", dim, " is out of range for the per-sample input ",
                                  ShapeToString(in), " (valid: ", -rank, " to ", rank - 1, ")"));
      }
      f.flops = 3 * elements;
      break;
    }
    case LayerType::kMaxPool1d:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool1d:
    case LayerType::kAvgPool2d: {
      const size_t dims = in.size() - 1;
      const int64_t k = get("kernel_size"), p = get("padding");
      const int64_t s = derive("stride", k);
      // libtorch refuses more padding than half the kernel (the window would see only padding).
      if (p > k / 2) {
        return Error(type, StrCat("padding ", p, " is more than half of kernel_size ", k));
      }
      f.output_shape = {in[0]};
      for (size_t i = 1; i <= dims; ++i) {
        WF_ASSIGN_OR_RETURN(int64_t o, SpatialOut(type, in[i], k, s, p, 1));
        f.output_shape.push_back(o);
      }
      f.flops = mul({elements_of(f.output_shape), Pow(k, dims)});
      break;
    }
    case LayerType::kAdaptiveAvgPool1d:
    case LayerType::kAdaptiveAvgPool2d: {
      const int64_t o = get("output_size");
      f.output_shape = Shape(in.size(), o);
      f.output_shape[0] = in[0];
      f.flops = elements;
      break;
    }
    case LayerType::kFlatten:
      f.output_shape = {elements};
      break;
    case LayerType::kDropout:
      break;
    case LayerType::kEmbedding: {
      const int64_t dim = get("embedding_dim");
      f.output_shape.push_back(dim);
      f.params = mul({get("num_embeddings"), dim});
      break;
    }
    case LayerType::kLSTM:
    case LayerType::kGRU: {
      const int64_t input_size = get("input_size"), h = get("hidden_size");
      if (input_size != in.back()) {
        return Error(type, StrCat("input_size is ", input_size,
                                  " but the input's last dimension is ", in.back()));
      }
      const int64_t gates = type == LayerType::kLSTM ? 4 : 3;
      const int64_t dirs = get("bidirectional") ? 2 : 1;
      const int64_t layers = get("num_layers");
      const int64_t seq = in[0];
      int64_t weights = 0;  // matrix weights over all layers and directions
      for (int64_t l = 0; l < layers; ++l) {
        const int64_t in_l = l == 0 ? input_size : h * dirs;
        weights = add(weights, mul({dirs, gates, add(mul({in_l, h}), mul({h, h}))}));
      }
      f.output_shape = {seq, h * dirs};
      f.params = add(weights, get("bias") ? mul({layers, dirs, 2, gates, h}) : 0);
      f.macs = mul({seq, weights});
      const int64_t per_unit = type == LayerType::kLSTM ? 9 : 7;
      f.flops = add(mul({2, f.macs}), mul({seq, layers, dirs, h, per_unit}));
      break;
    }
  }
  f.output_elements = elements_of(f.output_shape);
  if (overflow) {
    return Error(type, StrCat("the layer is too large: its features overflow 64-bit integers (",
                              "input ", ShapeToString(in), ")"));
  }
  return f;
}

// Per-parameter checks and defaults; Analyze() does the rest.
Result<LayerSpec> CheckParams(LayerSpec spec) {
  const LayerType type = spec.type;
  if (type == LayerType::kFlatten) {
    // With the batch dimension, start_dim=1,end_dim=-1 flattens the whole sample: the only
    // form we support. Erased so that explicit and implicit defaults share one key.
    static const std::pair<const char*, double> kFixed[] = {{"start_dim", 1}, {"end_dim", -1}};
    for (const auto& [name, value] : kFixed) {
      auto it = spec.params.find(name);
      if (it == spec.params.end()) continue;
      if (it->second != value) {
        return Error(type, StrCat(name, " ", FormatNumber(it->second),
                                  " is not supported (only start_dim=1, end_dim=-1)"));
      }
      spec.params.erase(it);
    }
  }
  const auto& defs = ParamDefs(type);
  for (const auto& [name, value] : spec.params) {
    bool known = false;
    for (const auto& d : defs) known = known || name == d.name;
    if (!known) {
      return Error(type, StrCat("unknown hyper-parameter '", name, "' (", AcceptedNames(type),
                                ")"));
    }
  }
  for (const auto& d : defs) {
    auto it = spec.params.find(d.name);
    if (it == spec.params.end()) {
      if (d.kind == Kind::kRequired) {
        return Error(type, StrCat("missing required hyper-parameter ", d.name));
      }
      if (d.kind == Kind::kDefault) spec.params[d.name] = d.fallback;
      continue;
    }
    WF_RETURN_IF_ERROR(CheckValue(type, d, it->second));
  }
  WF_RETURN_IF_ERROR(CheckInputShape(spec));
  return spec;
}

}  // namespace

const std::vector<LayerType>& AllLayerTypes() {
  static const std::vector<LayerType> kAll = [] {
    std::vector<LayerType> all;
    for (const auto& t : kTypeNames) all.push_back(t.type);
    return all;
  }();
  return kAll;
}

std::string_view LayerTypeName(LayerType type) {
  for (const auto& t : kTypeNames) {
    if (t.type == type) return t.name;
  }
  return "Unknown";
}

std::optional<LayerType> ParseLayerType(std::string_view name) {
  for (const auto& t : kTypeNames) {
    if (name == t.name) return t.type;
  }
  return std::nullopt;
}

std::string ShapeToString(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t LayerSpec::Int(const std::string& key, int64_t fallback) const {
  auto it = params.find(key);
  if (it == params.end() || !std::isfinite(it->second)) return fallback;
  return static_cast<int64_t>(std::llround(it->second));
}

Result<LayerSpec> Normalize(LayerSpec spec) {
  WF_ASSIGN_OR_RETURN(LayerSpec checked, CheckParams(std::move(spec)));
  WF_ASSIGN_OR_RETURN(LayerFeatures unused, Analyze(checked));
  (void)unused;
  return checked;
}

Result<LayerFeatures> ComputeFeatures(const LayerSpec& spec) {
  // Normalizing again is cheap and makes a spec with omitted defaults safe to pass here.
  WF_ASSIGN_OR_RETURN(LayerSpec checked, CheckParams(spec));
  return Analyze(checked);
}

std::string CanonicalKey(const LayerSpec& spec) {
  std::string key(LayerTypeName(spec.type));
  key += '(';
  bool first = true;
  for (const auto& [name, value] : spec.params) {  // std::map: name order
    if (!first) key += ',';
    first = false;
    key += name;
    key += '=';
    key += FormatNumber(value);
  }
  key += ')';
  key += ShapeToString(spec.input_shape);
  return key;
}

}  // namespace wattfleet
