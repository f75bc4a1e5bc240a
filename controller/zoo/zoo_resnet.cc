// torchvision's ResNet (He et al. 2016, the V1.5 variant with the stride on the 3x3 conv of
// the bottleneck), Wide ResNet and ResNeXt, and the resnet family.
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

struct ResNetConfig {
  std::string name;
  std::string family = "resnet";
  int depth = 50;
  int64_t base = 64;             // stem and first-stage planes (torchvision: 64)
  int64_t groups = 1;            // ResNeXt cardinality
  int64_t width_per_group = 64;  // bottleneck width per group at base 64 (Wide ResNet: 128)
  int64_t resolution = 224;
  int64_t classes = 1000;
};

// Blocks per stage and whether the block is a Bottleneck (expansion 4) or a BasicBlock.
struct Layout {
  std::vector<int> blocks;
  bool bottleneck = false;
};

bool LayoutOf(int depth, Layout& out) {
  switch (depth) {
    case 18: out = {{2, 2, 2, 2}, false}; return true;
    case 34: out = {{3, 4, 6, 3}, false}; return true;
    case 50: out = {{3, 4, 6, 3}, true}; return true;
    case 101: out = {{3, 4, 23, 3}, true}; return true;
    case 152: out = {{3, 8, 36, 3}, true}; return true;
    default: return false;
  }
}

// The shortcut: identity, or conv1x1 (stride) + BN when the shape changes.
Id Shortcut(GraphBuilder& g, Id x, int64_t out, int64_t stride) {
  if (stride == 1 && Channels(g, x) == out) return x;
  return ConvBn(g, x, out, 1, stride);
}

Id BasicBlock(GraphBuilder& g, Id x, int64_t planes, int64_t stride) {
  Id y = ConvBnAct(g, x, planes, 3, stride, 1, LayerType::kReLU);
  y = ConvBn(g, y, planes, 3);
  const Id identity = Shortcut(g, x, planes, stride);
  return Act(g, Residual(g, y, identity), LayerType::kReLU);
}

// torchvision's Bottleneck: width = planes * (width_per_group / 64) * groups.
Id Bottleneck(GraphBuilder& g, Id x, int64_t planes, int64_t stride, const ResNetConfig& c) {
  const int64_t width = planes * c.width_per_group / 64 * c.groups;
  const int64_t out = planes * 4;
  Id y = ConvBnAct(g, x, width, 1, 1, 1, LayerType::kReLU);
  y = ConvBnAct(g, y, width, 3, stride, c.groups, LayerType::kReLU);
  y = ConvBn(g, y, out, 1);
  const Id identity = Shortcut(g, x, out, stride);
  return Act(g, Residual(g, y, identity), LayerType::kReLU);
}

Result<Architecture> BuildResNet(const ResNetConfig& c) {
  Layout layout;
  if (!LayoutOf(c.depth, layout)) {
    return Status::InvalidArgument("resnet depth must be 18, 34, 50, 101 or 152");
  }
  GraphBuilder g(c.name, c.family, {3, c.resolution, c.resolution});
  Id x = ConvBnAct(g, GraphBuilder::kInput, c.base, 7, 2, 1, LayerType::kReLU);
  x = MaxPool(g, x, 3, 2, 1);
  for (size_t stage = 0; stage < layout.blocks.size(); ++stage) {
    const int64_t planes = c.base << stage;
    for (int b = 0; b < layout.blocks[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      x = layout.bottleneck ? Bottleneck(g, x, planes, stride, c)
                            : BasicBlock(g, x, planes, stride);
    }
  }
  x = PoolFlatten(g, x);
  Linear(g, x, c.classes);
  return std::move(g).Finish();
}

ModelEntry Named(const std::string& name, int depth, int64_t groups = 1,
                 int64_t width_per_group = 64) {
  const ResNetConfig c{name, "resnet", depth, 64, groups, width_per_group};
  return {name, Source(name), [c] { return BuildResNet(c); }};
}

// ---- The resnet family --------------------------------------------------------------------

Result<Architecture> BuildResNetFamily(const PointReader& r) {
  ResNetConfig c;
  const int64_t depth = r.Int("depth"), width = r.Int("width");
  Layout layout;
  if (!LayoutOf(static_cast<int>(depth), layout)) return r.Bad("depth", "has no block layout");
  c.depth = static_cast<int>(depth);
  c.base = (64 * width + 50) / 100;
  c.groups = r.Int("groups");
  c.width_per_group = r.Int("group_width");
  // torchvision's BasicBlock refuses groups and width_per_group other than 1 and 64.
  if (!layout.bottleneck && c.groups != 1) {
    return r.Bad("groups", "must be 1 for depth " + std::to_string(depth));
  }
  if (!layout.bottleneck && c.width_per_group != 64) {
    return r.Bad("group_width", "must be 64 for depth " + std::to_string(depth));
  }
  if (c.base * c.width_per_group / 64 < 1) {
    return r.Bad("group_width", "leaves bottlenecks without channels at width " +
                                    std::to_string(width));
  }
  c.resolution = r.Int("resolution");
  c.classes = r.Int("classes");
  c.name = "resnet-d" + std::to_string(depth) + "-w" + std::to_string(width) + "-r" +
           std::to_string(c.resolution);
  if (c.groups != 1 || c.width_per_group != 64) {
    c.name += "-g" + std::to_string(c.groups) + "x" + std::to_string(c.width_per_group);
  }
  c.name += ClassesSuffix(c.classes);
  return BuildResNet(c);
}

}  // namespace

void AddResNets(Registry& r) {
  for (int depth : {18, 34, 50, 101, 152}) {
    r.models.push_back(Named("resnet" + std::to_string(depth), depth));
  }
  r.models.push_back(Named("wide_resnet50_2", 50, 1, 128));
  r.models.push_back(Named("wide_resnet101_2", 101, 1, 128));
  r.models.push_back(Named("resnext50_32x4d", 50, 32, 4));
  r.models.push_back(Named("resnext101_32x8d", 101, 32, 8));
  r.models.push_back(Named("resnext101_64x4d", 101, 64, 4));
  r.families.push_back({"resnet", BuildResNetFamily});
}

}  // namespace wattfleet::zoo::vision
