// torchvision's image classifiers, layer for layer: the shared building blocks and the
// registration of every vision file.
//
// Parameter counts equal torchvision 0.14's exactly (trainable parameters; BatchNorm running
// statistics are buffers). StochasticDepth is omitted everywhere: it is the identity at
// inference, which is what the agent measures.
#include "zoo_vision.h"

#include <algorithm>
#include <utility>

namespace wattfleet::zoo::vision {

int64_t Channels(const GraphBuilder& g, Id x) {
  const Shape s = g.ShapeOf(x);
  return s.empty() ? 1 : s[0];
}

Id Conv(GraphBuilder& g, Id x, int64_t out, int64_t k, int64_t stride, int64_t groups,
        bool bias, int64_t padding) {
  return g.Add(LayerType::kConv2d,
               {{"in_channels", Channels(g, x)},
                {"out_channels", out},
                {"kernel_size", k},
                {"stride", stride},
                {"padding", padding < 0 ? (k - 1) / 2 : padding},
                {"groups", groups},
                {"bias", bias ? 1 : 0}},
               {x});
}

Id ConvBn(GraphBuilder& g, Id x, int64_t out, int64_t k, int64_t stride, int64_t groups) {
  const Id c = Conv(g, x, out, k, stride, groups);
  return g.Add(LayerType::kBatchNorm2d, {}, {c});
}

Id ConvBnAct(GraphBuilder& g, Id x, int64_t out, int64_t k, int64_t stride, int64_t groups,
             LayerType act) {
  return Act(g, ConvBn(g, x, out, k, stride, groups), act);
}

Id Act(GraphBuilder& g, Id x, LayerType act) { return g.Add(act, {}, {x}); }

Id Linear(GraphBuilder& g, Id x, int64_t out, bool bias) {
  const Shape s = g.ShapeOf(x);
  const int64_t in = s.empty() ? 1 : s.back();
  return g.Add(LayerType::kLinear,
               {{"in_features", in}, {"out_features", out}, {"bias", bias ? 1 : 0}}, {x});
}

Id Dropout(GraphBuilder& g, Id x, double p) { return g.Add(LayerType::kDropout, {{"p", p}}, {x}); }

Id MaxPool(GraphBuilder& g, Id x, int64_t k, int64_t stride, int64_t padding, bool ceil_mode) {
  std::map<std::string, double> params = {
      {"kernel_size", k}, {"stride", stride}, {"padding", padding}};
  // Only SqueezeNet pools with ceil_mode; every other pool keeps the default spelling.
  if (ceil_mode) params["ceil_mode"] = 1;
  return g.Add(LayerType::kMaxPool2d, std::move(params), {x});
}

Id PoolFlatten(GraphBuilder& g, Id x) {
  const Id pooled = g.Add(LayerType::kAdaptiveAvgPool2d, {{"output_size", 1}}, {x});
  return g.Add(LayerType::kFlatten, {}, {pooled});
}

Id SqueezeExcite(GraphBuilder& g, Id x, int64_t squeeze, LayerType act, LayerType gate) {
  const int64_t channels = Channels(g, x);
  Id s = g.Add(LayerType::kAdaptiveAvgPool2d, {{"output_size", 1}}, {x});
  s = Act(g, Conv(g, s, squeeze, 1, 1, 1, /*bias=*/true), act);
  s = Act(g, Conv(g, s, channels, 1, 1, 1, /*bias=*/true), gate);
  return g.Add(LayerType::kMul, {}, {x, s});
}

Id Residual(GraphBuilder& g, Id a, Id b) { return g.Add(LayerType::kAdd, {}, {a, b}); }

int64_t MakeDivisible(double v, int64_t divisor) {
  const auto d = static_cast<double>(divisor);
  int64_t rounded = static_cast<int64_t>(v + d / 2) / divisor * divisor;
  rounded = std::max(divisor, rounded);
  if (static_cast<double>(rounded) < 0.9 * v) rounded += divisor;
  return rounded;
}

std::string Source(const std::string& name) { return "torchvision 0.14 " + name; }

std::string ClassesSuffix(int64_t classes) {
  return classes == 1000 ? "" : "-c" + std::to_string(classes);
}

}  // namespace wattfleet::zoo::vision

namespace wattfleet::zoo {

void AddVisionModels(Registry& r) {
  vision::AddResNets(r);
  vision::AddMobileNets(r);
  vision::AddEfficientNets(r);
  vision::AddClassicVision(r);
  vision::AddDenseNets(r);
  vision::AddRegNetsAndConvNeXts(r);
  vision::AddVisionTransformers(r);
}

}  // namespace wattfleet::zoo
