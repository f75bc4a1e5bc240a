// Tests of torchvision's image classifiers in the zoo (controller/zoo/zoo_vision*.cc).
//
// Parameter counts are torchvision 0.14's (sum of p.numel() over model.parameters(), the
// figures of its model documentation); MACs are compared with the "GFLOPS" column of that
// documentation, which counts multiply-accumulates at 224x224 (the variant's resolution for
// EfficientNet), published with two decimals.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

SweepValue Int(int64_t v) { return SweepValue{{v}, false}; }

int CountType(const Architecture& arch, LayerType type) {
  return static_cast<int>(std::count_if(arch.nodes.begin(), arch.nodes.end(),
                                        [&](const ArchNode& n) { return n.spec.type == type; }));
}

Architecture Build(const std::string& name) {
  auto arch = FindZooArchitecture(name);
  EXPECT_TRUE(arch.ok()) << name << ": " << arch.status().ToString();
  return arch.ok() ? *arch : Architecture{};
}

Architecture BuildMember(const std::string& family, const SweepPoint& point) {
  auto arch = BuildFamilyMember(family, point);
  EXPECT_TRUE(arch.ok()) << family << ": " << arch.status().ToString();
  return arch.ok() ? *arch : Architecture{};
}

void ExpectInvalid(const std::string& family, const SweepPoint& point,
                   const std::string& needle) {
  auto r = BuildFamilyMember(family, point);
  ASSERT_FALSE(r.ok()) << "built " << r->name;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
}

struct Reference {
  const char* name;
  int64_t params;
  double gmacs;        // torchvision's "GFLOPS"; 0 where not checked
  int64_t resolution;  // input height and width
};

const Reference kReferences[] = {
    {"alexnet", 61100840, 0.71, 224},
    {"vgg11", 132863336, 7.61, 224},
    {"vgg13", 133047848, 11.31, 224},
    {"vgg16", 138357544, 15.47, 224},
    {"vgg19", 143667240, 19.63, 224},
    {"vgg11_bn", 132868840, 7.61, 224},
    {"vgg13_bn", 133053736, 11.31, 224},
    {"vgg16_bn", 138365992, 15.47, 224},
    {"vgg19_bn", 143678248, 19.63, 224},
    {"resnet18", 11689512, 1.81, 224},
    {"resnet34", 21797672, 3.66, 224},
    {"resnet50", 25557032, 4.09, 224},
    {"resnet101", 44549160, 7.80, 224},
    {"resnet152", 60192808, 11.51, 224},
    {"wide_resnet50_2", 68883240, 11.40, 224},
    {"wide_resnet101_2", 126886696, 22.75, 224},
    {"resnext50_32x4d", 25028904, 4.23, 224},
    {"resnext101_32x8d", 88791336, 16.41, 224},
    {"resnext101_64x4d", 83455272, 15.46, 224},
    {"mobilenet_v2", 3504872, 0.30, 224},
    {"mobilenet_v3_large", 5483032, 0.22, 224},
    {"mobilenet_v3_small", 2542856, 0.06, 224},
    {"efficientnet_b0", 5288548, 0.39, 224},
    {"efficientnet_b1", 7794184, 0.69, 240},
    {"efficientnet_b2", 9109994, 1.09, 288},
    {"efficientnet_b3", 12233232, 1.83, 300},
    {"efficientnet_b4", 19341616, 4.39, 380},
    {"efficientnet_b5", 30389784, 10.27, 456},
    {"efficientnet_b6", 43040704, 19.07, 528},
    {"efficientnet_b7", 66347960, 37.75, 600},
    {"densenet121", 7978856, 2.83, 224},
    {"densenet161", 28681000, 7.73, 224},
    {"densenet169", 14149480, 3.36, 224},
    {"densenet201", 20013928, 4.29, 224},
    {"squeezenet1_0", 1248424, 0.82, 224},
    {"squeezenet1_1", 1235496, 0.35, 224},
    {"shufflenet_v2_x0_5", 1366792, 0.04, 224},
    {"shufflenet_v2_x1_0", 2278604, 0.14, 224},
    {"shufflenet_v2_x1_5", 3503624, 0.30, 224},
    {"shufflenet_v2_x2_0", 7393996, 0.58, 224},
    {"regnet_x_400mf", 5495976, 0.41, 224},
    {"regnet_x_800mf", 7259656, 0.80, 224},
    {"regnet_x_1_6gf", 9190136, 1.60, 224},
    {"regnet_y_400mf", 4344144, 0.40, 224},
    {"regnet_y_800mf", 6432512, 0.83, 224},
    {"regnet_y_1_6gf", 11202430, 1.61, 224},
    {"convnext_tiny", 28589128, 4.46, 224},
    {"convnext_small", 50223688, 8.68, 224},
    {"convnext_base", 88591464, 15.36, 224},
    {"convnext_large", 197767336, 34.36, 224},
    {"vit_b_16", 86567656, 17.56, 224},
    {"vit_b_32", 88224232, 4.41, 224},
    {"vit_l_16", 304326632, 61.55, 224},
    {"vit_l_32", 306535400, 15.38, 224},
    {"vit_h_14", 632045800, 0, 224},  // torchvision publishes vit_h_14 at 518 only
};

TEST(VisionZoo, ParametersMatchTorchvisionExactly) {
  for (const Reference& ref : kReferences) {
    SCOPED_TRACE(ref.name);
    const Architecture arch = Build(ref.name);
    EXPECT_EQ(arch.name, ref.name);
    EXPECT_EQ(arch.Totals().params, ref.params);
    EXPECT_EQ(arch.input_shape, (Shape{3, ref.resolution, ref.resolution}));
    EXPECT_EQ(arch.OutputShape(), (Shape{1000}));
  }
}

// Within 2 %, or within the published figure's rounding (0.005 GMACs) for the smallest
// models, whose two decimals are coarser than 2 %.
TEST(VisionZoo, MacsMatchTorchvisionPublishedFigures) {
  for (const Reference& ref : kReferences) {
    if (ref.gmacs == 0) continue;
    SCOPED_TRACE(ref.name);
    const double gmacs = static_cast<double>(Build(ref.name).Totals().macs) / 1e9;
    EXPECT_NEAR(gmacs, ref.gmacs, std::max(0.02 * ref.gmacs, 0.005));
  }
}

TEST(VisionZoo, AllNamedModelsAreRegisteredWithDistinctNames) {
  const std::vector<std::string> names = ZooNames();
  for (const Reference& ref : kReferences) {
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), ref.name)) << ref.name;
  }
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
}

// GraphBuilder guarantees a topological order; the assertion guards the definitions' use of
// explicit node ids (residuals, concatenations, SE scales, channel splits).
TEST(VisionZoo, NodesAreTopologicallyOrderedWithUniqueNames) {
  for (const Reference& ref : kReferences) {
    SCOPED_TRACE(ref.name);
    const Architecture arch = Build(ref.name);
    std::set<std::string> seen;
    for (size_t i = 0; i < arch.nodes.size(); ++i) {
      const ArchNode& n = arch.nodes[i];
      EXPECT_TRUE(seen.insert(n.name).second) << "duplicate " << n.name;
      ASSERT_FALSE(n.inputs.empty()) << n.name;
      EXPECT_EQ(n.inputs.size(), 1 + n.spec.extra_inputs.size()) << n.name;
      for (int input : n.inputs) {
        EXPECT_TRUE(input == GraphInput(0) || (input >= 0 && input < static_cast<int>(i)))
            << n.name << " reads " << input;
      }
    }
  }
}

TEST(VisionZoo, DagShapesFollowTheDefinitions) {
  // ResNet-50: one residual Add per bottleneck, 3 + 4 + 6 + 3.
  const Architecture resnet50 = Build("resnet50");
  EXPECT_EQ(CountType(resnet50, LayerType::kAdd), 16);
  EXPECT_EQ(CountType(resnet50, LayerType::kConv2d), 53);  // 1 + 16 x 3 + 4 projections
  EXPECT_EQ(CountType(Build("resnet18"), LayerType::kAdd), 8);
  // DenseNet-121: every dense layer but the first of its block concatenates its inputs, and
  // every block concatenates its output: 6 + 12 + 24 + 16.
  const Architecture densenet = Build("densenet121");
  EXPECT_EQ(CountType(densenet, LayerType::kConcat), 58);
  // The last concatenation of the last block reads the block input and its 16 layers.
  const ArchNode* last_cat = nullptr;
  for (const ArchNode& n : densenet.nodes) {
    if (n.spec.type == LayerType::kConcat) last_cat = &n;
  }
  ASSERT_NE(last_cat, nullptr);
  EXPECT_EQ(last_cat->inputs.size(), 17u);
  EXPECT_EQ(densenet.nodes[last_cat - densenet.nodes.data() + 1].spec.input_shape,
            (Shape{1024, 7, 7}));
  // ShuffleNetV2: 13 stride-1 blocks split the channels in two, all 16 blocks shuffle.
  const Architecture shufflenet = Build("shufflenet_v2_x1_0");
  EXPECT_EQ(CountType(shufflenet, LayerType::kNarrow), 26);
  EXPECT_EQ(CountType(shufflenet, LayerType::kChannelShuffle), 16);
  // MobileNetV2: residuals where stride 1 keeps the width (1 + 2 + 3 + 2 + 2).
  EXPECT_EQ(CountType(Build("mobilenet_v2"), LayerType::kAdd), 10);
  // EfficientNet-B0: 16 MBConv blocks, each with an SE scale; 9 keep the shape.
  const Architecture b0 = Build("efficientnet_b0");
  EXPECT_EQ(CountType(b0, LayerType::kMul), 16);
  EXPECT_EQ(CountType(b0, LayerType::kAdd), 9);
  // MobileNetV3-Large: 8 of its 15 blocks squeeze-and-excite.
  EXPECT_EQ(CountType(Build("mobilenet_v3_large"), LayerType::kHardsigmoid), 8);
  // ConvNeXt-T: one layer scale per block (3 + 3 + 9 + 3).
  EXPECT_EQ(CountType(Build("convnext_tiny"), LayerType::kLayerScale), 18);
  // SqueezeNet 1.0's ceil_mode pools: 109 -> 54 -> 27 -> 13 (floor would give 26 and 12).
  const Architecture squeezenet = Build("squeezenet1_0");
  std::vector<Shape> pooled;
  for (const ArchNode& n : squeezenet.nodes) {
    if (n.spec.type == LayerType::kMaxPool2d) {
      auto f = ComputeFeatures(n.spec);
      ASSERT_TRUE(f.ok());
      pooled.push_back(f->output_shape);
    }
  }
  EXPECT_EQ(pooled, (std::vector<Shape>{{96, 54, 54}, {256, 27, 27}, {512, 13, 13}}));
}

// ---- Families ------------------------------------------------------------------------------

TEST(VisionFamilies, AreListedWithHelp) {
  const std::vector<std::string> families = FamilyNames();
  for (const char* f : {"alexnet", "convnext", "densenet", "efficientnet", "mobilenet_v2",
                        "regnet", "resnet", "vgg", "vit"}) {
    EXPECT_TRUE(std::binary_search(families.begin(), families.end(), f)) << f;
    const auto params = FamilyParameters(f);
    EXPECT_EQ(params.count("resolution"), 1u) << f;
    for (const auto& [name, help] : params) EXPECT_FALSE(help.empty()) << f << "." << name;
  }
}

// The default point of every family is the named model, layer for layer.
TEST(VisionFamilies, DefaultPointsAreTheNamedModels) {
  const std::pair<const char*, const char*> kDefaults[] = {
      {"resnet", "resnet50"},         {"mobilenet_v2", "mobilenet_v2"},
      {"vgg", "vgg16"},               {"efficientnet", "efficientnet_b0"},
      {"vit", "vit_b_16"},            {"convnext", "convnext_tiny"},
      {"alexnet", "alexnet"},         {"densenet", "densenet121"},
      {"regnet", "regnet_x_400mf"}};
  for (const auto& [family, model] : kDefaults) {
    SCOPED_TRACE(family);
    const Architecture member = BuildMember(family, {});
    const Architecture named = Build(model);
    EXPECT_EQ(member.family, family);
    ASSERT_EQ(member.nodes.size(), named.nodes.size());
    for (size_t i = 0; i < member.nodes.size(); ++i) {
      EXPECT_EQ(member.nodes[i].spec, named.nodes[i].spec) << i;
      EXPECT_EQ(member.nodes[i].inputs, named.nodes[i].inputs) << i;
    }
    EXPECT_EQ(member.Totals().params, named.Totals().params);
  }
}

TEST(VisionFamilies, PointsReproduceOtherTorchvisionModels) {
  const struct {
    const char* family;
    SweepPoint point;
    int64_t params;
  } kCases[] = {
      {"resnet", {{"depth", Int(18)}}, 11689512},
      {"resnet", {{"depth", Int(101)}, {"group_width", Int(128)}}, 126886696},
      {"resnet", {{"groups", Int(32)}, {"group_width", Int(4)}}, 25028904},
      {"resnet", {{"classes", Int(10)}}, 23528522},
      {"vgg", {{"depth", Int(11)}, {"bn", Int(1)}}, 132868840},
      // The adaptive pool keeps the classifier: the same parameters at another resolution.
      {"vgg", {{"depth", Int(19)}, {"resolution", Int(160)}}, 143667240},
      {"mobilenet_v2", {{"width", Int(35)}}, 1677128},
      {"mobilenet_v2", {{"width", Int(50)}}, 1968680},
      {"mobilenet_v2", {{"width", Int(75)}}, 2636424},
      {"mobilenet_v2", {{"width", Int(130)}}, 5386792},
      {"mobilenet_v2", {{"width", Int(140)}}, 6108776},
      {"efficientnet", {{"variant", Int(3)}}, 12233232},
      {"efficientnet", {{"variant", Int(1)}, {"resolution", Int(224)}}, 7794184},
      {"vit", {{"layers", Int(24)}, {"hidden", Int(1024)}, {"heads", Int(16)},
               {"mlp", Int(4096)}, {"patch", Int(32)}}, 306535400},
      {"convnext", {{"size", Int(1)}}, 50223688},
      {"convnext", {{"size", Int(3)}}, 197767336},
      {"densenet", {{"depth", Int(161)}}, 28681000},
      {"densenet", {{"depth", Int(169)}}, 14149480},
      {"regnet", {{"y", Int(1)}, {"mf", Int(800)}}, 6432512},
      {"regnet", {{"mf", Int(1600)}}, 9190136},
      // AlexNet's adaptive pool keeps its 9216-input classifier at any resolution.
      {"alexnet", {{"resolution", Int(96)}}, 61100840},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.family);
    EXPECT_EQ(BuildMember(c.family, c.point).Totals().params, c.params);
  }
}

TEST(VisionFamilies, NamesAreDeterministicAndDistinct) {
  EXPECT_EQ(BuildMember("resnet", {{"resolution", Int(160)}}).name, "resnet-d50-w100-r160");
  EXPECT_EQ(BuildMember("resnet", {{"groups", Int(32)}, {"group_width", Int(4)}}).name,
            "resnet-d50-w100-r224-g32x4");
  EXPECT_EQ(BuildMember("vgg", {{"bn", Int(1)}}).name, "vgg-d16-bn-w100-r224");
  EXPECT_EQ(BuildMember("mobilenet_v2", {{"classes", Int(10)}}).name,
            "mobilenet_v2-w100-r224-c10");
  EXPECT_EQ(BuildMember("efficientnet", {{"variant", Int(2)}}).name, "efficientnet-b2-r288");
  EXPECT_EQ(BuildMember("vit", {}).name, "vit-l12-d768-h12-m3072-p16-r224");
  EXPECT_EQ(BuildMember("convnext", {{"width", Int(50)}}).name, "convnext-tiny-w50-r224");
  EXPECT_EQ(BuildMember("alexnet", {{"fc", Int(1024)}}).name, "alexnet-w100-fc1024-r224");
  EXPECT_EQ(BuildMember("densenet", {{"growth", Int(16)}, {"resolution", Int(64)}}).name,
            "densenet-d121-g16-r64");
  EXPECT_EQ(BuildMember("regnet", {{"y", Int(1)}, {"resolution", Int(96)}}).name,
            "regnet-y400-r96");

  const std::pair<const char*, std::vector<SweepPoint>> kSweeps[] = {
      {"resnet",
       {{{"depth", Int(18)}}, {{"depth", Int(34)}, {"width", Int(50)}},
        {{"depth", Int(152)}, {"width", Int(75)}, {"resolution", Int(128)}},
        {{"depth", Int(50)}, {"width", Int(150)}}, {{"depth", Int(101)}, {"width", Int(200)}}}},
      {"mobilenet_v2",
       {{{"width", Int(35)}}, {{"width", Int(100)}, {"resolution", Int(96)}},
        {{"width", Int(140)}, {"resolution", Int(192)}}}},
      {"vgg",
       {{{"depth", Int(11)}}, {{"depth", Int(13)}, {"bn", Int(1)}},
        {{"depth", Int(19)}, {"width", Int(50)}, {"resolution", Int(64)}}}},
      {"efficientnet",
       {{{"variant", Int(0)}, {"resolution", Int(128)}}, {{"variant", Int(1)}},
        {{"variant", Int(3)}, {"resolution", Int(224)}}}},
      {"vit",
       {{{"layers", Int(2)}, {"hidden", Int(64)}, {"heads", Int(4)}, {"mlp", Int(128)}},
        {{"patch", Int(32)}}, {{"patch", Int(8)}, {"resolution", Int(64)}}}},
      {"convnext", {{{"width", Int(25)}}, {{"size", Int(1)}, {"resolution", Int(128)}}}},
  };
  for (const auto& [family, points] : kSweeps) {
    std::set<std::string> names;
    for (const SweepPoint& point : points) {
      const Architecture a = BuildMember(family, point);
      EXPECT_EQ(a.family, family);
      EXPECT_GT(a.Totals().macs, 0) << a.name;
      EXPECT_EQ(BuildMember(family, point).name, a.name);  // deterministic
      names.insert(a.name);
    }
    EXPECT_EQ(names.size(), points.size()) << family;
  }
}

TEST(VisionFamilies, ScaleAsDeclared) {
  // Half the resolution about quarters a ResNet's MACs (a bit more: 112 / 32 = 3.5 rounds up
  // to 4x4 maps in the last stage); parameters stay.
  const Architecture full = BuildMember("resnet", {});
  const Architecture half = BuildMember("resnet", {{"resolution", Int(112)}});
  EXPECT_EQ(half.Totals().params, full.Totals().params);
  const double ratio = static_cast<double>(half.Totals().macs) / full.Totals().macs;
  EXPECT_GT(ratio, 0.25);
  EXPECT_LT(ratio, 0.28);
  EXPECT_EQ(half.nodes.back().spec.input_shape, (Shape{2048}));
  // width 50 halves every stage: the last stage has 1024 channels.
  EXPECT_EQ(BuildMember("resnet", {{"width", Int(50)}}).nodes.back().spec.input_shape,
            (Shape{1024}));
  // ViT token count follows resolution / patch: 7 x 7 patches and a class token.
  const Architecture vit = BuildMember("vit", {{"patch", Int(32)}});
  EXPECT_EQ(vit.nodes[4].spec.input_shape, (Shape{50, 768}));
}

TEST(VisionFamilies, ErrorsNameTheParameter) {
  ExpectInvalid("resnet", {{"dept", Int(50)}}, "unknown parameter 'dept'");
  ExpectInvalid("resnet", {{"depth", Int(20)}}, "depth must be one of 18, 34, 50, 101, 152, got 20");
  ExpectInvalid("resnet", {{"depth", Int(200)}}, "depth must be one of 18, 34, 50, 101, 152");
  ExpectInvalid("resnet", {{"depth", Int(18)}, {"groups", Int(32)}}, "groups must be 1");
  ExpectInvalid("resnet", {{"resolution", Int(16)}}, "resolution must be in [32, 1024]");
  ExpectInvalid("vgg", {{"depth", Int(12)}}, "depth must be one of 11, 13, 16, 19, got 12");
  ExpectInvalid("vgg", {{"bn", Int(2)}}, "bn must be in [0, 1]");
  ExpectInvalid("mobilenet_v2", {{"width", Int(0)}}, "width must be in");
  ExpectInvalid("mobilenet_v2", {{"depth", Int(2)}}, "unknown parameter 'depth'");
  ExpectInvalid("efficientnet", {{"variant", Int(8)}}, "variant must be in [0, 7]");
  ExpectInvalid("vit", {{"patch", Int(15)}}, "patch 15 does not divide resolution 224");
  ExpectInvalid("vit", {{"heads", Int(5)}}, "heads 5 does not divide hidden 768");
  ExpectInvalid("convnext", {{"size", Int(4)}}, "size must be in [0, 3]");
  ExpectInvalid("convnext", {{"classes", Int(0)}}, "classes must be in");
  ExpectInvalid("alexnet", {{"resolution", Int(62)}}, "resolution must be in [63, 1024]");
  ExpectInvalid("densenet", {{"depth", Int(122)}}, "depth must be one of 121, 161, 169, 201");
  ExpectInvalid("regnet", {{"mf", Int(500)}}, "mf must be one of 400, 800, 1600, got 500");
}

}  // namespace
}  // namespace wattfleet
