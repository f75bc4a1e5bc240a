// torchvision's DenseNet (Huang et al. 2017), and the densenet family: every layer of a dense
// block reads the concatenation of all the block's earlier outputs.
#include <string>
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

constexpr LayerType kReLU = LayerType::kReLU;

struct DenseNetConfig {
  std::string name;
  std::vector<int> blocks;  // dense layers per block
  int64_t growth = 32;
  int64_t init_features = 64;
  int64_t resolution = 224;
  int64_t classes = 1000;
};

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

Result<Architecture> BuildDenseNet(const DenseNetConfig& c) {
  GraphBuilder g(c.name, "densenet", {3, c.resolution, c.resolution});
  Id x = ConvBnAct(g, GraphBuilder::kInput, c.init_features, 7, 2, 1, kReLU);
  x = MaxPool(g, x, 3, 2, 1);
  for (size_t i = 0; i < c.blocks.size(); ++i) {
    x = DenseBlock(g, x, c.blocks[i], c.growth);
    if (i + 1 < c.blocks.size()) x = Transition(g, x);
  }
  x = Act(g, g.Add(LayerType::kBatchNorm2d, {}, {x}), kReLU);  // norm5, then forward's relu
  Linear(g, PoolFlatten(g, x), c.classes);
  return std::move(g).Finish();
}

// The block layouts of torchvision's four models, by depth.
bool BlocksOf(int64_t depth, std::vector<int>& out) {
  switch (depth) {
    case 121: out = {6, 12, 24, 16}; return true;
    case 161: out = {6, 12, 36, 24}; return true;
    case 169: out = {6, 12, 32, 32}; return true;
    case 201: out = {6, 12, 48, 32}; return true;
    default: return false;
  }
}

ModelEntry Named(int64_t depth) {
  DenseNetConfig c;
  c.name = "densenet" + std::to_string(depth);
  BlocksOf(depth, c.blocks);
  c.growth = depth == 161 ? 48 : 32;
  c.init_features = 2 * c.growth;
  return {c.name, Source(c.name), [c] { return BuildDenseNet(c); }};
}

Result<Architecture> BuildDenseNetFamily(const PointReader& r) {
  DenseNetConfig c;
  const int64_t depth = r.Int("depth");
  if (!BlocksOf(depth, c.blocks)) return r.Bad("depth", "has no block layout");
  c.growth = r.Int("growth", depth == 161 ? 48 : 32);
  c.init_features = 2 * c.growth;  // torchvision's rule: num_init_features = 2 x growth
  c.resolution = r.Int("resolution");
  c.classes = r.Int("classes");
  c.name = "densenet-d" + std::to_string(depth) + "-g" + std::to_string(c.growth) + "-r" +
           std::to_string(c.resolution) + ClassesSuffix(c.classes);
  return BuildDenseNet(c);
}

}  // namespace

void AddDenseNets(Registry& r) {
  for (int64_t depth : {121, 161, 169, 201}) r.models.push_back(Named(depth));
  r.families.push_back({"densenet", BuildDenseNetFamily});
}

}  // namespace wattfleet::zoo::vision
