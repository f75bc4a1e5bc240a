// Per-type definitions of the layer model: names, hyper-parameters with their defaults and
// domains, input ranks and input counts.
#include <algorithm>

#include "layer_internal.h"

namespace wattfleet::layer_internal {

const std::vector<TypeName>& TypeNames() {
  static const std::vector<TypeName> kNames = {
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
      {LayerType::kConvTranspose2d, "ConvTranspose2d"},
      {LayerType::kGroupNorm, "GroupNorm"},
      {LayerType::kReLU6, "ReLU6"},
      {LayerType::kSiLU, "SiLU"},
      {LayerType::kHardswish, "Hardswish"},
      {LayerType::kHardsigmoid, "Hardsigmoid"},
      {LayerType::kMultiheadAttention, "MultiheadAttention"},
      {LayerType::kTransformerEncoderLayer, "TransformerEncoderLayer"},
      {LayerType::kAdd, "Add"},
      {LayerType::kMul, "Mul"},
      {LayerType::kConcat, "Concat"},
      {LayerType::kUpsample, "Upsample"},
      {LayerType::kNarrow, "Narrow"},
      {LayerType::kChannelShuffle, "ChannelShuffle"},
      {LayerType::kChannelsLast, "ChannelsLast"},
      {LayerType::kChannelsFirst, "ChannelsFirst"},
      {LayerType::kTranspose, "Transpose"},
      {LayerType::kTokens, "Tokens"},
      {LayerType::kClassToken, "ClassToken"},
      {LayerType::kPositionalEmbedding, "PositionalEmbedding"},
      {LayerType::kSelectToken, "SelectToken"},
      {LayerType::kLayerScale, "LayerScale"},
  };
  return kNames;
}

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
  static const std::vector<ParamDef> kConvTranspose = [] {
    std::vector<ParamDef> defs = kConv;
    defs.push_back({"output_padding", K::kDefault, 0, D::kNonNegative});
    return defs;
  }();
  static const std::vector<ParamDef> kLinear = {{"in_features", K::kRequired, 0, D::kPositive},
                                                {"out_features", K::kRequired, 0, D::kPositive},
                                                {"bias", K::kDefault, 1, D::kBool}};
  static const std::vector<ParamDef> kBatchNorm = {{"num_features", K::kDerived, 0, D::kPositive}};
  static const std::vector<ParamDef> kLayerNorm = {
      {"normalized_shape", K::kDerived, 0, D::kPositive},
      {"elementwise_affine", K::kDefault, 1, D::kBool}};
  static const std::vector<ParamDef> kGroupNorm = {
      {"num_groups", K::kRequired, 0, D::kPositive},
      {"num_channels", K::kDerived, 0, D::kPositive},
      {"affine", K::kDefault, 1, D::kBool}};
  static const std::vector<ParamDef> kNone = {};
  static const std::vector<ParamDef> kSoftmax = {{"dim", K::kDefault, -1, D::kAnyInt}};
  static const std::vector<ParamDef> kPool = {{"kernel_size", K::kRequired, 0, D::kPositive},
                                              {"stride", K::kDerived, 0, D::kPositive},
                                              {"padding", K::kDefault, 0, D::kNonNegative},
                                              {"ceil_mode", K::kDefault, 0, D::kBool}};
  static const std::vector<ParamDef> kAdaptive = {{"output_size", K::kRequired, 0, D::kPositive}};
  static const std::vector<ParamDef> kDropout = {{"p", K::kDefault, 0.5, D::kProbability}};
  static const std::vector<ParamDef> kEmbedding = {
      {"num_embeddings", K::kRequired, 0, D::kPositive},
      {"embedding_dim", K::kRequired, 0, D::kPositive}};
  static const std::vector<ParamDef> kRnn = {
      {"input_size", K::kRequired, 0, D::kPositive}, {"hidden_size", K::kRequired, 0, D::kPositive},
      {"num_layers", K::kDefault, 1, D::kPositive},  {"bias", K::kDefault, 1, D::kBool},
      {"bidirectional", K::kDefault, 0, D::kBool}};
  static const std::vector<ParamDef> kAttention = {
      {"embed_dim", K::kDerived, 0, D::kPositive},
      {"num_heads", K::kRequired, 0, D::kPositive},
      {"bias", K::kDefault, 1, D::kBool},
      {"dropout", K::kDefault, 0, D::kProbability},
      {"causal", K::kDefault, 0, D::kBool}};
  static const std::vector<ParamDef> kEncoder = {
      {"d_model", K::kDerived, 0, D::kPositive},
      {"nhead", K::kRequired, 0, D::kPositive},
      {"dim_feedforward", K::kDefault, 2048, D::kPositive},
      {"dropout", K::kDefault, 0.1, D::kProbability},
      {"gelu", K::kDefault, 0, D::kBool},
      {"norm_first", K::kDefault, 0, D::kBool},
      {"causal", K::kDefault, 0, D::kBool}};
  static const std::vector<ParamDef> kConcat = {{"dim", K::kDefault, 0, D::kAnyInt}};
  static const std::vector<ParamDef> kUpsample = {
      {"scale_factor", K::kRequired, 0, D::kPositive},
      {"bilinear", K::kDefault, 0, D::kBool}};
  static const std::vector<ParamDef> kNarrow = {{"dim", K::kDefault, 0, D::kAnyInt},
                                                {"start", K::kDefault, 0, D::kNonNegative},
                                                {"length", K::kRequired, 0, D::kPositive}};
  static const std::vector<ParamDef> kShuffle = {{"groups", K::kRequired, 0, D::kPositive}};
  static const std::vector<ParamDef> kSelect = {{"index", K::kDefault, 0, D::kNonNegative}};
  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d:
      return kConv;
    case LayerType::kConvTranspose2d:
      return kConvTranspose;
    case LayerType::kLinear:
      return kLinear;
    case LayerType::kBatchNorm1d:
    case LayerType::kBatchNorm2d:
      return kBatchNorm;
    case LayerType::kLayerNorm:
      return kLayerNorm;
    case LayerType::kGroupNorm:
      return kGroupNorm;
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
    case LayerType::kMultiheadAttention:
      return kAttention;
    case LayerType::kTransformerEncoderLayer:
      return kEncoder;
    case LayerType::kConcat:
      return kConcat;
    case LayerType::kUpsample:
      return kUpsample;
    case LayerType::kNarrow:
      return kNarrow;
    case LayerType::kChannelShuffle:
      return kShuffle;
    case LayerType::kSelectToken:
      return kSelect;
    case LayerType::kReLU:
    case LayerType::kGELU:
    case LayerType::kSigmoid:
    case LayerType::kTanh:
    case LayerType::kFlatten:
    case LayerType::kReLU6:
    case LayerType::kSiLU:
    case LayerType::kHardswish:
    case LayerType::kHardsigmoid:
    case LayerType::kAdd:
    case LayerType::kMul:
    case LayerType::kChannelsLast:
    case LayerType::kChannelsFirst:
    case LayerType::kTranspose:
    case LayerType::kTokens:
    case LayerType::kClassToken:
    case LayerType::kPositionalEmbedding:
    case LayerType::kLayerScale:
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

std::pair<size_t, size_t> RankRange(LayerType type) {
  constexpr size_t kAny = 64;
  switch (type) {
    case LayerType::kConv1d:
    case LayerType::kMaxPool1d:
    case LayerType::kAvgPool1d:
    case LayerType::kAdaptiveAvgPool1d:
    case LayerType::kLSTM:
    case LayerType::kGRU:
    case LayerType::kMultiheadAttention:
    case LayerType::kTransformerEncoderLayer:
    case LayerType::kTranspose:
    case LayerType::kClassToken:
    case LayerType::kPositionalEmbedding:
    case LayerType::kSelectToken:
      return {2, 2};
    case LayerType::kConv2d:
    case LayerType::kConvTranspose2d:
    case LayerType::kBatchNorm2d:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool2d:
    case LayerType::kAdaptiveAvgPool2d:
    case LayerType::kUpsample:
    case LayerType::kChannelShuffle:
    case LayerType::kChannelsLast:
    case LayerType::kChannelsFirst:
    case LayerType::kTokens:
      return {3, 3};
    case LayerType::kBatchNorm1d:
      return {1, 2};
    case LayerType::kGroupNorm:
      return {2, kAny};
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
    case LayerType::kMultiheadAttention:
    case LayerType::kTransformerEncoderLayer:
    case LayerType::kClassToken:
    case LayerType::kPositionalEmbedding:
    case LayerType::kSelectToken:
      return " [seq,d_model]";
    case LayerType::kTranspose:
      return " [A,B]";
    case LayerType::kConv2d:
    case LayerType::kConvTranspose2d:
    case LayerType::kBatchNorm2d:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool2d:
    case LayerType::kAdaptiveAvgPool2d:
    case LayerType::kUpsample:
    case LayerType::kChannelShuffle:
    case LayerType::kChannelsLast:
    case LayerType::kTokens:
      return " [C,H,W]";
    case LayerType::kChannelsFirst:
      return " [H,W,C]";
    case LayerType::kBatchNorm1d:
      return " [C] or [C,L]";
    case LayerType::kGroupNorm:
      return " [C,...]";
    default:
      return "";
  }
}

std::pair<size_t, size_t> InputCountRange(LayerType type) {
  switch (type) {
    case LayerType::kAdd:
    case LayerType::kMul:
    case LayerType::kConcat:
      return {2, 64};
    default:
      return {1, 1};
  }
}

}  // namespace wattfleet::layer_internal
