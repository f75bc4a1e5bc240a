// torchvision's AlexNet, VGG and SqueezeNet, and the alexnet and vgg families.
#include <algorithm>
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

constexpr LayerType kReLU = LayerType::kReLU;

// torchvision's AlexNet: the single-GPU variant of "One weird trick" (Krizhevsky 2014), with
// 64/192/384/256/256 filters and a 4096-wide classifier.
struct AlexNetConfig {
  std::string name = "alexnet";
  int64_t width = 100;  // percent of torchvision's conv channels
  int64_t fc = 4096;    // width of the two hidden fully-connected layers
  int64_t resolution = 224;
  int64_t classes = 1000;
};

Result<Architecture> BuildAlexNet(const AlexNetConfig& c) {
  GraphBuilder g(c.name, "alexnet", {3, c.resolution, c.resolution});
  auto channels = [&c](int64_t n) { return std::max<int64_t>(1, (n * c.width + 50) / 100); };
  Id x = Act(g, Conv(g, GraphBuilder::kInput, channels(64), 11, 4, 1, true, 2), kReLU);
  x = MaxPool(g, x, 3, 2);
  x = Act(g, Conv(g, x, channels(192), 5, 1, 1, true), kReLU);
  x = MaxPool(g, x, 3, 2);
  x = Act(g, Conv(g, x, channels(384), 3, 1, 1, true), kReLU);
  x = Act(g, Conv(g, x, channels(256), 3, 1, 1, true), kReLU);
  x = Act(g, Conv(g, x, channels(256), 3, 1, 1, true), kReLU);
  x = MaxPool(g, x, 3, 2);
  // The adaptive pool fixes the classifier's input at 6x6 whatever the resolution, so the
  // first fully-connected layer keeps its 9216 x fc weights at any size.
  x = g.Add(LayerType::kAdaptiveAvgPool2d, {{"output_size", 6}}, {x});
  x = g.Add(LayerType::kFlatten, {}, {x});
  x = Act(g, Linear(g, Dropout(g, x, 0.5), c.fc), kReLU);
  x = Act(g, Linear(g, Dropout(g, x, 0.5), c.fc), kReLU);
  Linear(g, x, c.classes);
  return std::move(g).Finish();
}

Result<Architecture> BuildAlexNetFamily(const PointReader& r) {
  AlexNetConfig c;  // at least 63 px (families.yaml): the third pool's 3x3 window
  r.Fill({{"width", &c.width}, {"fc", &c.fc}, {"resolution", &c.resolution},
          {"classes", &c.classes}});
  c.name = "alexnet-w" + std::to_string(c.width) + "-fc" + std::to_string(c.fc) + "-r" +
           std::to_string(c.resolution) + ClassesSuffix(c.classes);
  return BuildAlexNet(c);
}

// ---- VGG -----------------------------------------------------------------------------------

// torchvision's cfgs "A", "B", "D", "E": output channels of each 3x3 conv, 0 for a max pool.
const std::vector<int64_t>& VggLayout(int64_t depth) {
  static const std::vector<int64_t> k11 = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
  static const std::vector<int64_t> k13 = {64,  64,  0,   128, 128, 0,   256, 256,
                                           0,   512, 512, 0,   512, 512, 0};
  static const std::vector<int64_t> k16 = {64,  64,  0,   128, 128, 0,   256, 256, 256,
                                           0,   512, 512, 512, 0,   512, 512, 512, 0};
  static const std::vector<int64_t> k19 = {64,  64,  0,   128, 128, 0,   256, 256, 256, 256, 0,
                                           512, 512, 512, 512, 0,   512, 512, 512, 512, 0};
  switch (depth) {
    case 11: return k11;
    case 13: return k13;
    case 16: return k16;
    default: return k19;
  }
}

struct VggConfig {
  std::string name;
  std::string family = "vgg";
  int64_t depth = 16;
  bool bn = false;
  int64_t width = 100;  // percent of torchvision's conv channels
  int64_t resolution = 224;
  int64_t classes = 1000;
};

Result<Architecture> BuildVgg(const VggConfig& c) {
  GraphBuilder g(c.name, c.family, {3, c.resolution, c.resolution});
  Id x = GraphBuilder::kInput;
  for (int64_t channels : VggLayout(c.depth)) {
    if (channels == 0) {
      x = MaxPool(g, x, 2, 2);
      continue;
    }
    const int64_t out = std::max<int64_t>(1, (channels * c.width + 50) / 100);
    x = Conv(g, x, out, 3, 1, 1, /*bias=*/true);  // torchvision keeps the bias with BN too
    if (c.bn) x = g.Add(LayerType::kBatchNorm2d, {}, {x});
    x = Act(g, x, kReLU);
  }
  // The adaptive pool fixes the classifier's input at 7x7 whatever the resolution.
  x = g.Add(LayerType::kAdaptiveAvgPool2d, {{"output_size", 7}}, {x});
  x = g.Add(LayerType::kFlatten, {}, {x});
  x = Dropout(g, Act(g, Linear(g, x, 4096), kReLU), 0.5);
  x = Dropout(g, Act(g, Linear(g, x, 4096), kReLU), 0.5);
  Linear(g, x, c.classes);
  return std::move(g).Finish();
}

ModelEntry NamedVgg(int64_t depth, bool bn) {
  VggConfig c;
  c.name = "vgg" + std::to_string(depth) + (bn ? "_bn" : "");
  c.depth = depth;
  c.bn = bn;
  return {c.name, Source(c.name), [c] { return BuildVgg(c); }};
}

Result<Architecture> BuildVggFamily(const PointReader& r) {
  VggConfig c;
  r.Fill({{"depth", &c.depth}, {"width", &c.width}, {"resolution", &c.resolution},
          {"classes", &c.classes}});
  c.bn = r.Int("bn") != 0;
  c.name = "vgg-d" + std::to_string(c.depth) + (c.bn ? "-bn" : "") + "-w" +
           std::to_string(c.width) + "-r" + std::to_string(c.resolution) +
           ClassesSuffix(c.classes);
  return BuildVgg(c);
}

// ---- SqueezeNet ----------------------------------------------------------------------------

// Fire: squeeze 1x1, then expand 1x1 and expand 3x3 side by side, concatenated.
Id Fire(GraphBuilder& g, Id x, int64_t squeeze, int64_t expand1, int64_t expand3) {
  const Id s = Act(g, Conv(g, x, squeeze, 1, 1, 1, true), kReLU);
  const Id e1 = Act(g, Conv(g, s, expand1, 1, 1, 1, true), kReLU);
  const Id e3 = Act(g, Conv(g, s, expand3, 3, 1, 1, true), kReLU);
  return g.Add(LayerType::kConcat, {}, {e1, e3});
}

// SqueezeNet's pools round up (ceil_mode=True), which changes the map sizes from 54 on.
Result<Architecture> SqueezeNet(bool v1_1) {
  const std::string name = v1_1 ? "squeezenet1_1" : "squeezenet1_0";
  GraphBuilder g(name, "squeezenet", {3, 224, 224});
  Id x = GraphBuilder::kInput;
  // Fire modules by squeeze width (expand = 4 x squeeze on each branch); 0 is a pool.
  std::vector<int64_t> fires;
  if (v1_1) {
    x = Act(g, Conv(g, x, 64, 3, 2, 1, true, 0), kReLU);
    fires = {0, 16, 16, 0, 32, 32, 0, 48, 48, 64, 64};
  } else {
    x = Act(g, Conv(g, x, 96, 7, 2, 1, true, 0), kReLU);
    fires = {0, 16, 16, 32, 0, 32, 48, 48, 64, 0, 64};
  }
  for (int64_t squeeze : fires) {
    x = squeeze == 0 ? MaxPool(g, x, 3, 2, 0, /*ceil_mode=*/true)
                     : Fire(g, x, squeeze, 4 * squeeze, 4 * squeeze);
  }
  x = Dropout(g, x, 0.5);
  x = Act(g, Conv(g, x, 1000, 1, 1, 1, true), kReLU);
  PoolFlatten(g, x);
  return std::move(g).Finish();
}

}  // namespace

void AddClassicVision(Registry& r) {
  r.models.push_back({"alexnet", Source("alexnet"), [] { return BuildAlexNet({}); }});
  r.families.push_back({"alexnet", BuildAlexNetFamily});
  for (int64_t depth : {11, 13, 16, 19}) {
    r.models.push_back(NamedVgg(depth, false));
    r.models.push_back(NamedVgg(depth, true));
  }
  r.families.push_back({"vgg", BuildVggFamily});
  r.models.push_back({"squeezenet1_0", Source("squeezenet1_0"), [] { return SqueezeNet(false); }});
  r.models.push_back({"squeezenet1_1", Source("squeezenet1_1"), [] { return SqueezeNet(true); }});
}

}  // namespace wattfleet::zoo::vision
