// Per-type definitions of the layer model: one row per layer type with its name, its
// hyper-parameters (defaults and domains), the rank of its inputs and how many it reads.
#include <algorithm>

#include "layer_internal.h"

namespace wattfleet::layer_internal {
namespace {

constexpr size_t kAnyRank = 64;

// The hyper-parameter lists of the layer types, by the name RowOf gives them.
struct ParamTables {
  std::vector<ParamDef> conv, conv_transpose, linear, batch_norm, layer_norm, group_norm, none,
      softmax, pool, adaptive, dropout, embedding, rnn, attention, encoder, concat, upsample,
      narrow, shuffle, select, step;
};

ParamTables MakeParamTables() {
  using K = Kind;
  using D = Domain;
  ParamTables t;
  t.conv = {
      {"in_channels", K::kRequired, 0, D::kPositive},
      {"out_channels", K::kRequired, 0, D::kPositive},
      {"kernel_size", K::kRequired, 0, D::kPositive},
      {"stride", K::kDefault, 1, D::kPositive},
      {"padding", K::kDefault, 0, D::kNonNegative},
      {"dilation", K::kDefault, 1, D::kPositive},
      {"groups", K::kDefault, 1, D::kPositive},
      {"bias", K::kDefault, 1, D::kBool}};
  t.conv_transpose = t.conv;
  t.conv_transpose.push_back({"output_padding", K::kDefault, 0, D::kNonNegative});
  t.linear = {{"in_features", K::kRequired, 0, D::kPositive},
                                              {"out_features", K::kRequired, 0, D::kPositive},
                                              {"bias", K::kDefault, 1, D::kBool}};
  t.batch_norm = {{"num_features", K::kDerived, 0, D::kPositive}};
  t.layer_norm = {
      {"normalized_shape", K::kDerived, 0, D::kPositive},
      {"elementwise_affine", K::kDefault, 1, D::kBool}};
  t.group_norm = {
      {"num_groups", K::kRequired, 0, D::kPositive},
      {"num_channels", K::kDerived, 0, D::kPositive},
      {"affine", K::kDefault, 1, D::kBool}};
  t.none = {};
  t.softmax = {{"dim", K::kDefault, -1, D::kAnyInt}};
  t.pool = {{"kernel_size", K::kRequired, 0, D::kPositive},
                                              {"stride", K::kDerived, 0, D::kPositive},
                                              {"padding", K::kDefault, 0, D::kNonNegative},
                                              {"ceil_mode", K::kDefault, 0, D::kBool}};
  t.adaptive = {{"output_size", K::kRequired, 0, D::kPositive}};
  t.dropout = {{"p", K::kDefault, 0.5, D::kProbability}};
  t.embedding = {
      {"num_embeddings", K::kRequired, 0, D::kPositive},
      {"embedding_dim", K::kRequired, 0, D::kPositive}};
  t.rnn = {
      {"input_size", K::kRequired, 0, D::kPositive}, {"hidden_size", K::kRequired, 0, D::kPositive},
      {"num_layers", K::kDefault, 1, D::kPositive},  {"bias", K::kDefault, 1, D::kBool},
      {"bidirectional", K::kDefault, 0, D::kBool}};
  t.attention = {
      {"embed_dim", K::kDerived, 0, D::kPositive},
      {"num_heads", K::kRequired, 0, D::kPositive},
      {"bias", K::kDefault, 1, D::kBool},
      {"dropout", K::kDefault, 0, D::kProbability},
      {"causal", K::kDefault, 0, D::kBool}};
  t.encoder = {
      {"d_model", K::kDerived, 0, D::kPositive},
      {"nhead", K::kRequired, 0, D::kPositive},
      {"dim_feedforward", K::kDefault, 2048, D::kPositive},
      {"dropout", K::kDefault, 0.1, D::kProbability},
      {"gelu", K::kDefault, 0, D::kBool},
      {"norm_first", K::kDefault, 0, D::kBool},
      {"causal", K::kDefault, 0, D::kBool}};
  t.concat = {{"dim", K::kDefault, 0, D::kAnyInt}};
  t.upsample = {
      {"scale_factor", K::kRequired, 0, D::kPositive},
      {"bilinear", K::kDefault, 0, D::kBool}};
  t.narrow = {{"dim", K::kDefault, 0, D::kAnyInt},
                                              {"start", K::kDefault, 0, D::kNonNegative},
                                              {"length", K::kRequired, 0, D::kPositive}};
  t.shuffle = {{"groups", K::kRequired, 0, D::kPositive}};
  t.select = {{"index", K::kDefault, 0, D::kNonNegative}};
  // The input of an optimiser step is its [parameters]; `tensors` says in how many tensors
  // they are (the update loops over tensors, so their count costs beside their size), and
  // `large_tensors` of them hold `large_params` in blocks the allocator maps on its own
  // (training_step.h), the rest about equal.
  t.step = {{"tensors", K::kRequired, 0, D::kPositive},
            {"large_tensors", K::kOptional, 0, D::kPositive},
            {"large_params", K::kOptional, 0, D::kPositive}};
  return t;
}

}  // namespace

// A switch without `default:`: a layer type without a row does not compile (-Wswitch is an
// error, CMakeLists.txt).
TypeRow RowOf(LayerType type) {
  // A function-local static: rows are read while other translation units initialise their
  // own statics, before a namespace-scope table here would be guaranteed to exist.
  static const ParamTables kTables = MakeParamTables();
  const ParamTables& t = kTables;
  switch (type) {
    case LayerType::kConv1d: return {"Conv1d", &t.conv, 2, 2, " [C,L]"};
    case LayerType::kConv2d: return {"Conv2d", &t.conv, 3, 3, " [C,H,W]"};
    case LayerType::kLinear: return {"Linear", &t.linear, 1, kAnyRank, ""};
    case LayerType::kBatchNorm1d: return {"BatchNorm1d", &t.batch_norm, 1, 2, " [C] or [C,L]"};
    case LayerType::kBatchNorm2d: return {"BatchNorm2d", &t.batch_norm, 3, 3, " [C,H,W]"};
    case LayerType::kLayerNorm: return {"LayerNorm", &t.layer_norm, 1, kAnyRank, ""};
    case LayerType::kReLU: return {"ReLU", &t.none, 1, kAnyRank, ""};
    case LayerType::kGELU: return {"GELU", &t.none, 1, kAnyRank, ""};
    case LayerType::kSigmoid: return {"Sigmoid", &t.none, 1, kAnyRank, ""};
    case LayerType::kTanh: return {"Tanh", &t.none, 1, kAnyRank, ""};
    case LayerType::kSoftmax: return {"Softmax", &t.softmax, 1, kAnyRank, ""};
    case LayerType::kMaxPool1d: return {"MaxPool1d", &t.pool, 2, 2, " [C,L]"};
    case LayerType::kMaxPool2d: return {"MaxPool2d", &t.pool, 3, 3, " [C,H,W]"};
    case LayerType::kAvgPool1d: return {"AvgPool1d", &t.pool, 2, 2, " [C,L]"};
    case LayerType::kAvgPool2d: return {"AvgPool2d", &t.pool, 3, 3, " [C,H,W]"};
    case LayerType::kAdaptiveAvgPool1d: return {"AdaptiveAvgPool1d", &t.adaptive, 2, 2, " [C,L]"};
    case LayerType::kAdaptiveAvgPool2d:
      return {"AdaptiveAvgPool2d", &t.adaptive, 3, 3, " [C,H,W]"};
    case LayerType::kFlatten: return {"Flatten", &t.none, 1, kAnyRank, ""};
    case LayerType::kDropout: return {"Dropout", &t.dropout, 1, kAnyRank, ""};
    case LayerType::kEmbedding: return {"Embedding", &t.embedding, 1, kAnyRank, ""};
    case LayerType::kLSTM: return {"LSTM", &t.rnn, 2, 2, " [seq,input_size]"};
    case LayerType::kGRU: return {"GRU", &t.rnn, 2, 2, " [seq,input_size]"};
    case LayerType::kConvTranspose2d:
      return {"ConvTranspose2d", &t.conv_transpose, 3, 3, " [C,H,W]"};
    case LayerType::kGroupNorm: return {"GroupNorm", &t.group_norm, 2, kAnyRank, " [C,...]"};
    case LayerType::kReLU6: return {"ReLU6", &t.none, 1, kAnyRank, ""};
    case LayerType::kSiLU: return {"SiLU", &t.none, 1, kAnyRank, ""};
    case LayerType::kHardswish: return {"Hardswish", &t.none, 1, kAnyRank, ""};
    case LayerType::kHardsigmoid: return {"Hardsigmoid", &t.none, 1, kAnyRank, ""};
    case LayerType::kMultiheadAttention:
      return {"MultiheadAttention", &t.attention, 2, 2, " [seq,d_model]"};
    case LayerType::kTransformerEncoderLayer:
      return {"TransformerEncoderLayer", &t.encoder, 2, 2, " [seq,d_model]"};
    case LayerType::kAdd: return {"Add", &t.none, 1, kAnyRank, "", 2, 64};
    case LayerType::kMul: return {"Mul", &t.none, 1, kAnyRank, "", 2, 64};
    case LayerType::kConcat: return {"Concat", &t.concat, 1, kAnyRank, "", 2, 64};
    case LayerType::kUpsample: return {"Upsample", &t.upsample, 3, 3, " [C,H,W]"};
    case LayerType::kNarrow: return {"Narrow", &t.narrow, 1, kAnyRank, ""};
    case LayerType::kChannelShuffle: return {"ChannelShuffle", &t.shuffle, 3, 3, " [C,H,W]"};
    case LayerType::kChannelsLast: return {"ChannelsLast", &t.none, 3, 3, " [C,H,W]"};
    case LayerType::kChannelsFirst: return {"ChannelsFirst", &t.none, 3, 3, " [H,W,C]"};
    case LayerType::kTranspose: return {"Transpose", &t.none, 2, 2, " [A,B]"};
    case LayerType::kTokens: return {"Tokens", &t.none, 3, 3, " [C,H,W]"};
    case LayerType::kClassToken: return {"ClassToken", &t.none, 2, 2, " [seq,d_model]"};
    case LayerType::kPositionalEmbedding:
      return {"PositionalEmbedding", &t.none, 2, 2, " [seq,d_model]"};
    case LayerType::kSelectToken: return {"SelectToken", &t.select, 2, 2, " [seq,d_model]"};
    case LayerType::kLayerScale: return {"LayerScale", &t.none, 1, kAnyRank, ""};
    case LayerType::kCrossEntropyLoss:
      return {"CrossEntropyLoss", &t.none, 1, kAnyRank, " [...,classes]"};
    case LayerType::kMSELoss: return {"MSELoss", &t.none, 1, kAnyRank, ""};
    case LayerType::kSGDStep: return {"SGDStep", &t.step, 1, 1, " [parameters]"};
    case LayerType::kSGDMomentumStep: return {"SGDMomentumStep", &t.step, 1, 1, " [parameters]"};
    case LayerType::kAdamStep: return {"AdamStep", &t.step, 1, 1, " [parameters]"};
    case LayerType::kAdamWStep: return {"AdamWStep", &t.step, 1, 1, " [parameters]"};
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
