// Sequence models: THOR's HAR LSTM and text LSTM, the power-law paper's BERT-like and GPT-like
// Transformers (layers, d_model, heads, sequence length; batch is the campaign's), and LSTM/GRU
// stacks.
//
// The Transformers follow the structure of the models the power-law paper trained (token and
// learned position embeddings, encoder blocks, a head), not any one checkpoint: BERT-like is
// post-norm with a GELU feed-forward, a pooler (Linear + Tanh on the first token) and a
// classifier; GPT-like is pre-norm, causal, with a final LayerNorm and an untied LM head.
#include <utility>

#include "zoo_registry.h"

namespace wattfleet::zoo {
namespace {

using T = LayerType;
using Params = std::map<std::string, double>;

double D(int64_t v) { return static_cast<double>(v); }

struct TransformerShape {
  int64_t layers = 12;
  int64_t d_model = 768;
  int64_t heads = 12;
  int64_t seq = 128;
  int64_t vocab = 30522;
  int64_t ff = 0;       // 0: 4 x d_model
  int64_t classes = 2;  // BERT-like classifier outputs
};

Result<Architecture> BertLike(const std::string& name, const TransformerShape& s) {
  GraphBuilder g(name, "bert", {s.seq});
  g.Then(T::kEmbedding, {{"num_embeddings", D(s.vocab)}, {"embedding_dim", D(s.d_model)}},
         "token_embedding");
  g.Then(T::kPositionalEmbedding, {}, "position_embedding");
  g.Then(T::kLayerNorm, {}, "embedding_norm");
  g.Then(T::kDropout, {{"p", 0.1}}, "embedding_dropout");
  for (int64_t i = 0; i < s.layers; ++i) {
    g.Then(T::kTransformerEncoderLayer,
           {{"nhead", D(s.heads)}, {"dim_feedforward", D(s.ff ? s.ff : 4 * s.d_model)},
            {"dropout", 0.1}, {"gelu", 1}},
           "encoder" + std::to_string(i));
  }
  g.Then(T::kSelectToken, {}, "cls");
  g.Then(T::kLinear, {{"in_features", D(s.d_model)}, {"out_features", D(s.d_model)}}, "pooler");
  g.Then(T::kTanh, {}, "pooler_act");
  g.Then(T::kLinear, {{"in_features", D(s.d_model)}, {"out_features", D(s.classes)}},
         "classifier");
  return std::move(g).Finish();
}

Result<Architecture> GptLike(const std::string& name, const TransformerShape& s) {
  GraphBuilder g(name, "gpt", {s.seq});
  g.Then(T::kEmbedding, {{"num_embeddings", D(s.vocab)}, {"embedding_dim", D(s.d_model)}},
         "token_embedding");
  g.Then(T::kPositionalEmbedding, {}, "position_embedding");
  g.Then(T::kDropout, {{"p", 0.1}}, "embedding_dropout");
  for (int64_t i = 0; i < s.layers; ++i) {
    g.Then(T::kTransformerEncoderLayer,
           {{"nhead", D(s.heads)}, {"dim_feedforward", D(s.ff ? s.ff : 4 * s.d_model)},
            {"dropout", 0.1}, {"gelu", 1}, {"norm_first", 1}, {"causal", 1}},
           "block" + std::to_string(i));
  }
  g.Then(T::kLayerNorm, {}, "final_norm");
  g.Then(T::kLinear,
         {{"in_features", D(s.d_model)}, {"out_features", D(s.vocab)}, {"bias", 0}}, "lm_head");
  return std::move(g).Finish();
}

struct RnnShape {
  LayerType cell = T::kLSTM;
  int64_t layers = 1;
  int64_t hidden = 128;
  int64_t input = 64;  // features per step
  int64_t seq = 32;
  bool bidirectional = false;
  int64_t classes = 10;
};

// A recurrent stack over [seq, input] features, classified from its last step.
Result<Architecture> RnnStack(const std::string& name, const std::string& family,
                              const RnnShape& s) {
  GraphBuilder g(name, family, {s.seq, s.input});
  g.Then(s.cell, {{"input_size", D(s.input)}, {"hidden_size", D(s.hidden)},
                  {"num_layers", D(s.layers)}, {"bidirectional", s.bidirectional ? 1.0 : 0.0}},
         "rnn");
  g.Then(T::kSelectToken, {{"index", D(s.seq - 1)}}, "last_step");
  g.Then(T::kLinear, {{"in_features", D(s.hidden * (s.bidirectional ? 2 : 1))},
                      {"out_features", D(s.classes)}},
         "classifier");
  return std::move(g).Finish();
}

// THOR's LSTM for human activity recognition: UCI HAR windows of 128 steps x 9 inertial
// channels, two LSTM layers of 32 units, 6 activities.
Result<Architecture> HarLstm() {
  return RnnStack("har-lstm", "lstm", {T::kLSTM, 2, 32, 9, 128, false, 6});
}

// THOR's text LSTM: 200 tokens from a 20 000-word vocabulary, 128-wide embeddings, one LSTM
// layer of 256 units, binary sentiment.
Result<Architecture> TextLstm() {
  GraphBuilder g("lstm-text", "lstm", {200});
  g.Then(T::kEmbedding, {{"num_embeddings", 20000}, {"embedding_dim", 128}}, "embedding");
  g.Then(T::kLSTM, {{"input_size", 128}, {"hidden_size", 256}}, "rnn");
  g.Then(T::kSelectToken, {{"index", 199}}, "last_step");
  g.Then(T::kLinear, {{"in_features", 256}, {"out_features", 2}}, "classifier");
  return std::move(g).Finish();
}

Result<Architecture> BuildTransformer(const PointReader& r) {
  const std::string& family = r.family();
  TransformerShape s;
  const bool gpt = family == "gpt";
  WF_RETURN_IF_ERROR(r.Divides("heads", "d_model"));
  r.Fill({{"layers", &s.layers}, {"d_model", &s.d_model}, {"heads", &s.heads}, {"seq", &s.seq}});
  s.ff = r.Int("ff", 4 * s.d_model);
  s.vocab = r.Int("vocab", gpt ? 50257 : 30522);
  std::string name = family + "-l" + std::to_string(s.layers) + "-d" + std::to_string(s.d_model) +
                     "-h" + std::to_string(s.heads) + "-s" + std::to_string(s.seq);
  if (s.ff != 4 * s.d_model) name += "-f" + std::to_string(s.ff);
  if (s.vocab != (gpt ? 50257 : 30522)) name += "-v" + std::to_string(s.vocab);
  return gpt ? GptLike(name, s) : BertLike(name, s);
}

Result<Architecture> BuildRnn(const PointReader& r) {
  const std::string& family = r.family();
  RnnShape s;
  s.cell = family == "gru" ? T::kGRU : T::kLSTM;
  r.Fill({{"layers", &s.layers}, {"hidden", &s.hidden}, {"features", &s.input}, {"seq", &s.seq},
          {"classes", &s.classes}});
  s.bidirectional = r.Int("bidirectional") != 0;
  std::string name = family + "-l" + std::to_string(s.layers) + "-h" + std::to_string(s.hidden) +
                     "-i" + std::to_string(s.input) + "-s" + std::to_string(s.seq);
  if (s.bidirectional) name += "-bi";
  if (s.classes != 10) name += "-c" + std::to_string(s.classes);
  return RnnStack(name, family, s);
}

}  // namespace

void AddSequenceModels(Registry& r) {
  r.models.push_back({"har-lstm", "THOR's HAR LSTM (UCI HAR, 2 x 32 units)", HarLstm});
  r.models.push_back({"lstm-text", "THOR's text LSTM (embedding 128, 256 units)", TextLstm});
  r.models.push_back({"bert-base", "BERT-base-like: 12 x 768, 12 heads, 128 tokens", [] {
                        return BertLike("bert-base", TransformerShape{});
                      }});
  r.models.push_back({"bert-small", "BERT-like: 4 x 512, 8 heads, 128 tokens", [] {
                        return BertLike("bert-small", TransformerShape{4, 512, 8, 128, 30522});
                      }});
  r.models.push_back({"gpt2-small", "GPT-2-small-like: 12 x 768, 12 heads, 256 tokens", [] {
                        return GptLike("gpt2-small", TransformerShape{12, 768, 12, 256, 50257});
                      }});
  for (const char* family : {"bert", "gpt"}) r.families.push_back({family, BuildTransformer});
  for (const char* family : {"lstm", "gru"}) r.families.push_back({family, BuildRnn});
}

}  // namespace wattfleet::zoo
