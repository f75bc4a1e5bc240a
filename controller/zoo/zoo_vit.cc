// torchvision's Vision Transformers (Dosovitskiy et al. 2021) and the vit family.
#include <utility>
#include <vector>

#include "zoo_vision.h"

namespace wattfleet::zoo::vision {
namespace {

struct VitConfig {
  std::string name;
  std::string family = "vit";
  int64_t layers = 12;
  int64_t hidden = 768;
  int64_t heads = 12;
  int64_t mlp = 3072;
  int64_t patch = 16;
  int64_t resolution = 224;
  int64_t classes = 1000;
};

// conv_proj patchifies, the patch grid becomes a token sequence with a class token prepended
// and a learned positional embedding added. torchvision's EncoderBlock (LayerNorm first,
// attention, residual, LayerNorm, Linear-GELU-Linear, residual) is a norm_first
// TransformerEncoderLayer with GELU; every dropout of these models has p = 0 and is left out.
// The final LayerNorm, the class token and the head Linear follow.
Result<Architecture> BuildVit(const VitConfig& c) {
  GraphBuilder g(c.name, c.family, {3, c.resolution, c.resolution});
  Conv(g, GraphBuilder::kInput, c.hidden, c.patch, c.patch, 1, /*bias=*/true, 0);
  g.Then(LayerType::kTokens);
  g.Then(LayerType::kClassToken);
  g.Then(LayerType::kPositionalEmbedding);
  for (int64_t i = 0; i < c.layers; ++i) {
    g.Then(LayerType::kTransformerEncoderLayer, {{"nhead", c.heads},
                                                 {"dim_feedforward", c.mlp},
                                                 {"gelu", 1},
                                                 {"norm_first", 1},
                                                 {"dropout", 0}});
  }
  g.Then(LayerType::kLayerNorm);
  g.Then(LayerType::kSelectToken, {{"index", 0}});
  g.Then(LayerType::kLinear, {{"in_features", c.hidden}, {"out_features", c.classes}});
  return std::move(g).Finish();
}

ModelEntry NamedVit(const std::string& name, int64_t layers, int64_t hidden, int64_t heads,
                    int64_t mlp, int64_t patch) {
  const VitConfig c{name, "vit", layers, hidden, heads, mlp, patch};  // at 224 px, 1000 classes
  return {name, Source(name), [c] { return BuildVit(c); }};
}

Result<Architecture> BuildVitFamily(const PointReader& r) {
  VitConfig c;
  r.Fill({{"layers", &c.layers}, {"hidden", &c.hidden}, {"heads", &c.heads}, {"mlp", &c.mlp},
          {"patch", &c.patch}, {"resolution", &c.resolution}, {"classes", &c.classes}});
  // torchvision asserts both: the patch grid must tile the image, heads must split d_model.
  WF_RETURN_IF_ERROR(r.Divides("patch", "resolution"));
  WF_RETURN_IF_ERROR(r.Divides("heads", "hidden"));
  c.name = "vit-l" + std::to_string(c.layers) + "-d" + std::to_string(c.hidden) + "-h" +
           std::to_string(c.heads) + "-m" + std::to_string(c.mlp) + "-p" +
           std::to_string(c.patch) + "-r" + std::to_string(c.resolution) +
           ClassesSuffix(c.classes);
  return BuildVit(c);
}

}  // namespace

void AddVisionTransformers(Registry& r) {
  r.models.push_back(NamedVit("vit_b_16", 12, 768, 12, 3072, 16));
  r.models.push_back(NamedVit("vit_b_32", 12, 768, 12, 3072, 32));
  r.models.push_back(NamedVit("vit_l_16", 24, 1024, 16, 4096, 16));
  r.models.push_back(NamedVit("vit_l_32", 24, 1024, 16, 4096, 32));
  r.models.push_back(NamedVit("vit_h_14", 32, 1280, 16, 5120, 14));
  r.families.push_back({"vit", BuildVitFamily});
}

}  // namespace wattfleet::zoo::vision
