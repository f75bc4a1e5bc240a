// torchvision's RegNet (Radosavovic et al. 2020) and ConvNeXt (Liu et al. 2022), and the
// regnet and convnext families.
#include <algorithm>
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

constexpr LayerType kReLU = LayerType::kReLU;

// ---- RegNet --------------------------------------------------------------------------------

// The stages that torchvision's BlockParams.from_init_params derives from (depth, w_0, w_a,
// w_m, group_width). They are listed rather than recomputed because torchvision quantizes in
// float32, whose rounding a double recomputation need not reproduce.
struct RegNetSpec {
  std::string name;
  std::vector<int64_t> widths;
  std::vector<int> depths;
  int64_t group_width;
  bool se;  // Y models: squeeze-and-excitation with se_ratio 0.25
};

// int(round(0.25 * width)) with Python's round-half-to-even.
int64_t QuarterRounded(int64_t width) {
  const int64_t q = width / 4, rem = width % 4;
  if (rem == 2) return q % 2 == 0 ? q : q + 1;
  return rem > 2 ? q + 1 : q;
}

// ResBottleneckBlock: 1x1, grouped 3x3 (stride), optional SE, linear 1x1, plus the shortcut
// (projected when the shape changes), then ReLU. bottleneck_multiplier is 1.0 in every model.
Id RegNetBlock(GraphBuilder& g, Id x, int64_t out, int64_t stride, const RegNetSpec& s) {
  const int64_t in = Channels(g, x);
  // The projection first, as torchvision's `self.proj(x) + self.f(x)` runs it: the block's
  // input is then released after the branch's first convolution, not held through it.
  const Id shortcut = (in != out || stride != 1) ? ConvBn(g, x, out, 1, stride) : x;
  Id y = ConvBnAct(g, x, out, 1, 1, 1, kReLU);
  y = ConvBnAct(g, y, out, 3, stride, out / s.group_width, kReLU);
  // The squeeze width is a quarter of the block's input width, not of the bottleneck's.
  if (s.se) y = SqueezeExcite(g, y, QuarterRounded(in), kReLU, LayerType::kSigmoid);
  y = ConvBn(g, y, out, 1);
  return Act(g, Residual(g, shortcut, y), kReLU);
}

Result<Architecture> RegNet(const RegNetSpec& s, int64_t resolution = 224,
                            int64_t classes = 1000) {
  GraphBuilder g(s.name, "regnet", {3, resolution, resolution});
  Id x = ConvBnAct(g, GraphBuilder::kInput, 32, 3, 2, 1, kReLU);  // SimpleStemIN, width 32
  for (size_t stage = 0; stage < s.widths.size(); ++stage) {
    for (int b = 0; b < s.depths[stage]; ++b) {
      x = RegNetBlock(g, x, s.widths[stage], b == 0 ? 2 : 1, s);
    }
  }
  Linear(g, PoolFlatten(g, x), classes);
  return std::move(g).Finish();
}

const std::vector<RegNetSpec>& RegNets() {
  static const std::vector<RegNetSpec> kModels = {
      {"regnet_x_400mf", {32, 64, 160, 400}, {1, 2, 7, 12}, 16, false},
      {"regnet_x_800mf", {64, 128, 288, 672}, {1, 3, 7, 5}, 16, false},
      {"regnet_x_1_6gf", {72, 168, 408, 912}, {2, 4, 10, 2}, 24, false},
      {"regnet_y_400mf", {48, 104, 208, 440}, {1, 3, 6, 6}, 8, true},
      {"regnet_y_800mf", {64, 144, 320, 784}, {1, 3, 8, 2}, 16, true},
      {"regnet_y_1_6gf", {48, 120, 336, 888}, {2, 6, 17, 2}, 24, true},
  };
  return kModels;
}

// One of torchvision's six RegNets, at any resolution: the stages keep their grouped 3x3
// convolutions (group width 8 to 24), which is what sets RegNet apart.
Result<Architecture> BuildRegNetFamily(const PointReader& r) {
  const int64_t y = r.Int("y"), mf = r.Int("mf");
  const int64_t resolution = r.Int("resolution"), classes = r.Int("classes");
  const std::string torchvision_name = std::string("regnet_") + (y ? "y_" : "x_") +
                                       (mf == 1600 ? "1_6gf" : std::to_string(mf) + "mf");
  for (const RegNetSpec& s : RegNets()) {
    if (s.name != torchvision_name) continue;
    RegNetSpec named = s;
    named.name = std::string("regnet-") + (y ? "y" : "x") + std::to_string(mf) + "-r" +
                 std::to_string(resolution) + ClassesSuffix(classes);
    return RegNet(named, resolution, classes);
  }
  return r.Bad("mf", "has no model " + torchvision_name);
}

// ---- ConvNeXt ------------------------------------------------------------------------------

// LayerNorm2d normalizes the channels of every position: permuted to channels-last, a
// LayerNorm over C, and back.
Id LayerNorm2d(GraphBuilder& g, Id x) {
  x = g.Add(LayerType::kChannelsLast, {}, {x});
  x = g.Add(LayerType::kLayerNorm, {}, {x});
  return g.Add(LayerType::kChannelsFirst, {}, {x});
}

// CNBlock: depthwise 7x7 (with bias), then channels-last LayerNorm, Linear 4x, GELU, Linear,
// back to channels-first, the learned per-channel layer scale, and the residual
// (StochasticDepth omitted).
Id CNBlock(GraphBuilder& g, Id x) {
  const int64_t dim = Channels(g, x);
  Id y = Conv(g, x, dim, 7, 1, dim, /*bias=*/true, 3);
  y = g.Add(LayerType::kChannelsLast, {}, {y});
  y = g.Add(LayerType::kLayerNorm, {}, {y});
  y = Act(g, Linear(g, y, 4 * dim), LayerType::kGELU);
  y = Linear(g, y, dim);
  y = g.Add(LayerType::kChannelsFirst, {}, {y});
  y = g.Add(LayerType::kLayerScale, {}, {y});
  return Residual(g, y, x);
}

struct ConvNeXtConfig {
  std::string name;
  std::string family = "convnext";
  int64_t size = 0;     // 0 tiny, 1 small, 2 base, 3 large
  int64_t width = 100;  // percent of the variant's stage widths
  int64_t resolution = 224;
  int64_t classes = 1000;
};

const char* const kConvNeXtSizes[] = {"tiny", "small", "base", "large"};

Result<Architecture> BuildConvNeXt(const ConvNeXtConfig& c) {
  static const int64_t kBaseDims[] = {96, 96, 128, 192};
  const std::vector<int> depths = c.size == 0 ? std::vector<int>{3, 3, 9, 3}
                                              : std::vector<int>{3, 3, 27, 3};
  const int64_t dim0 = std::max<int64_t>(1, (kBaseDims[c.size] * c.width + 50) / 100);
  GraphBuilder g(c.name, c.family, {3, c.resolution, c.resolution});
  // Stem: 4x4 patchify conv with bias, then LayerNorm2d.
  Id x = LayerNorm2d(g, Conv(g, GraphBuilder::kInput, dim0, 4, 4, 1, true, 0));
  for (size_t stage = 0; stage < depths.size(); ++stage) {
    if (stage > 0) {  // downsampling: LayerNorm2d, then a 2x2 stride-2 conv doubling width
      x = LayerNorm2d(g, x);
      x = Conv(g, x, dim0 << stage, 2, 2, 1, true, 0);
    }
    for (int b = 0; b < depths[stage]; ++b) x = CNBlock(g, x);
  }
  // Classifier: global average, LayerNorm2d, Flatten, Linear.
  x = g.Add(LayerType::kAdaptiveAvgPool2d, {{"output_size", 1}}, {x});
  x = g.Add(LayerType::kFlatten, {}, {LayerNorm2d(g, x)});
  Linear(g, x, c.classes);
  return std::move(g).Finish();
}

Result<Architecture> BuildConvNeXtFamily(const PointReader& r) {
  ConvNeXtConfig c;
  r.Fill({{"size", &c.size}, {"width", &c.width}, {"resolution", &c.resolution},
          {"classes", &c.classes}});
  if (c.size >= static_cast<int64_t>(std::size(kConvNeXtSizes))) {
    return r.Bad("size", "has no variant");
  }
  c.name = std::string("convnext-") + kConvNeXtSizes[c.size] + "-w" + std::to_string(c.width) +
           "-r" + std::to_string(c.resolution) + ClassesSuffix(c.classes);
  return BuildConvNeXt(c);
}

}  // namespace

void AddRegNetsAndConvNeXts(Registry& r) {
  for (const RegNetSpec& s : RegNets()) {
    r.models.push_back({s.name, Source(s.name), [&s] { return RegNet(s); }});
  }
  r.families.push_back({"regnet", BuildRegNetFamily});
  for (int64_t size = 0; size < 4; ++size) {
    ConvNeXtConfig c;
    c.name = std::string("convnext_") + kConvNeXtSizes[size];
    c.size = size;
    r.models.push_back({c.name, Source(c.name), [c] { return BuildConvNeXt(c); }});
  }
  r.families.push_back({"convnext", BuildConvNeXtFamily});
}

}  // namespace wattfleet::zoo::vision
