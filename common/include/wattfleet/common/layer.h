// The layer model: one layer's type, hyper-parameters and input shape, its canonical key and
// its features (MACs, FLOPs, parameters, input/output elements).
//
// Shapes are per sample: the batch dimension is never part of a Shape; it is an attribute of
// the job that measures the layer. Features are also per sample; multiply by the batch size.
//
// Hyper-parameter names follow libtorch's options (in_channels, kernel_size, ...), so a
// LayerSpec maps one to one onto the module the agent builds. Every hyper-parameter is a
// number (booleans are 0/1); spatial hyper-parameters are square (one value for all spatial
// dimensions).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

// Values are stable: they never change meaning (they are not stored, names are).
enum class LayerType {
  kConv1d,
  kConv2d,
  kLinear,
  kBatchNorm1d,
  kBatchNorm2d,
  kLayerNorm,
  kReLU,
  kGELU,
  kSigmoid,
  kTanh,
  kSoftmax,
  kMaxPool1d,
  kMaxPool2d,
  kAvgPool1d,
  kAvgPool2d,
  kAdaptiveAvgPool1d,
  kAdaptiveAvgPool2d,
  kFlatten,
  kDropout,
  kEmbedding,
  kLSTM,
  kGRU,
  kConvTranspose2d,
  kGroupNorm,
  kReLU6,
  kSiLU,
  kHardswish,
  kHardsigmoid,
  kMultiheadAttention,       // self-attention over [seq, embed_dim]
  kTransformerEncoderLayer,  // attention + feed-forward block over [seq, d_model]
  kAdd,                      // element-wise sum of equal shapes (residual paths)
  kMul,                      // element-wise product; later inputs may broadcast size-1 dims
  kConcat,                   // concatenation along `dim`
  kUpsample,                 // nearest or bilinear, integer scale factor
  kNarrow,                   // a slice [start, start + length) of `dim`
  kChannelShuffle,
  kChannelsLast,             // [C,H,W] -> [H,W,C]
  kChannelsFirst,            // [H,W,C] -> [C,H,W]
  kTranspose,                // [A,B] -> [B,A]
  kTokens,                   // [C,H,W] -> [H*W,C] (a patch grid as a token sequence)
  kClassToken,               // prepends a learned token: [N,C] -> [N+1,C]
  kPositionalEmbedding,      // adds a learned [N,C] table
  kSelectToken,              // one token: [N,C] -> [C]
  kLayerScale,               // learned per-channel scale of dim 0
  // The parts of a training step that are no layer of the network (training_step.h): the
  // loss over the network's output, forward and backward, and the optimiser's update of
  // every parameter. Never a node of a graph; a training campaign measures them as layer jobs
  // and lists them after a network's nodes.
  kCrossEntropyLoss,  // over the last dim of its input (the classes)
  kMSELoss,           // against a target of the input's shape
  kSGDStep,           // [parameters], in `tensors` tensors; no batch dimension
  kSGDMomentumStep,
  kAdamStep,
  kAdamWStep,
};

// All layer types, in enum order.
const std::vector<LayerType>& AllLayerTypes();
// "Conv2d", "Linear", "ReLU", ... (libtorch's class names).
std::string_view LayerTypeName(LayerType type);
// Inverse of LayerTypeName; case-sensitive.
std::optional<LayerType> ParseLayerType(std::string_view name);
// The optimiser steps: their cost is per parameter, whatever the batch, so their features are
// not per sample and are never multiplied by a batch.
bool IsOptimizerStep(LayerType type);
// The losses and the optimiser steps: parts of a training step that no graph may contain.
bool IsTrainingStepPart(LayerType type);

using Shape = std::vector<int64_t>;
std::string ShapeToString(const Shape& shape);  // "[1,28,28]"
int64_t NumElements(const Shape& shape);

struct LayerSpec {
  LayerType type = LayerType::kLinear;
  // Hyper-parameters by libtorch option name. Normalize() fills the defaults.
  std::map<std::string, double> params;
  // Per-sample input shape (no batch dimension).
  Shape input_shape;
  // Per-sample shapes of the second and later inputs of multi-input layers (Add, Mul, Concat);
  // empty for every other type.
  std::vector<Shape> extra_inputs = {};

  // The hyper-parameter as an integer, or `fallback` when absent.
  int64_t Int(const std::string& key, int64_t fallback = 0) const;
  bool operator==(const LayerSpec& other) const {
    return type == other.type && params == other.params && input_shape == other.input_shape &&
           extra_inputs == other.extra_inputs;
  }
};

struct LayerFeatures {
  int64_t macs = 0;             // multiply-accumulates, per sample
  int64_t flops = 0;            // 2 x MACs plus element-wise operations, per sample
  int64_t params = 0;           // trainable parameters (buffers such as running stats excluded)
  int64_t input_elements = 0;   // per sample, summed over all inputs
  int64_t output_elements = 0;  // per sample
  Shape output_shape;           // per sample
};

// Checks the hyper-parameters and the input shape for the layer type and fills defaults
// (e.g. stride = 1, bias = 1, BatchNorm's num_features from the input). Unknown
// hyper-parameters, missing required ones, non-positive sizes and shapes that do not fit are
// InvalidArgument errors naming the hyper-parameter.
Result<LayerSpec> Normalize(LayerSpec spec);
// The same, also giving the features of the normalized spec (computed once, not twice).
Result<LayerSpec> Normalize(LayerSpec spec, LayerFeatures* features);

// Output shape and features of a normalized spec.
Result<LayerFeatures> ComputeFeatures(const LayerSpec& spec);

// Deterministic identity of a normalized spec: type, every hyper-parameter in name order and
// the input shapes, e.g. "Conv2d(bias=1,dilation=1,...)[1,28,28]". Two specs are the same
// layer exactly when their keys are equal.
std::string CanonicalKey(const LayerSpec& spec);

}  // namespace wattfleet
