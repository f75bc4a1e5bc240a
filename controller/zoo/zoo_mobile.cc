// torchvision's MobileNetV2, MobileNetV3 and ShuffleNetV2, and the mobilenet_v2 family.
#include <algorithm>
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

constexpr LayerType kReLU = LayerType::kReLU;
constexpr LayerType kReLU6 = LayerType::kReLU6;
constexpr LayerType kHardswish = LayerType::kHardswish;

// ---- MobileNetV2 ---------------------------------------------------------------------------

// MobileNetV2's InvertedResidual: optional 1x1 expansion, 3x3 depthwise, linear 1x1
// projection; the residual only when the shape is kept.
Id InvertedResidualV2(GraphBuilder& g, Id x, int64_t out, int64_t stride, int64_t expand) {
  const int64_t in = Channels(g, x);
  const int64_t hidden = in * expand;  // int(round(inp * expand_ratio)) with integer ratios
  Id y = x;
  if (expand != 1) y = ConvBnAct(g, y, hidden, 1, 1, 1, kReLU6);
  y = ConvBnAct(g, y, hidden, 3, stride, hidden, kReLU6);
  y = ConvBn(g, y, out, 1);
  return (stride == 1 && in == out) ? Residual(g, x, y) : y;
}

struct MobileNetV2Config {
  std::string name = "mobilenet_v2";
  std::string family = "mobilenet_v2";
  int64_t width = 100;  // percent: torchvision's width_mult x 100
  int64_t resolution = 224;
  int64_t classes = 1000;
};

Result<Architecture> BuildMobileNetV2(const MobileNetV2Config& c) {
  // torchvision's inverted_residual_setting: expansion t, channels c, repeats n, stride s.
  struct Stage {
    int64_t t, c, n, s;
  };
  static const Stage kStages[] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  // width / 100.0 is the same double as the literal multiplier (e.g. 1.4) in Python.
  const double mult = static_cast<double>(c.width) / 100.0;
  GraphBuilder g(c.name, c.family, {3, c.resolution, c.resolution});
  Id x = ConvBnAct(g, GraphBuilder::kInput, MakeDivisible(32 * mult), 3, 2, 1, kReLU6);
  for (const Stage& s : kStages) {
    const int64_t out = MakeDivisible(static_cast<double>(s.c) * mult);
    for (int64_t i = 0; i < s.n; ++i) {
      x = InvertedResidualV2(g, x, out, i == 0 ? s.s : 1, s.t);
    }
  }
  // The last conv never narrows below 1280 (max(1.0, width_mult)).
  x = ConvBnAct(g, x, MakeDivisible(1280 * std::max(1.0, mult)), 1, 1, 1, kReLU6);
  x = Dropout(g, PoolFlatten(g, x), 0.2);
  Linear(g, x, c.classes);
  return std::move(g).Finish();
}

Result<Architecture> BuildMobileNetV2Family(const PointReader& r) {
  MobileNetV2Config c;
  r.Fill({{"width", &c.width}, {"resolution", &c.resolution}, {"classes", &c.classes}});
  c.name = "mobilenet_v2-w" + std::to_string(c.width) + "-r" + std::to_string(c.resolution) +
           ClassesSuffix(c.classes);
  return BuildMobileNetV2(c);
}

// ---- MobileNetV3 ---------------------------------------------------------------------------

// torchvision's InvertedResidualConfig at width_mult 1.0 (all channels are multiples of 8).
struct BlockV3 {
  int64_t kernel, expanded, out;
  bool se;
  bool hardswish;  // "HS", else "RE"
  int64_t stride;
};

Id InvertedResidualV3(GraphBuilder& g, Id x, const BlockV3& b) {
  const int64_t in = Channels(g, x);
  const LayerType act = b.hardswish ? kHardswish : kReLU;
  Id y = x;
  if (b.expanded != in) y = ConvBnAct(g, y, b.expanded, 1, 1, 1, act);
  y = ConvBnAct(g, y, b.expanded, b.kernel, b.stride, b.expanded, act);
  if (b.se) {
    y = SqueezeExcite(g, y, MakeDivisible(static_cast<double>(b.expanded / 4)), kReLU,
                      LayerType::kHardsigmoid);
  }
  y = ConvBn(g, y, b.out, 1);
  return (b.stride == 1 && in == b.out) ? Residual(g, x, y) : y;
}

Result<Architecture> MobileNetV3(bool large) {
  static const std::vector<BlockV3> kLarge = {
      {3, 16, 16, false, false, 1},   {3, 64, 24, false, false, 2},
      {3, 72, 24, false, false, 1},   {5, 72, 40, true, false, 2},
      {5, 120, 40, true, false, 1},   {5, 120, 40, true, false, 1},
      {3, 240, 80, false, true, 2},   {3, 200, 80, false, true, 1},
      {3, 184, 80, false, true, 1},   {3, 184, 80, false, true, 1},
      {3, 480, 112, true, true, 1},   {3, 672, 112, true, true, 1},
      {5, 672, 160, true, true, 2},   {5, 960, 160, true, true, 1},
      {5, 960, 160, true, true, 1}};
  static const std::vector<BlockV3> kSmall = {
      {3, 16, 16, true, false, 2},   {3, 72, 24, false, false, 2},
      {3, 88, 24, false, false, 1},  {5, 96, 40, true, true, 2},
      {5, 240, 40, true, true, 1},   {5, 240, 40, true, true, 1},
      {5, 120, 48, true, true, 1},   {5, 144, 48, true, true, 1},
      {5, 288, 96, true, true, 2},   {5, 576, 96, true, true, 1},
      {5, 576, 96, true, true, 1}};
  const std::string name = large ? "mobilenet_v3_large" : "mobilenet_v3_small";
  GraphBuilder g(name, "mobilenet_v3", {3, 224, 224});
  Id x = ConvBnAct(g, GraphBuilder::kInput, 16, 3, 2, 1, kHardswish);
  for (const BlockV3& b : large ? kLarge : kSmall) x = InvertedResidualV3(g, x, b);
  // The last conv has 6x the channels of the last block; the head widens to last_channel.
  x = ConvBnAct(g, x, 6 * Channels(g, x), 1, 1, 1, kHardswish);
  x = Act(g, Linear(g, PoolFlatten(g, x), large ? 1280 : 1024), kHardswish);
  Linear(g, Dropout(g, x, 0.2), 1000);
  return std::move(g).Finish();
}

// ---- ShuffleNetV2 --------------------------------------------------------------------------

// ShuffleNetV2's InvertedResidual. Stride 1 splits the channels in two (torch.chunk: two
// Narrow nodes) and transforms the second half; stride 2 transforms the whole input on two
// branches. Either way the halves are concatenated and shuffled in 2 groups.
Id ShuffleBlock(GraphBuilder& g, Id x, int64_t out, int64_t stride) {
  const int64_t half = out / 2;
  Id left = x;
  Id right = x;
  if (stride == 1) {
    const int64_t in_half = Channels(g, x) / 2;
    left = g.Add(LayerType::kNarrow, {{"dim", 0}, {"start", 0}, {"length", in_half}}, {x});
    right = g.Add(LayerType::kNarrow, {{"dim", 0}, {"start", in_half}, {"length", in_half}}, {x});
  } else {
    left = ConvBn(g, x, Channels(g, x), 3, stride, Channels(g, x));
    left = ConvBnAct(g, left, half, 1, 1, 1, kReLU);
  }
  right = ConvBnAct(g, right, half, 1, 1, 1, kReLU);
  right = ConvBn(g, right, half, 3, stride, half);
  right = ConvBnAct(g, right, half, 1, 1, 1, kReLU);
  const Id cat = g.Add(LayerType::kConcat, {}, {left, right});
  return g.Add(LayerType::kChannelShuffle, {{"groups", 2}}, {cat});
}

Result<Architecture> ShuffleNetV2(const std::string& name, const std::vector<int64_t>& widths) {
  GraphBuilder g(name, "shufflenet_v2", {3, 224, 224});
  Id x = ConvBnAct(g, GraphBuilder::kInput, widths[0], 3, 2, 1, kReLU);
  x = MaxPool(g, x, 3, 2, 1);
  const int repeats[] = {4, 8, 4};
  for (int stage = 0; stage < 3; ++stage) {
    for (int i = 0; i < repeats[stage]; ++i) {
      x = ShuffleBlock(g, x, widths[stage + 1], i == 0 ? 2 : 1);
    }
  }
  x = ConvBnAct(g, x, widths[4], 1, 1, 1, kReLU);
  Linear(g, PoolFlatten(g, x), 1000);  // x.mean([2, 3]): a global average
  return std::move(g).Finish();
}

ModelEntry NamedShuffleNet(const std::string& name, std::vector<int64_t> widths) {
  return {name, Source(name), [=] { return ShuffleNetV2(name, widths); }};
}

}  // namespace

void AddMobileNets(Registry& r) {
  r.models.push_back(
      {"mobilenet_v2", Source("mobilenet_v2"), [] { return BuildMobileNetV2({}); }});
  r.families.push_back({"mobilenet_v2", BuildMobileNetV2Family});
  r.models.push_back(
      {"mobilenet_v3_large", Source("mobilenet_v3_large"), [] { return MobileNetV3(true); }});
  r.models.push_back(
      {"mobilenet_v3_small", Source("mobilenet_v3_small"), [] { return MobileNetV3(false); }});
  r.models.push_back(NamedShuffleNet("shufflenet_v2_x0_5", {24, 48, 96, 192, 1024}));
  r.models.push_back(NamedShuffleNet("shufflenet_v2_x1_0", {24, 116, 232, 464, 1024}));
  r.models.push_back(NamedShuffleNet("shufflenet_v2_x1_5", {24, 176, 352, 704, 1024}));
  r.models.push_back(NamedShuffleNet("shufflenet_v2_x2_0", {24, 244, 488, 976, 2048}));
}

}  // namespace wattfleet::zoo::vision
