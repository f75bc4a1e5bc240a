// torchvision's EfficientNet B0-B7 (Tan and Le 2019) and the efficientnet family.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

constexpr LayerType kSiLU = LayerType::kSiLU;

// torchvision's _efficientnet_conf multipliers, classifier dropout and the resolution of its
// evaluation transforms, per variant.
struct Variant {
  double width_mult;
  double depth_mult;
  double dropout;
  int64_t resolution;
};
constexpr Variant kVariants[] = {
    {1.0, 1.0, 0.2, 224}, {1.0, 1.1, 0.2, 240}, {1.1, 1.2, 0.3, 288}, {1.2, 1.4, 0.3, 300},
    {1.4, 1.8, 0.4, 380}, {1.6, 2.2, 0.4, 456}, {1.8, 2.6, 0.5, 528}, {2.0, 3.1, 0.5, 600}};
constexpr int64_t kVariantCount = sizeof(kVariants) / sizeof(kVariants[0]);

// MBConv: 1x1 expansion (unless the ratio is 1), depthwise conv, squeeze-and-excitation
// (squeeze = input channels / 4, SiLU, Sigmoid gate), linear 1x1 projection, and the residual
// when the shape is kept (StochasticDepth omitted).
Id MBConv(GraphBuilder& g, Id x, int64_t expand, int64_t kernel, int64_t stride, int64_t out) {
  const int64_t in = Channels(g, x);
  const int64_t expanded = MakeDivisible(static_cast<double>(in * expand));
  Id y = x;
  if (expanded != in) y = ConvBnAct(g, y, expanded, 1, 1, 1, kSiLU);
  y = ConvBnAct(g, y, expanded, kernel, stride, expanded, kSiLU);
  y = SqueezeExcite(g, y, std::max<int64_t>(1, in / 4), kSiLU, LayerType::kSigmoid);
  y = ConvBn(g, y, out, 1);
  return (stride == 1 && in == out) ? Residual(g, y, x) : y;
}

struct EfficientNetConfig {
  std::string name;
  std::string family = "efficientnet";
  int64_t variant = 0;
  int64_t resolution = 224;
  int64_t classes = 1000;
};

Result<Architecture> BuildEfficientNet(const EfficientNetConfig& c) {
  // torchvision's bneck_conf rows: expand ratio, kernel, stride, in, out, layers (at B0).
  struct Stage {
    int64_t expand, kernel, stride, in, out, layers;
  };
  static const Stage kStages[] = {{1, 3, 1, 32, 16, 1},   {6, 3, 2, 16, 24, 2},
                                  {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
                                  {6, 5, 1, 80, 112, 3},  {6, 5, 2, 112, 192, 4},
                                  {6, 3, 1, 192, 320, 1}};
  const Variant& v = kVariants[c.variant];
  // adjust_channels and adjust_depth, in double as Python computes them.
  auto channels = [&](int64_t ch) { return MakeDivisible(static_cast<double>(ch) * v.width_mult); };
  auto depth = [&](int64_t n) {
    return static_cast<int64_t>(std::ceil(static_cast<double>(n) * v.depth_mult));
  };

  GraphBuilder g(c.name, c.family, {3, c.resolution, c.resolution});
  Id x = ConvBnAct(g, GraphBuilder::kInput, channels(kStages[0].in), 3, 2, 1, kSiLU);
  for (const Stage& s : kStages) {
    const int64_t layers = depth(s.layers);
    for (int64_t i = 0; i < layers; ++i) {
      x = MBConv(g, x, s.expand, s.kernel, i == 0 ? s.stride : 1, channels(s.out));
    }
  }
  x = ConvBnAct(g, x, 4 * Channels(g, x), 1, 1, 1, kSiLU);
  x = Dropout(g, PoolFlatten(g, x), v.dropout);
  Linear(g, x, c.classes);
  return std::move(g).Finish();
}

Result<Architecture> BuildEfficientNetFamily(const PointReader& r) {
  EfficientNetConfig c;
  c.variant = r.Int("variant");
  if (c.variant >= kVariantCount) return r.Bad("variant", "has no table of multipliers");
  c.resolution = r.Int("resolution", kVariants[c.variant].resolution);
  c.classes = r.Int("classes");
  c.name = "efficientnet-b" + std::to_string(c.variant) + "-r" + std::to_string(c.resolution) +
           ClassesSuffix(c.classes);
  return BuildEfficientNet(c);
}

}  // namespace

void AddEfficientNets(Registry& r) {
  for (int64_t variant = 0; variant < kVariantCount; ++variant) {
    EfficientNetConfig c;
    c.name = "efficientnet_b" + std::to_string(variant);
    c.variant = variant;
    c.resolution = kVariants[variant].resolution;
    r.models.push_back({c.name, Source(c.name), [c] { return BuildEfficientNet(c); }});
  }
  r.families.push_back({"efficientnet", BuildEfficientNetFamily});
}

}  // namespace wattfleet::zoo::vision
