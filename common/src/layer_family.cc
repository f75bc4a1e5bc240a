#include "wattfleet/common/layer_family.h"

namespace wattfleet {

LayerFamily FamilyOf(LayerType type) {
  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d:
    case LayerType::kConvTranspose2d:
    case LayerType::kLinear:
      return LayerFamily::kDense;
    case LayerType::kBatchNorm1d:
    case LayerType::kBatchNorm2d:
    case LayerType::kLayerNorm:
    case LayerType::kGroupNorm:
      return LayerFamily::kNormalization;
    case LayerType::kReLU:
    case LayerType::kReLU6:
    case LayerType::kSigmoid:
    case LayerType::kTanh:
    case LayerType::kHardsigmoid:
    case LayerType::kSiLU:
    case LayerType::kHardswish:
    case LayerType::kGELU:
    case LayerType::kSoftmax:
      return LayerFamily::kActivation;
    case LayerType::kMaxPool1d:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool1d:
    case LayerType::kAvgPool2d:
    case LayerType::kAdaptiveAvgPool1d:
    case LayerType::kAdaptiveAvgPool2d:
    case LayerType::kUpsample:
      return LayerFamily::kPooling;
    case LayerType::kEmbedding:
    case LayerType::kLSTM:
    case LayerType::kGRU:
    case LayerType::kMultiheadAttention:
    case LayerType::kTransformerEncoderLayer:
    case LayerType::kTokens:
    case LayerType::kClassToken:
    case LayerType::kPositionalEmbedding:
    case LayerType::kSelectToken:
    case LayerType::kLayerScale:
      return LayerFamily::kSequence;
    case LayerType::kFlatten:
    case LayerType::kDropout:
    case LayerType::kAdd:
    case LayerType::kMul:
    case LayerType::kConcat:
    case LayerType::kNarrow:
    case LayerType::kChannelShuffle:
    case LayerType::kChannelsLast:
    case LayerType::kChannelsFirst:
    case LayerType::kTranspose:
      return LayerFamily::kReshaping;
    case LayerType::kCrossEntropyLoss:
    case LayerType::kMSELoss:
    case LayerType::kSGDStep:
    case LayerType::kSGDMomentumStep:
    case LayerType::kAdamStep:
    case LayerType::kAdamWStep:
      return LayerFamily::kTrainingStep;
  }
  return LayerFamily::kReshaping;  // not a LayerType: refused by the callers earlier
}

}  // namespace wattfleet
