// torchvision's AlexNet, VGG, SqueezeNet and DenseNet, and the vgg family.
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

constexpr LayerType kReLU = LayerType::kReLU;

// torchvision's AlexNet: the single-GPU variant of "One weird trick" (Krizhevsky 2014), with
// 64/192/384/256/256 filters.
Result<Architecture> AlexNet() {
  GraphBuilder g("alexnet", "alexnet", {3, 224, 224});
  Id x = Act(g, Conv(g, GraphBuilder::kInput, 64, 11, 4, 1, true, 2), kReLU);
  x = MaxPool(g, x, 3, 2);
  x = Act(g, Conv(g, x, 192, 5, 1, 1, true), kReLU);
  x = MaxPool(g, x, 3, 2);
  x = Act(g, Conv(g, x, 384, 3, 1, 1, true), kReLU);
  x = Act(g, Conv(g, x, 256, 3, 1, 1, true), kReLU);
  x = Act(g, Conv(g, x, 256, 3, 1, 1, true), kReLU);
  x = MaxPool(g, x, 3, 2);
  x = g.Add(LayerType::kAdaptiveAvgPool2d, {{"output_size", 6}}, {x});
  x = g.Add(LayerType::kFlatten, {}, {x});
  x = Act(g, Linear(g, Dropout(g, x, 0.5), 4096), kReLU);
  x = Act(g, Linear(g, Dropout(g, x, 0.5), 4096), kReLU);
  Linear(g, x, 1000);
  return std::move(g).Finish();
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

const std::vector<ParamInfo>& VggParams() {
  static const std::vector<ParamInfo> kParams = {
      {"bn", "1: BatchNorm2d after every conv (vggNN_bn) (default 0)"},
      {"classes", "output classes (default 1000)"},
      {"depth", "11, 13, 16 or 19 weight layers (default 16)"},
      {"resolution", "input height and width (default 224, at least 32)"},
      {"width", "percent of torchvision's conv channels; the 4096-wide classifier stays "
                "(default 100)"},
  };
  return kParams;
}

Result<Architecture> BuildVggFamily(const SweepPoint& point) {
  PointReader r("vgg", point, VggParams());
  WF_RETURN_IF_ERROR(r.CheckNames());
  VggConfig c;
  WF_ASSIGN_OR_RETURN(c.depth, r.Scalar("depth", 16, 19, 11));
  if (c.depth != 11 && c.depth != 13 && c.depth != 16 && c.depth != 19) {
    return r.Bad("depth", "must be 11, 13, 16 or 19, got " + std::to_string(c.depth));
  }
  WF_ASSIGN_OR_RETURN(int64_t bn, r.Scalar("bn", 0, 1, 0));
  c.bn = bn != 0;
  WF_ASSIGN_OR_RETURN(c.width, r.Scalar("width", 100, 800, 5));
  WF_ASSIGN_OR_RETURN(c.resolution, ReadResolution(r, 224, 32));
  WF_ASSIGN_OR_RETURN(c.classes, ReadClasses(r));
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

// ---- DenseNet ------------------------------------------------------------------------------

// torchvision's _DenseLayer reads the concatenation of all earlier features of its block
// (bn_function's torch.cat); the first layer reads the block input alone.
Id DenseLayer(GraphBuilder& g, const std::vector<Id>& features, int64_t growth, int64_t bn_size) {
  Id x = features.size() == 1 ? features[0] : g.Add(LayerType::kConcat, {}, features);
  x = Act(g, g.Add(LayerType::kBatchNorm2d, {}, {x}), kReLU);
  x = Conv(g, x, bn_size * growth, 1);
  x = Act(g, g.Add(LayerType::kBatchNorm2d, {}, {x}), kReLU);
  return Conv(g, x, growth, 3);  // drop_rate 0: no dropout
}

Id DenseBlock(GraphBuilder& g, Id x, int layers, int64_t growth) {
  std::vector<Id> features = {x};
  for (int i = 0; i < layers; ++i) features.push_back(DenseLayer(g, features, growth, 4));
  return g.Add(LayerType::kConcat, {}, features);
}

// Transition: BN, ReLU, 1x1 conv halving the channels, 2x2 average pool.
Id Transition(GraphBuilder& g, Id x) {
  x = Act(g, g.Add(LayerType::kBatchNorm2d, {}, {x}), kReLU);
  x = Conv(g, x, Channels(g, x) / 2, 1);
  return g.Add(LayerType::kAvgPool2d, {{"kernel_size", 2}, {"stride", 2}}, {x});
}

Result<Architecture> DenseNet(const std::string& name, const std::vector<int>& blocks,
                              int64_t growth, int64_t init_features) {
  GraphBuilder g(name, "densenet", {3, 224, 224});
  Id x = ConvBnAct(g, GraphBuilder::kInput, init_features, 7, 2, 1, kReLU);
  x = MaxPool(g, x, 3, 2, 1);
  for (size_t i = 0; i < blocks.size(); ++i) {
    x = DenseBlock(g, x, blocks[i], growth);
    if (i + 1 < blocks.size()) x = Transition(g, x);
  }
  x = Act(g, g.Add(LayerType::kBatchNorm2d, {}, {x}), kReLU);  // norm5, then forward's relu
  Linear(g, PoolFlatten(g, x), 1000);
  return std::move(g).Finish();
}

ModelEntry NamedDenseNet(const std::string& name, std::vector<int> blocks, int64_t growth,
                         int64_t init_features) {
  return {name, Source(name), [=] { return DenseNet(name, blocks, growth, init_features); }};
}

}  // namespace

void AddClassicVision(Registry& r) {
  r.models.push_back({"alexnet", Source("alexnet"), AlexNet});
  for (int64_t depth : {11, 13, 16, 19}) {
    r.models.push_back(NamedVgg(depth, false));
    r.models.push_back(NamedVgg(depth, true));
  }
  r.families.push_back({"vgg", VggParams(), BuildVggFamily});
  r.models.push_back({"squeezenet1_0", Source("squeezenet1_0"), [] { return SqueezeNet(false); }});
  r.models.push_back({"squeezenet1_1", Source("squeezenet1_1"), [] { return SqueezeNet(true); }});
  r.models.push_back(NamedDenseNet("densenet121", {6, 12, 24, 16}, 32, 64));
  r.models.push_back(NamedDenseNet("densenet161", {6, 12, 36, 24}, 48, 96));
  r.models.push_back(NamedDenseNet("densenet169", {6, 12, 32, 32}, 32, 64));
  r.models.push_back(NamedDenseNet("densenet201", {6, 12, 48, 32}, 32, 64));
}

}  // namespace wattfleet::zoo::vision
