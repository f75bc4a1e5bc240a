// The shape arithmetic of the layer model: output shapes and features of every layer type.
//
// FLOP conventions (per sample; bias additions are NOT counted anywhere, so FLOPs of a
// Conv/Linear layer are exactly 2 x MACs whatever its bias setting):
//   Conv, ConvTranspose, Linear, LSTM/GRU and attention matrix products: 2 per MAC.
//   BatchNorm (inference form, folded to y = a*x + b): 2 per element.
//   LayerNorm / GroupNorm: 3 per element for the statistics (sum for the mean, subtract,
//     square-accumulate for the variance), 1 to scale by 1/std, +1 for the affine transform
//     when it has one (so 5 per element by default).
//   ReLU 1, ReLU6 2 (min, max), Sigmoid 4 (negate, exp, add, divide), Tanh 4 (same count as
//     Sigmoid, via 2*sigmoid(2x)-1 folded), SiLU 5 (sigmoid, multiply), Hardsigmoid 4 (add,
//     min, max, divide), Hardswish 5 (Hardsigmoid, multiply), GELU 8 (tanh approximation:
//     cube, 2 mul, add, tanh, add, 2 mul counted with tanh as one op), Softmax 3 (exp, sum,
//     divide) per element.
//   Max/Avg pools: kernel_size^dims per output element (ceil_mode's partial windows too).
//     AdaptiveAvgPool: 1 per input element.
//   Upsample: nearest 0, bilinear 7 per output element (4 weighted neighbours: 4 mul, 3 add).
//   Add / Mul: 1 per output element per extra input. PositionalEmbedding, LayerScale: 1 per
//     element.
//   Flatten, Dropout (inference), Embedding (a gather), Concat, Narrow, ChannelShuffle,
//     ChannelsLast/First, Transpose, Tokens, ClassToken, SelectToken (copies and views): 0.
//   LSTM: 9 element-wise ops per hidden unit per step (4 gate nonlinearities, tanh(c),
//     c = f*c + i*g (3), h = o*tanh(c) (1)); GRU: 7 (3 gate nonlinearities, r*(W h) (1),
//     h = (1-z)*n + z*h (3)).
//   MultiheadAttention (self-attention over L tokens of width E, h heads): MACs 4 L E^2 (q, k,
//     v and output projections) + 2 L^2 E (scores and the weighted sum); + 4 h L^2 element-wise
//     (scale, softmax).
//   CrossEntropyLoss: 4 per element (log-softmax: subtract the max, exp, sum, subtract the log;
//     the gather of the targets is free). MSELoss: 3 per element (subtract, square, sum).
//     Forward only, like every other count; a loss is always measured with its backward.
//   Optimiser steps, per parameter (libtorch's update, no weight decay unless the optimiser
//     decouples it): SGD 2 (p -= lr g), SGD with momentum 5 (b = m b + g; p -= lr b), Adam 13
//     (both moments 7, the denominator's sqrt, scale and eps 3, p -= s m / d 3), AdamW 14
//     (Adam and p *= 1 - lr wd). Their parameters are their input: per step, not per sample.
//   TransformerEncoderLayer: the attention above, a feed-forward of width F (MACs 2 L E F,
//     activation per hidden element), two LayerNorms (5 per element each) and two residual
//     adds (1 per element each).
#include <algorithm>
#include <cmath>

#include "layer_internal.h"
#include "wattfleet/common/layer_family.h"

namespace wattfleet::layer_internal {
namespace {

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

// A per-sample dim in [-rank, rank) as a non-negative index, or an error naming `name`.
Result<int64_t> ResolveDim(LayerType type, const char* name, int64_t dim, const Shape& in) {
  const int64_t rank = static_cast<int64_t>(in.size());
  if (dim < -rank || dim >= rank) {
    return Error(type, StrCat(name, " ", dim, " is out of range for the per-sample input ",
                              ShapeToString(in), " (valid: ", -rank, " to ", rank - 1, ")"));
  }
  return dim < 0 ? dim + rank : dim;
}

// An update's large tensors (layer_defs.cc): given together, at most its `tensors`, each of
// them at least one parameter, and leaving at least one to each of the other tensors.
Status CheckLargeTensors(LayerType type, const LayerSpec& spec, int64_t parameters) {
  const auto count = spec.params.find("large_tensors");
  const auto size = spec.params.find("large_params");
  const bool has_count = count != spec.params.end(), has_size = size != spec.params.end();
  if (!has_count && !has_size) return Status::OK();
  if (!has_count || !has_size) {
    return Error(type, "large_tensors and large_params are given together or not at all");
  }
  const int64_t tensors = static_cast<int64_t>(spec.params.at("tensors"));
  const int64_t large = static_cast<int64_t>(count->second);
  const int64_t held = static_cast<int64_t>(size->second);
  if (large > tensors) {
    return Error(type, StrCat("large_tensors ", large, " is more than its ", tensors, " tensors"));
  }
  if (held < large || held > parameters - (tensors - large) ||
      (large == tensors && held != parameters)) {
    return Error(type, StrCat("large_params ", held, " does not fit ", large, " of ", tensors,
                              " tensors holding ", parameters, " parameters"));
  }
  return Status::OK();
}

// One layer's analysis: its spec, the features found so far, and the arithmetic they are found
// with. Products of hyper-parameters can still exceed int64 for absurd layers (e.g. a 1e9-wide
// Linear on a long sequence): mul and add check for overflow, and Analyze refuses such layers.
// Each family of types (layer_family.h) is a method.
class LayerAnalysis {
 public:
  explicit LayerAnalysis(LayerSpec& s)
      : spec(s), type(s.type), in(s.input_shape), params(s.params), elements(NumElements(in)) {
    f.input_elements = NumElements(in);  // bounded by CheckInputShape
    for (const Shape& extra : spec.extra_inputs) {
      f.input_elements = add(f.input_elements, NumElements(extra));
    }
    f.output_shape = in;  // element-wise layers keep it
  }

  Status Dense();
  Status Normalization();
  Status Activation();
  Status Pooling();
  Status Sequence();
  Status Reshaping();
  Status TrainingStep();

  int64_t get(const char* name) const { return static_cast<int64_t>(params.at(name)); }
  int64_t derive(const char* name, int64_t value) {
    if (params.find(name) == params.end()) params[name] = static_cast<double>(value);
    return get(name);
  }
  int64_t mul(std::initializer_list<int64_t> factors) {
    int64_t r = 1;
    for (int64_t x : factors) overflow |= __builtin_mul_overflow(r, x, &r);
    return r;
  }
  int64_t add(int64_t a, int64_t b) {
    int64_t r = 0;
    overflow |= __builtin_add_overflow(a, b, &r);
    return r;
  }
  int64_t elements_of(const Shape& shape) {
    int64_t r = 1;
    for (int64_t d : shape) r = mul({r, d});
    return r;
  }

  LayerSpec& spec;
  const LayerType type;
  const Shape& in;
  decltype(LayerSpec::params)& params;
  const int64_t elements;
  LayerFeatures f;
  bool overflow = false;
};

// Convolutions and Linear: weights, MACs and the output size.
Status LayerAnalysis::Dense() {
  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d:
    case LayerType::kConvTranspose2d: {
      const size_t dims = in.size() - 1;
      const int64_t cin = get("in_channels"), cout = get("out_channels"), k = get("kernel_size");
      const int64_t groups = get("groups"), s = get("stride"), p = get("padding");
      const int64_t d = get("dilation");
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
      if (type == LayerType::kConvTranspose2d) {
        const int64_t op = get("output_padding");
        // libtorch's own rule: the extra row/column must fall inside one stride or dilation.
        if (op >= std::max(s, d)) {
          return Error(type, StrCat("output_padding ", op,
                                    " must be smaller than stride or dilation"));
        }
        for (size_t i = 1; i <= dims; ++i) {
          const int64_t o = (in[i] - 1) * s - 2 * p + d * (k - 1) + op + 1;
          if (o < 1) {
            return Error(type, StrCat("padding ", p, " leaves no output for the input size ",
                                      in[i]));
          }
          f.output_shape.push_back(o);
        }
        // Every input element meets cout/groups filters of k^dims taps.
        f.macs = mul({elements, cout / groups, Pow(k, dims)});
        f.params = add(mul({cin, cout / groups, Pow(k, dims)}), get("bias") ? cout : 0);
      } else {
        for (size_t i = 1; i <= dims; ++i) {
          WF_ASSIGN_OR_RETURN(int64_t o, SpatialOut(type, in[i], k, s, p, d));
          f.output_shape.push_back(o);
        }
        const int64_t weights_per_out = mul({cin / groups, Pow(k, dims)});
        f.macs = mul({elements_of(f.output_shape), weights_per_out});
        f.params = add(mul({cout, weights_per_out}), get("bias") ? cout : 0);
      }
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
    default:
      break;
  }
  return Status::OK();
}

// BatchNorm, LayerNorm, GroupNorm: their affine parameters and per-element FLOPs.
Status LayerAnalysis::Normalization() {
  switch (type) {
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
    case LayerType::kGroupNorm: {
      const int64_t c = derive("num_channels", in[0]), g = get("num_groups");
      if (c != in[0]) {
        return Error(type, StrCat("num_channels is ", c, " but the input has ", in[0],
                                  " channels"));
      }
      if (c % g != 0) {
        return Error(type, StrCat("num_groups ", g, " does not divide num_channels ", c));
      }
      const bool affine = get("affine") != 0;
      f.params = affine ? 2 * c : 0;
      f.flops = mul({affine ? 5 : 4, elements});
      break;
    }
    default:
      break;
  }
  return Status::OK();
}

// Element-wise activations and Softmax: FLOPs per element (the conventions above).
Status LayerAnalysis::Activation() {
  switch (type) {
    case LayerType::kReLU:
      f.flops = elements;
      break;
    case LayerType::kReLU6:
      f.flops = 2 * elements;
      break;
    case LayerType::kSigmoid:
    case LayerType::kTanh:
    case LayerType::kHardsigmoid:
      f.flops = 4 * elements;
      break;
    case LayerType::kSiLU:
    case LayerType::kHardswish:
      f.flops = 5 * elements;
      break;
    case LayerType::kGELU:
      f.flops = 8 * elements;
      break;
    case LayerType::kSoftmax: {
      WF_ASSIGN_OR_RETURN(int64_t unused, ResolveDim(type, "dim", get("dim"), in));
      (void)unused;
      f.flops = 3 * elements;
      break;
    }
    default:
      break;
  }
  return Status::OK();
}

// Pools and Upsample: the output size and FLOPs per output element.
Status LayerAnalysis::Pooling() {
  switch (type) {
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
      const bool ceil_mode = get("ceil_mode") != 0;
      f.output_shape = {in[0]};
      for (size_t i = 1; i <= dims; ++i) {
        WF_ASSIGN_OR_RETURN(int64_t o, SpatialOut(type, in[i], k, s, p, 1));
        // PyTorch's ceil_mode keeps a last, partial window, unless it would start in the
        // right padding (pooling_output_shape).
        if (ceil_mode && (in[i] + 2 * p - k) % s != 0 && o * s < in[i] + p) ++o;
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
    case LayerType::kUpsample: {
      const int64_t s = get("scale_factor");
      f.output_shape = {in[0], mul({in[1], s}), mul({in[2], s})};
      if (get("bilinear")) f.flops = mul({7, elements_of(f.output_shape)});
      break;
    }
    default:
      break;
  }
  return Status::OK();
}

// Embeddings, recurrent layers, attention and the Vision Transformer's token layers.
Status LayerAnalysis::Sequence() {
  switch (type) {
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
    case LayerType::kMultiheadAttention:
    case LayerType::kTransformerEncoderLayer: {
      const bool encoder = type == LayerType::kTransformerEncoderLayer;
      const char* width_name = encoder ? "d_model" : "embed_dim";
      const char* heads_name = encoder ? "nhead" : "num_heads";
      const int64_t e = derive(width_name, in[1]), heads = get(heads_name), l = in[0];
      if (e != in[1]) {
        return Error(type, StrCat(width_name, " is ", e, " but the input's last dimension is ",
                                  in[1]));
      }
      if (e % heads != 0) {
        return Error(type, StrCat(heads_name, " ", heads, " does not divide ", width_name, " ",
                                  e));
      }
      // q, k, v and output projections, then scores and the weighted sum.
      f.macs = add(mul({4, l, e, e}), mul({2, l, l, e}));
      const int64_t attention_params = add(mul({4, e, e}), !encoder && !get("bias") ? 0 : 4 * e);
      const int64_t attention_elementwise = mul({4, heads, l, l});
      if (!encoder) {
        f.params = attention_params;
        f.flops = add(mul({2, f.macs}), attention_elementwise);
        break;
      }
      const int64_t ff = get("dim_feedforward");
      f.macs = add(f.macs, mul({2, l, e, ff}));
      // Attention, two feed-forward Linears with biases, two LayerNorms.
      f.params = add(add(attention_params, add(mul({2, e, ff}), ff + e)), 4 * e);
      const int64_t activation = get("gelu") ? 8 : 1;
      f.flops = add(add(mul({2, f.macs}), attention_elementwise),
                    add(mul({activation, l, ff}), mul({12, l, e})));
      break;
    }
    case LayerType::kTokens:
      f.output_shape = {mul({in[1], in[2]}), in[0]};
      break;
    case LayerType::kClassToken:
      f.output_shape = {in[0] + 1, in[1]};
      f.params = in[1];
      break;
    case LayerType::kPositionalEmbedding:
      f.params = elements;
      f.flops = elements;
      break;
    case LayerType::kSelectToken: {
      const int64_t index = get("index");
      if (index >= in[0]) {
        return Error(type, StrCat("index ", index, " is out of range for ", in[0], " tokens"));
      }
      f.output_shape = {in[1]};
      break;
    }
    case LayerType::kLayerScale:
      f.params = in[0];
      f.flops = elements;
      break;
    default:
      break;
  }
  return Status::OK();
}

// Layers that move, join or split elements without arithmetic (Add and Mul aside).
Status LayerAnalysis::Reshaping() {
  switch (type) {
    case LayerType::kFlatten:
      f.output_shape = {elements};
      break;
    case LayerType::kDropout:
      break;
    case LayerType::kAdd:
    case LayerType::kMul: {
      for (size_t j = 0; j < spec.extra_inputs.size(); ++j) {
        const Shape& other = spec.extra_inputs[j];
        bool fits = other.size() == in.size();
        // Mul broadcasts size-1 dimensions (a squeeze-and-excitation scale [C,1,1]); Add
        // takes equal shapes only (residual paths).
        for (size_t i = 0; fits && i < in.size(); ++i) {
          fits = other[i] == in[i] || (type == LayerType::kMul && other[i] == 1);
        }
        if (!fits) {
          return Error(type, StrCat("input ", j + 1, " has shape ", ShapeToString(other),
                                    " which does not ",
                                    type == LayerType::kMul ? "broadcast to" : "match",
                                    " input 0's ", ShapeToString(in)));
        }
      }
      f.flops = mul({static_cast<int64_t>(spec.extra_inputs.size()), elements});
      break;
    }
    case LayerType::kConcat: {
      WF_ASSIGN_OR_RETURN(int64_t dim, ResolveDim(type, "dim", get("dim"), in));
      // Negative and positive spellings of one dim are one layer.
      params["dim"] = static_cast<double>(dim);
      for (size_t j = 0; j < spec.extra_inputs.size(); ++j) {
        const Shape& other = spec.extra_inputs[j];
        bool fits = other.size() == in.size();
        for (size_t i = 0; fits && i < in.size(); ++i) {
          fits = static_cast<int64_t>(i) == dim || other[i] == in[i];
        }
        if (!fits) {
          return Error(type, StrCat("input ", j + 1, " has shape ", ShapeToString(other),
                                    " which differs from input 0's ", ShapeToString(in),
                                    " outside dim ", dim));
        }
        f.output_shape[static_cast<size_t>(dim)] =
            add(f.output_shape[static_cast<size_t>(dim)], other[static_cast<size_t>(dim)]);
      }
      break;
    }
    case LayerType::kNarrow: {
      WF_ASSIGN_OR_RETURN(int64_t dim, ResolveDim(type, "dim", get("dim"), in));
      params["dim"] = static_cast<double>(dim);
      const int64_t start = get("start"), length = get("length");
      if (start + length > in[static_cast<size_t>(dim)]) {
        return Error(type, StrCat("start ", start, " + length ", length, " exceeds the size ",
                                  in[static_cast<size_t>(dim)], " of dim ", dim));
      }
      f.output_shape[static_cast<size_t>(dim)] = length;
      break;
    }
    case LayerType::kChannelShuffle: {
      const int64_t g = get("groups");
      if (in[0] % g != 0) {
        return Error(type, StrCat("groups ", g, " does not divide the input's ", in[0],
                                  " channels"));
      }
      break;
    }
    case LayerType::kChannelsLast:
      f.output_shape = {in[1], in[2], in[0]};
      break;
    case LayerType::kChannelsFirst:
      f.output_shape = {in[2], in[0], in[1]};
      break;
    case LayerType::kTranspose:
      f.output_shape = {in[1], in[0]};
      break;
    default:
      break;
  }
  return Status::OK();
}

// The loss and the optimiser's update, a training step's parts beyond its layers.
Status LayerAnalysis::TrainingStep() {
  switch (type) {
    case LayerType::kCrossEntropyLoss:
      f.output_shape = {1};
      f.flops = mul({4, elements});
      break;
    case LayerType::kMSELoss:
      f.output_shape = {1};
      f.flops = mul({3, elements});
      break;
    case LayerType::kSGDStep:
    case LayerType::kSGDMomentumStep:
    case LayerType::kAdamStep:
    case LayerType::kAdamWStep: {
      if (get("tensors") > in[0]) {
        return Error(type, StrCat("tensors ", get("tensors"), " is more than its ", in[0],
                                  " parameters"));
      }
      WF_RETURN_IF_ERROR(CheckLargeTensors(type, spec, in[0]));
      const int64_t per_parameter = type == LayerType::kSGDStep           ? 2
                                    : type == LayerType::kSGDMomentumStep ? 5
                                    : type == LayerType::kAdamStep        ? 13
                                                                          : 14;
      f.params = in[0];
      f.flops = mul({per_parameter, in[0]});
      break;
    }
    default:
      break;
  }
  return Status::OK();
}

}  // namespace

Result<LayerFeatures> Analyze(LayerSpec& spec) {
  LayerAnalysis a(spec);
  const LayerType type = spec.type;
  switch (FamilyOf(type)) {
    case LayerFamily::kDense: WF_RETURN_IF_ERROR(a.Dense()); break;
    case LayerFamily::kNormalization: WF_RETURN_IF_ERROR(a.Normalization()); break;
    case LayerFamily::kActivation: WF_RETURN_IF_ERROR(a.Activation()); break;
    case LayerFamily::kPooling: WF_RETURN_IF_ERROR(a.Pooling()); break;
    case LayerFamily::kSequence: WF_RETURN_IF_ERROR(a.Sequence()); break;
    case LayerFamily::kReshaping: WF_RETURN_IF_ERROR(a.Reshaping()); break;
    case LayerFamily::kTrainingStep: WF_RETURN_IF_ERROR(a.TrainingStep()); break;
  }
  a.f.output_elements = a.elements_of(a.f.output_shape);
  if (a.overflow) {
    return Error(type, StrCat("the layer is too large: its features overflow 64-bit integers (",
                              "input ", ShapeToString(a.in), ")"));
  }
  return a.f;
}

}  // namespace wattfleet::layer_internal
