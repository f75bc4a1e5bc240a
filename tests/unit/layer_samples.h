// One small, valid spec of every layer type, shared by the layer-model and executor tests so
// that a new type without a sample fails both (they check coverage of AllLayerTypes()).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "wattfleet/common/layer.h"

namespace wattfleet::testing {

inline LayerSpec Spec(LayerType type, std::map<std::string, double> params, Shape input,
                      std::vector<Shape> extra_inputs = {}) {
  LayerSpec s;
  s.type = type;
  s.params = std::move(params);
  s.input_shape = std::move(input);
  s.extra_inputs = std::move(extra_inputs);
  return s;
}

inline std::vector<LayerSpec> OneOfEachLayer() {
  using T = LayerType;
  return {
      Spec(T::kConv1d, {{"in_channels", 2}, {"out_channels", 4}, {"kernel_size", 3}}, {2, 16}),
      Spec(T::kConv2d, {{"in_channels", 2}, {"out_channels", 4}, {"kernel_size", 3}},
           {2, 8, 8}),
      Spec(T::kLinear, {{"in_features", 8}, {"out_features", 4}}, {8}),
      Spec(T::kBatchNorm1d, {}, {8, 4}),
      Spec(T::kBatchNorm2d, {}, {8, 4, 4}),
      Spec(T::kLayerNorm, {}, {4, 8}),
      Spec(T::kReLU, {}, {8}),
      Spec(T::kGELU, {}, {8}),
      Spec(T::kSigmoid, {}, {8}),
      Spec(T::kTanh, {}, {8}),
      Spec(T::kSoftmax, {}, {8}),
      Spec(T::kMaxPool1d, {{"kernel_size", 2}}, {2, 8}),
      Spec(T::kMaxPool2d, {{"kernel_size", 2}}, {2, 8, 8}),
      Spec(T::kAvgPool1d, {{"kernel_size", 2}}, {2, 8}),
      Spec(T::kAvgPool2d, {{"kernel_size", 2}}, {2, 8, 8}),
      Spec(T::kAdaptiveAvgPool1d, {{"output_size", 2}}, {2, 8}),
      Spec(T::kAdaptiveAvgPool2d, {{"output_size", 2}}, {2, 8, 8}),
      Spec(T::kFlatten, {}, {2, 8, 8}),
      Spec(T::kDropout, {{"p", 0.1}}, {8}),
      Spec(T::kEmbedding, {{"num_embeddings", 10}, {"embedding_dim", 4}}, {8}),
      Spec(T::kLSTM, {{"input_size", 4}, {"hidden_size", 4}}, {3, 4}),
      Spec(T::kGRU, {{"input_size", 4}, {"hidden_size", 4}}, {3, 4}),
      Spec(T::kConvTranspose2d,
           {{"in_channels", 4}, {"out_channels", 2}, {"kernel_size", 2}, {"stride", 2}},
           {4, 5, 5}),
      Spec(T::kGroupNorm, {{"num_groups", 2}}, {8, 4, 4}),
      Spec(T::kReLU6, {}, {8}),
      Spec(T::kSiLU, {}, {8}),
      Spec(T::kHardswish, {}, {8}),
      Spec(T::kHardsigmoid, {}, {8}),
      Spec(T::kMultiheadAttention, {{"num_heads", 2}}, {5, 8}),
      Spec(T::kTransformerEncoderLayer, {{"nhead", 2}, {"dim_feedforward", 16}}, {5, 8}),
      Spec(T::kAdd, {}, {4, 3, 3}, {{4, 3, 3}}),
      Spec(T::kMul, {}, {4, 3, 3}, {{4, 1, 1}}),
      Spec(T::kConcat, {}, {4, 3, 3}, {{2, 3, 3}}),
      Spec(T::kUpsample, {{"scale_factor", 2}, {"bilinear", 1}}, {2, 4, 4}),
      Spec(T::kNarrow, {{"start", 2}, {"length", 2}}, {4, 3, 3}),
      Spec(T::kChannelShuffle, {{"groups", 2}}, {4, 3, 3}),
      Spec(T::kChannelsLast, {}, {4, 2, 3}),
      Spec(T::kChannelsFirst, {}, {2, 3, 4}),
      Spec(T::kTranspose, {}, {5, 8}),
      Spec(T::kTokens, {}, {8, 2, 3}),
      Spec(T::kClassToken, {}, {6, 8}),
      Spec(T::kPositionalEmbedding, {}, {7, 8}),
      Spec(T::kSelectToken, {}, {7, 8}),
      Spec(T::kLayerScale, {}, {4, 3, 3}),
      // A training step's parts (training_step.h): measured as layer jobs, never graph nodes.
      Spec(T::kCrossEntropyLoss, {}, {10}),
      Spec(T::kMSELoss, {}, {3, 4}),
      Spec(T::kSGDStep, {{"tensors", 2}}, {100}),
      Spec(T::kSGDMomentumStep, {{"tensors", 3}}, {100}),
      Spec(T::kAdamStep, {{"tensors", 4}}, {1000}),
      Spec(T::kAdamWStep, {{"tensors", 1}}, {10}),
  };
}

}  // namespace wattfleet::testing
