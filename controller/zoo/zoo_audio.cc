// Audio models: M5 (Dai et al. 2017), a raw-waveform 1-D CNN front end; small Conformer
// encoders (Gulati et al. 2020) over log-mel frames; and Whisper-style encoders (a strided
// 1-D conv front end, then pre-norm Transformer blocks).
#include <utility>

#include "zoo_registry.h"

namespace wattfleet::zoo {
namespace {

using T = LayerType;

double D(int64_t v) { return static_cast<double>(v); }

// M5 as in torchaudio's speech-command tutorial: 4 conv blocks (the first with an 80-sample
// kernel at stride 4), each with BatchNorm, ReLU and a 4x max pool, then global average pooling
// and a classifier. `width` is the first blocks' channel count (doubled for the last two).
Result<Architecture> M5(const std::string& name, int64_t width, int64_t samples,
                        int64_t classes) {
  GraphBuilder g(name, "m5", {1, samples});
  const int64_t channels[] = {width, width, 2 * width, 2 * width};
  int64_t in = 1;
  for (int b = 0; b < 4; ++b) {
    const std::string n = std::to_string(b + 1);
    g.Then(T::kConv1d, {{"in_channels", D(in)}, {"out_channels", D(channels[b])},
                        {"kernel_size", b == 0 ? 80.0 : 3.0}, {"stride", b == 0 ? 4.0 : 1.0}},
           "conv" + n);
    g.Then(T::kBatchNorm1d, {}, "bn" + n);
    g.Then(T::kReLU, {}, "relu" + n);
    g.Then(T::kMaxPool1d, {{"kernel_size", 4}}, "pool" + n);
    in = channels[b];
  }
  g.Then(T::kAdaptiveAvgPool1d, {{"output_size", 1}}, "gap");
  g.Then(T::kFlatten, {}, "flatten");
  g.Then(T::kLinear, {{"in_features", D(in)}, {"out_features", D(classes)}}, "classifier");
  return std::move(g).Finish();
}

struct EncoderShape {
  int64_t layers = 4;
  int64_t d_model = 144;
  int64_t heads = 4;
  int64_t frames = 200;  // 10 ms log-mel frames
  int64_t mels = 80;
  int64_t classes = 35;
  int64_t kernel = 31;  // Conformer's depthwise convolution
};

// A Conformer block: half-step feed-forward, self-attention, convolution module, half-step
// feed-forward, LayerNorm; every module is residual. The half-step scale (x 0.5) is folded
// into the residual Add: a scalar multiply the layer model does not count separately.
GraphBuilder::Id FeedForward(GraphBuilder& g, GraphBuilder::Id x, int64_t d, const std::string& p) {
  g.Add(T::kLayerNorm, {}, {x}, p + "_norm");
  g.Then(T::kLinear, {{"in_features", D(d)}, {"out_features", D(4 * d)}}, p + "_up");
  g.Then(T::kSiLU, {}, p + "_act");
  g.Then(T::kDropout, {{"p", 0.1}}, p + "_drop1");
  g.Then(T::kLinear, {{"in_features", D(4 * d)}, {"out_features", D(d)}}, p + "_down");
  const auto y = g.Then(T::kDropout, {{"p", 0.1}}, p + "_drop2");
  return g.Add(T::kAdd, {}, {x, y}, p + "_residual");
}

GraphBuilder::Id ConformerBlock(GraphBuilder& g, GraphBuilder::Id x, const EncoderShape& s,
                                const std::string& p) {
  const int64_t d = s.d_model;
  x = FeedForward(g, x, d, p + "_ff1");
  g.Add(T::kLayerNorm, {}, {x}, p + "_mhsa_norm");
  g.Then(T::kMultiheadAttention, {{"num_heads", D(s.heads)}, {"dropout", 0.1}}, p + "_mhsa");
  auto y = g.Then(T::kDropout, {{"p", 0.1}}, p + "_mhsa_drop");
  x = g.Add(T::kAdd, {}, {x, y}, p + "_mhsa_residual");
  // Convolution module: pointwise conv to 2d channels, GLU (first half x sigmoid(second
  // half)), depthwise conv, BatchNorm, SiLU, pointwise conv.
  g.Add(T::kLayerNorm, {}, {x}, p + "_conv_norm");
  g.Then(T::kTranspose, {}, p + "_to_channels");
  const auto pw = g.Then(T::kConv1d, {{"in_channels", D(d)}, {"out_channels", D(2 * d)},
                                      {"kernel_size", 1}},
                         p + "_pointwise1");
  const auto a = g.Add(T::kNarrow, {{"start", 0}, {"length", D(d)}}, {pw}, p + "_glu_a");
  g.Add(T::kNarrow, {{"start", D(d)}, {"length", D(d)}}, {pw}, p + "_glu_b");
  const auto gate = g.Then(T::kSigmoid, {}, p + "_glu_gate");
  g.Add(T::kMul, {}, {a, gate}, p + "_glu");
  g.Then(T::kConv1d, {{"in_channels", D(d)}, {"out_channels", D(d)},
                      {"kernel_size", D(s.kernel)}, {"padding", D(s.kernel / 2)},
                      {"groups", D(d)}},
         p + "_depthwise");
  g.Then(T::kBatchNorm1d, {}, p + "_conv_bn");
  g.Then(T::kSiLU, {}, p + "_conv_act");
  g.Then(T::kConv1d, {{"in_channels", D(d)}, {"out_channels", D(d)}, {"kernel_size", 1}},
         p + "_pointwise2");
  g.Then(T::kTranspose, {}, p + "_to_time");
  y = g.Then(T::kDropout, {{"p", 0.1}}, p + "_conv_drop");
  x = g.Add(T::kAdd, {}, {x, y}, p + "_conv_residual");
  x = FeedForward(g, x, d, p + "_ff2");
  return g.Add(T::kLayerNorm, {}, {x}, p + "_norm");
}

// Conformer (S-sized by default: 144 wide, 4 heads) for keyword spotting: a 2-layer strided
// conv subsampling (4x in time), a projection, the blocks, mean pooling over time and a
// classifier.
Result<Architecture> Conformer(const std::string& name, const EncoderShape& s) {
  GraphBuilder g(name, "conformer", {s.frames, s.mels});
  g.Then(T::kTranspose, {}, "to_channels");  // [mels, frames]
  g.Then(T::kConv1d, {{"in_channels", D(s.mels)}, {"out_channels", D(s.d_model)},
                      {"kernel_size", 3}, {"stride", 2}, {"padding", 1}},
         "subsample1");
  g.Then(T::kReLU, {}, "subsample1_act");
  g.Then(T::kConv1d, {{"in_channels", D(s.d_model)}, {"out_channels", D(s.d_model)},
                      {"kernel_size", 3}, {"stride", 2}, {"padding", 1}},
         "subsample2");
  g.Then(T::kReLU, {}, "subsample2_act");
  g.Then(T::kTranspose, {}, "to_time");
  auto x = g.Then(T::kLinear, {{"in_features", D(s.d_model)}, {"out_features", D(s.d_model)}},
                  "projection");
  for (int64_t i = 0; i < s.layers; ++i) x = ConformerBlock(g, x, s, "block" + std::to_string(i));
  g.Then(T::kTranspose, {}, "pool_channels");
  g.Then(T::kAdaptiveAvgPool1d, {{"output_size", 1}}, "pool");
  g.Then(T::kFlatten, {}, "flatten");
  g.Then(T::kLinear, {{"in_features", D(s.d_model)}, {"out_features", D(s.classes)}},
         "classifier");
  return std::move(g).Finish();
}

// Whisper's encoder layout: two GELU conv layers (the second at stride 2), positional
// embeddings, pre-norm blocks, a final LayerNorm.
Result<Architecture> AudioEncoder(const std::string& name, const EncoderShape& s) {
  GraphBuilder g(name, "audio-encoder", {s.mels, s.frames});
  g.Then(T::kConv1d, {{"in_channels", D(s.mels)}, {"out_channels", D(s.d_model)},
                      {"kernel_size", 3}, {"padding", 1}},
         "conv1");
  g.Then(T::kGELU, {}, "conv1_act");
  g.Then(T::kConv1d, {{"in_channels", D(s.d_model)}, {"out_channels", D(s.d_model)},
                      {"kernel_size", 3}, {"stride", 2}, {"padding", 1}},
         "conv2");
  g.Then(T::kGELU, {}, "conv2_act");
  g.Then(T::kTranspose, {}, "to_time");
  g.Then(T::kPositionalEmbedding, {}, "position_embedding");
  for (int64_t i = 0; i < s.layers; ++i) {
    g.Then(T::kTransformerEncoderLayer,
           {{"nhead", D(s.heads)}, {"dim_feedforward", D(4 * s.d_model)}, {"dropout", 0},
            {"gelu", 1}, {"norm_first", 1}},
           "block" + std::to_string(i));
  }
  g.Then(T::kLayerNorm, {}, "final_norm");
  return std::move(g).Finish();
}

Result<Architecture> BuildM5(const PointReader& r) {
  const int64_t width = r.Int("width"), samples = r.Int("samples"), classes = r.Int("classes");
  std::string name = "m5-w" + std::to_string(width) + "-n" + std::to_string(samples);
  if (classes != 35) name += "-c" + std::to_string(classes);
  return M5(name, width, samples, classes);
}

Result<Architecture> BuildEncoder(const PointReader& r) {
  const std::string& family = r.family();
  WF_RETURN_IF_ERROR(r.Divides("heads", "d_model"));
  EncoderShape s;
  r.Fill({{"layers", &s.layers}, {"d_model", &s.d_model}, {"heads", &s.heads},
          {"frames", &s.frames}, {"mels", &s.mels}, {"classes", &s.classes}});
  std::string name = family + "-l" + std::to_string(s.layers) + "-d" + std::to_string(s.d_model) +
                     "-h" + std::to_string(s.heads) + "-t" + std::to_string(s.frames);
  if (s.mels != 80) name += "-m" + std::to_string(s.mels);
  if (family == "conformer") {
    if (s.classes != 35) name += "-c" + std::to_string(s.classes);
    return Conformer(name, s);
  }
  return AudioEncoder(name, s);
}

}  // namespace

void AddAudioModels(Registry& r) {
  r.models.push_back({"m5", "Dai et al. 2017, torchaudio's M5 (32 channels, 8 kHz, 1 s)",
                      [] { return M5("m5", 32, 8000, 35); }});
  r.models.push_back({"conformer-s", "Conformer-S-sized keyword spotter (4 x 144)",
                      [] { return Conformer("conformer-s", EncoderShape{}); }});
  r.models.push_back({"whisper-tiny-encoder", "Whisper tiny's encoder layout (4 x 384, 3 s)",
                      [] {
                        return AudioEncoder("whisper-tiny-encoder",
                                            EncoderShape{4, 384, 6, 300, 80, 0, 31});
                      }});
  r.families.push_back({"m5", BuildM5});
  for (const char* family : {"conformer", "audio-encoder"}) {
    r.families.push_back({family, BuildEncoder});
  }
}

}  // namespace wattfleet::zoo
