// Per-type definitions of the layer model: one row per layer type with its name, its
// hyper-parameters (defaults and domains), the rank of its inputs and how many it reads.
#include <algorithm>

#include "layer_internal.h"

namespace wattfleet::layer_internal {
namespace {

constexpr size_t kAnyRank = 64;

}  // namespace

// A switch without `default:`: a layer type without a row does not compile (-Wswitch is an
// error, CMakeLists.txt).
TypeRow RowOf(LayerType type) {
  // Function-local statics: rows are read while other translation units initialise their
  // own statics, before namespace-scope tables here would be guaranteed to exist.
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
  // The input of an optimiser step is its [parameters]; `tensors` says in how many tensors
  // they are (the update loops over tensors, so their count costs beside their size).
  static const std::vector<ParamDef> kStep = {{"tensors", K::kRequired, 0, D::kPositive}};
  switch (type) {
    case LayerType::kConv1d: return {"Conv1d", &kConv, 2, 2, " [C,L]"};
    case LayerType::kConv2d: return {"Conv2d", &kConv, 3, 3, " [C,H,W]"};
    case LayerType::kLinear: return {"Linear", &kLinear, 1, kAnyRank, ""};
    case LayerType::kBatchNorm1d: return {"BatchNorm1d", &kBatchNorm, 1, 2, " [C] or [C,L]"};
    case LayerType::kBatchNorm2d: return {"BatchNorm2d", &kBatchNorm, 3, 3, " [C,H,W]"};
    case LayerType::kLayerNorm: return {"LayerNorm", &kLayerNorm, 1, kAnyRank, ""};
    case LayerType::kReLU: return {"ReLU", &kNone, 1, kAnyRank, ""};
    case LayerType::kGELU: return {"GELU", &kNone, 1, kAnyRank, ""};
    case LayerType::kSigmoid: return {"Sigmoid", &kNone, 1, kAnyRank, ""};
    case LayerType::kTanh: return {"Tanh", &kNone, 1, kAnyRank, ""};
    case LayerType::kSoftmax: return {"Softmax", &kSoftmax, 1, kAnyRank, ""};
    case LayerType::kMaxPool1d: return {"MaxPool1d", &kPool, 2, 2, " [C,L]"};
    case LayerType::kMaxPool2d: return {"MaxPool2d", &kPool, 3, 3, " [C,H,W]"};
    case LayerType::kAvgPool1d: return {"AvgPool1d", &kPool, 2, 2, " [C,L]"};
    case LayerType::kAvgPool2d: return {"AvgPool2d", &kPool, 3, 3, " [C,H,W]"};
    case LayerType::kAdaptiveAvgPool1d: return {"AdaptiveAvgPool1d", &kAdaptive, 2, 2, " [C,L]"};
    case LayerType::kAdaptiveAvgPool2d:
      return {"AdaptiveAvgPool2d", &kAdaptive, 3, 3, " [C,H,W]"};
    case LayerType::kFlatten: return {"Flatten", &kNone, 1, kAnyRank, ""};
    case LayerType::kDropout: return {"Dropout", &kDropout, 1, kAnyRank, ""};
    case LayerType::kEmbedding: return {"Embedding", &kEmbedding, 1, kAnyRank, ""};
    case LayerType::kLSTM: return {"LSTM", &kRnn, 2, 2, " [seq,input_size]"};
    case LayerType::kGRU: return {"GRU", &kRnn, 2, 2, " [seq,input_size]"};
    case LayerType::kConvTranspose2d:
      return {"ConvTranspose2d", &kConvTranspose, 3, 3, " [C,H,W]"};
    case LayerType::kGroupNorm: return {"GroupNorm", &kGroupNorm, 2, kAnyRank, " [C,...]"};
    case LayerType::kReLU6: return {"ReLU6", &kNone, 1, kAnyRank, ""};
    case LayerType::kSiLU: return {"SiLU", &kNone, 1, kAnyRank, ""};
    case LayerType::kHardswish: return {"Hardswish", &kNone, 1, kAnyRank, ""};
    case LayerType::kHardsigmoid: return {"Hardsigmoid", &kNone, 1, kAnyRank, ""};
    case LayerType::kMultiheadAttention:
      return {"MultiheadAttention", &kAttention, 2, 2, " [seq,d_model]"};
    case LayerType::kTransformerEncoderLayer:
      return {"TransformerEncoderLayer", &kEncoder, 2, 2, " [seq,d_model]"};
    case LayerType::kAdd: return {"Add", &kNone, 1, kAnyRank, "", 2, 64};
    case LayerType::kMul: return {"Mul", &kNone, 1, kAnyRank, "", 2, 64};
    case LayerType::kConcat: return {"Concat", &kConcat, 1, kAnyRank, "", 2, 64};
    case LayerType::kUpsample: return {"Upsample", &kUpsample, 3, 3, " [C,H,W]"};
    case LayerType::kNarrow: return {"Narrow", &kNarrow, 1, kAnyRank, ""};
    case LayerType::kChannelShuffle: return {"ChannelShuffle", &kShuffle, 3, 3, " [C,H,W]"};
    case LayerType::kChannelsLast: return {"ChannelsLast", &kNone, 3, 3, " [C,H,W]"};
    case LayerType::kChannelsFirst: return {"ChannelsFirst", &kNone, 3, 3, " [H,W,C]"};
    case LayerType::kTranspose: return {"Transpose", &kNone, 2, 2, " [A,B]"};
    case LayerType::kTokens: return {"Tokens", &kNone, 3, 3, " [C,H,W]"};
    case LayerType::kClassToken: return {"ClassToken", &kNone, 2, 2, " [seq,d_model]"};
    case LayerType::kPositionalEmbedding:
      return {"PositionalEmbedding", &kNone, 2, 2, " [seq,d_model]"};
    case LayerType::kSelectToken: return {"SelectToken", &kSelect, 2, 2, " [seq,d_model]"};
    case LayerType::kLayerScale: return {"LayerScale", &kNone, 1, kAnyRank, ""};
    case LayerType::kCrossEntropyLoss:
      return {"CrossEntropyLoss", &kNone, 1, kAnyRank, " [...,classes]"};
    case LayerType::kMSELoss: return {"MSELoss", &kNone, 1, kAnyRank, ""};
    case LayerType::kSGDStep: return {"SGDStep", &kStep, 1, 1, " [parameters]"};
    case LayerType::kSGDMomentumStep: return {"SGDMomentumStep", &kStep, 1, 1, " [parameters]"};
    case LayerType::kAdamStep: return {"AdamStep", &kStep, 1, 1, " [parameters]"};
    case LayerType::kAdamWStep: return {"AdamWStep", &kStep, 1, 1, " [parameters]"};
  }
  return {};  // not a LayerType (an integer cast past the last one): name is null
}

const std::vector<LayerType>& AllTypes() {
  // The enumerators run from 0 without gaps; the first value without a row ends the list.
  static const std::vector<LayerType> kAll = [] {
    std::vector<LayerType> all;
    for (int i = 0; RowOf(static_cast<LayerType>(i)).name != nullptr; ++i) {
      all.push_back(static_cast<LayerType>(i));
    }
    return all;
  }();
  return kAll;
}

std::string AcceptedNames(LayerType type) {
  const auto& defs = *RowOf(type).params;
  if (defs.empty()) return "it takes no hyper-parameters";
  std::vector<std::string> names;
  for (const auto& d : defs) names.emplace_back(d.name);
  std::sort(names.begin(), names.end());
  std::string out = "accepted: ";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

}  // namespace wattfleet::layer_internal
