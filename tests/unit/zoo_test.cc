// Tests of the architecture zoo and the parametric families (controller/zoo/include/wattfleet/zoo/zoo.h).
// Expected numbers are computed by hand in the comments.
#include "wattfleet/zoo/zoo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace wattfleet {
namespace {

SweepValue Int(int64_t v) { return SweepValue{{v}, false}; }
SweepValue List(std::vector<int64_t> v) { return SweepValue{std::move(v), true}; }

int CountType(const Architecture& arch, LayerType type) {
  return static_cast<int>(std::count_if(arch.nodes.begin(), arch.nodes.end(),
                                        [&](const ArchNode& n) { return n.spec.type == type; }));
}

void ExpectInvalid(const Result<Architecture>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "built " << r->name;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
}

TEST(Zoo, NamesAreSorted) {
  const std::vector<std::string> names = ZooNames();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "duplicate name";
  for (const char* n : {"cnn5", "lenet5", "mlp-mnist", "har-lstm", "bert-base", "m5"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  for (const auto& name : ZooNames()) {
    auto arch = FindZooArchitecture(name);
    ASSERT_TRUE(arch.ok()) << name << ": " << arch.status().ToString();
    EXPECT_EQ(arch->name, name);
  }
}

TEST(Zoo, LeNet5) {
  auto arch = FindZooArchitecture("lenet5");
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->family, "lenet5");
  EXPECT_EQ(arch->input_shape, (Shape{1, 32, 32}));
  EXPECT_EQ(arch->nodes.size(), 12u);
  // 156 + 2416 + 48120 + 10164 + 850 = 61706 (see layer_features_test).
  EXPECT_EQ(arch->Totals().params, 61706);
  EXPECT_EQ(arch->OutputShape(), (Shape{10}));
}

TEST(Zoo, MlpMnist) {
  auto arch = FindZooArchitecture("mlp-mnist");
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->family, "mlp");
  // 784*256+256 = 200960, 256*128+128 = 32896, 128*10+10 = 1290 -> 235146.
  EXPECT_EQ(arch->Totals().params, 235146);
  // MACs 200704 + 32768 + 1280 = 234752.
  EXPECT_EQ(arch->Totals().macs, 234752);
}

TEST(Zoo, Cnn5) {
  auto arch = FindZooArchitecture("cnn5");
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->family, "cnn");
  EXPECT_EQ(CountType(*arch, LayerType::kConv2d), 3);
  EXPECT_EQ(CountType(*arch, LayerType::kLinear), 2);
  // conv 3*32*9+32 = 896, 32*64*9+64 = 18496, 64*128*9+128 = 73856,
  // fc 2048*256+256 = 524544, 256*10+10 = 2570 -> 620362.
  EXPECT_EQ(arch->Totals().params, 620362);
  // 32 -> 16 -> 8 -> 4 spatial: the flatten reads [128,4,4].
  EXPECT_EQ(arch->nodes[9].spec.input_shape, (Shape{128, 4, 4}));
}

TEST(Zoo, ANameTypedAsPeopleTypeItGetsADidYouMean) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ResNet18", "resnet18"}, {"mobilenetv2", "mobilenet_v2"}, {"gpt2", "gpt2-small"},
      {"vit-b-16", "vit_b_16"}, {"efficientnet-b0", "efficientnet_b0"}};
  for (const auto& [typed, meant] : cases) {
    auto r = FindZooArchitecture(typed);
    ASSERT_FALSE(r.ok()) << typed;
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("did you mean '" + meant + "'"), std::string::npos)
        << r.status().message();
    // A suggestion replaces the list of every name.
    EXPECT_EQ(r.status().message().find("known:"), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(ZooSuggestion("transformer-xl-9000"), "");
}

TEST(Zoo, UnknownNameListsKnownNames) {
  auto r = FindZooArchitecture("unet-3d");  // close to no name: the whole list
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  for (const char* n : {"resnet50", "cnn5", "lenet5", "mlp-mnist"}) {
    EXPECT_NE(r.status().message().find(n), std::string::npos) << r.status().message();
  }
}

TEST(Families, NamesAndParameters) {
  const std::vector<std::string> families = FamilyNames();
  EXPECT_TRUE(std::is_sorted(families.begin(), families.end()));
  for (const char* f : {"cnn", "mlp", "bert", "gpt", "lstm", "gru", "m5", "conformer"}) {
    EXPECT_NE(std::find(families.begin(), families.end(), f), families.end()) << f;
  }
  auto mlp = FamilyParameters("mlp");
  for (const char* p : {"depth", "width", "input", "classes"}) EXPECT_EQ(mlp.count(p), 1u) << p;
  auto cnn = FamilyParameters("cnn");
  for (const char* p : {"depth", "width", "input", "kernel", "classes"}) {
    EXPECT_EQ(cnn.count(p), 1u) << p;
    EXPECT_FALSE(cnn[p].empty());
  }
  EXPECT_TRUE(FamilyParameters("transformer").empty());
}

// Every family's parameters come from one declared table, and its help says the default and
// the bounds that the check enforces, from the same numbers.
TEST(Families, HelpSaysDefaultsAndBoundsTheCheckEnforces) {
  for (const std::string& family : FamilyNames()) {
    const auto params = FamilyParameters(family);
    EXPECT_FALSE(params.empty()) << family << " declares no parameters";
    for (const auto& [name, help] : params) {
      EXPECT_TRUE(help.find("(default ") != std::string::npos ||
                  help.find("(required") != std::string::npos)
          << family << "." << name << ": " << help;
    }
  }
  auto resnet = FamilyParameters("resnet");
  EXPECT_NE(resnet["depth"].find("(default 50; one of 18, 34, 50, 101, 152)"), std::string::npos)
      << resnet["depth"];
  EXPECT_NE(resnet["resolution"].find("(default 224; 32 to 1024)"), std::string::npos);
  EXPECT_NE(FamilyParameters("mlp")["depth"].find("(required; 1 to 64)"), std::string::npos);
  EXPECT_NE(FamilyParameters("bert")["ff"].find("(default 4 x d_model; 1 to 65536)"),
            std::string::npos);
  // The bounds the help states are the ones a point is held to.
  auto over = BuildFamilyMember("mlp", {{"depth", Int(65)}, {"width", Int(8)}, {"input", Int(4)}});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().message(), "family 'mlp': depth must be in [1, 64], got 65");
  auto list = BuildFamilyMember("gpt", {{"heads", List({4, 4})}});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message().rfind("family 'gpt': heads must be an integer, got a list", 0),
            0u)
      << list.status().message();
  // A default the builder derives (4 x d_model) is derived, not the table's text.
  auto bert = BuildFamilyMember("bert", {{"layers", Int(1)}, {"d_model", Int(64)},
                                         {"heads", Int(4)}, {"seq", Int(8)}, {"vocab", Int(100)}});
  ASSERT_TRUE(bert.ok()) << bert.status().ToString();
  EXPECT_EQ(bert->name, "bert-l1-d64-h4-s8-v100");
}

TEST(Families, MlpFromScalarInput) {
  auto arch = BuildFamilyMember("mlp", {{"depth", Int(3)}, {"width", Int(64)},
                                        {"input", Int(784)}});
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->name, "mlp-d3-w64-i784");
  EXPECT_EQ(arch->family, "mlp");
  EXPECT_EQ(CountType(*arch, LayerType::kLinear), 4);
  EXPECT_EQ(CountType(*arch, LayerType::kReLU), 3);
  EXPECT_EQ(CountType(*arch, LayerType::kFlatten), 0);
  // 784*64+64 = 50240, 2 x (64*64+64) = 8320, 64*10+10 = 650 -> 59210.
  EXPECT_EQ(arch->Totals().params, 59210);
  EXPECT_EQ(arch->OutputShape(), (Shape{10}));
}

TEST(Families, MlpFromImageInputFlattensFirst) {
  auto arch = BuildFamilyMember("mlp", {{"depth", Int(1)}, {"width", Int(32)},
                                        {"input", List({1, 28, 28})}, {"classes", Int(5)}});
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->name, "mlp-d1-w32-i784-c5");
  EXPECT_EQ(arch->nodes.front().spec.type, LayerType::kFlatten);
  EXPECT_EQ(arch->input_shape, (Shape{1, 28, 28}));
  // 784*32+32 = 25120, 32*5+5 = 165 -> 25285.
  EXPECT_EQ(arch->Totals().params, 25285);
  EXPECT_EQ(arch->OutputShape(), (Shape{5}));
}

TEST(Families, Cnn) {
  auto arch = BuildFamilyMember("cnn", {{"depth", Int(2)}, {"width", Int(16)},
                                        {"input", List({3, 32, 32})}});
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->name, "cnn-d2-w16-i3x32x32");
  // conv 3->16 [16,32,32], pool [16,16,16], conv 16->32 [32,16,16], pool [32,8,8], flatten 2048.
  // params: 3*16*9+16 = 448, 16*32*9+32 = 4640, 2048*10+10 = 20490 -> 25578.
  EXPECT_EQ(arch->Totals().params, 25578);
  EXPECT_EQ(CountType(*arch, LayerType::kMaxPool2d), 2);
  EXPECT_EQ(arch->nodes.back().spec.Int("in_features"), 2048);
}

TEST(Families, CnnSkipsPoolsOnSmallMaps) {
  // [1,8,8]: block 1 pools to 4x4, block 2 to 2x2, block 3 would leave 1x1 so keeps 2x2.
  auto arch = BuildFamilyMember("cnn", {{"depth", Int(3)}, {"width", Int(4)},
                                        {"input", List({1, 8, 8})}});
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(CountType(*arch, LayerType::kConv2d), 3);
  EXPECT_EQ(CountType(*arch, LayerType::kMaxPool2d), 2);
  // Last block has 4*2*2 = 16 channels on 2x2: 64 features.
  EXPECT_EQ(arch->nodes.back().spec.Int("in_features"), 64);
}

TEST(Families, CnnEvenKernelAndName) {
  // Kernel 4, padding 2: 8 -> 9 after the conv, pool -> 4. Name carries the kernel.
  auto arch = BuildFamilyMember("cnn", {{"depth", Int(1)}, {"width", Int(2)}, {"kernel", Int(4)},
                                        {"input", List({1, 8, 8})}});
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->name, "cnn-d1-w2-i1x8x8-k4");
  EXPECT_EQ(arch->nodes.back().spec.Int("in_features"), 2 * 4 * 4);
}

TEST(Families, Errors) {
  ExpectInvalid(BuildFamilyMember("transformer", {}), "transformer");
  ExpectInvalid(BuildFamilyMember("mlp", {{"depht", Int(2)}, {"width", Int(8)},
                                          {"input", Int(10)}}),
                "depht");
  ExpectInvalid(BuildFamilyMember("mlp", {{"depth", Int(2)}, {"input", Int(10)}}), "width");
  ExpectInvalid(BuildFamilyMember("mlp", {{"depth", Int(0)}, {"width", Int(8)},
                                          {"input", Int(10)}}),
                "depth");
  ExpectInvalid(BuildFamilyMember("mlp", {{"depth", List({2, 3})}, {"width", Int(8)},
                                          {"input", Int(10)}}),
                "depth");
  ExpectInvalid(BuildFamilyMember("cnn", {{"depth", Int(2)}, {"width", Int(8)},
                                          {"input", List({28, 28})}}),
                "input");
  ExpectInvalid(BuildFamilyMember("cnn", {{"depth", Int(2)}, {"width", Int(8)},
                                          {"input", List({1, 0, 28})}}),
                "input");
}

}  // namespace
}  // namespace wattfleet
