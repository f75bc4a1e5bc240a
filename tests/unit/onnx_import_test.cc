// ONNX import against models exported by tests/helpers/make_onnx_fixtures.py with Debian's
// python3-torch (torch.onnx.export) and checked against the zoo's own architectures: exact
// parameters and MACs within 2 %, the exporters' spelled-out LayerNorm, GELU, SiLU and
// attention mapped onto the zoo's layers; hostile files refused before anything trusts them;
// `onnx:` campaign entries; and `wattfleet inspect --onnx` with its exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "wattfleet/campaign/architecture_source.h"
#include "wattfleet/campaign/campaign.h"
#include "wattfleet/zoo/onnx_import.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;
using T = LayerType;
using Json = nlohmann::json;

int Count(const Architecture& arch, T type) {
  int n = 0;
  for (const auto& node : arch.nodes) n += node.spec.type == type;
  return n;
}

double Ratio(int64_t a, int64_t b) { return static_cast<double>(a) / static_cast<double>(b); }

class OnnxImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("wattfleet_onnx_" + std::to_string(::getpid()));
    if (std::system("/usr/bin/python3 -c 'import torchvision, onnx' >/dev/null 2>&1") != 0) {
      skip_ = "/usr/bin/python3 cannot import torchvision and onnx (scripts/bootstrap.sh "
              "installs python3-torchvision and python3-onnx)";
      return;
    }
    fs::create_directories(dir_);
    const fs::path log = dir_ / "fixtures.log";
    const std::string cmd = std::string("/usr/bin/python3 '") + WATTFLEET_SOURCE_DIR +
                            "/tests/helpers/make_onnx_fixtures.py' '" + dir_.string() + "' >'" +
                            log.string() + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    if (rc != 0) {
      std::stringstream text;
      text << std::ifstream(log).rdbuf();
      failure_ = "fixture script failed (" + std::to_string(rc) + "):\n" + text.str();
    }
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(failure_.empty()) << failure_;
  }

  static std::string Path(const std::string& file) { return (dir_ / file).string(); }
  static Json Info(const std::string& name) {
    Json j;
    std::ifstream(dir_ / (name + ".json")) >> j;
    return j;
  }
  // An exact import of fixture `name` at the shape the file declares.
  static Architecture Exact(const std::string& name) {
    auto r = ImportOnnx(Path(name + ".onnx"), {}, name);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_TRUE(r->unsupported.empty()) << r->unsupported.front();
    EXPECT_EQ(r->architecture.family, "onnx");
    return std::move(r).value().architecture;
  }
  // Parameters and MACs within 2 % of `zoo`'s, and the MACs PyTorch's hooks count.
  static void ExpectLikeZoo(const Architecture& imported, const Architecture& zoo,
                            const Json& info) {
    const LayerFeatures a = imported.Totals(), z = zoo.Totals();
    EXPECT_NEAR(Ratio(a.params, z.params), 1.0, 0.02) << a.params << " vs " << z.params;
    EXPECT_NEAR(Ratio(a.macs, z.macs), 1.0, 0.02) << a.macs << " vs " << z.macs;
    EXPECT_EQ(a.macs, info.at("macs").get<int64_t>());
    // Exporters fold batch norm into the convolution before it: its scale and shift go, a
    // bias comes; nothing else may differ.
    EXPECT_NEAR(Ratio(a.params, info.at("params").get<int64_t>()), 1.0, 0.01);
  }

  static inline fs::path dir_;
  static inline std::string skip_;
  static inline std::string failure_;
};

TEST_F(OnnxImportTest, VisionModelsMatchTheZoo) {
  for (const char* zoo : {"resnet18", "mobilenet_v2", "efficientnet_b0"}) {
    SCOPED_TRACE(zoo);
    const std::string name = std::string(zoo) + "_14";
    const Architecture a = Exact(name);
    EXPECT_EQ(a.OutputShape(), (Shape{1000}));
    ExpectLikeZoo(a, FindZooArchitecture(zoo).value(), Info(name));
  }
  // Clip(0, 6) is ReLU6; x * sigmoid(x) is one SiLU, a squeeze-and-excitation gate is not.
  const Architecture mobile = Exact("mobilenet_v2_14");
  EXPECT_EQ(Count(mobile, T::kReLU6), 35);
  const Architecture efficient = Exact("efficientnet_b0_14");
  const Architecture zoo_efficient = FindZooArchitecture("efficientnet_b0").value();
  EXPECT_EQ(Count(efficient, T::kSiLU), Count(zoo_efficient, T::kSiLU));
  EXPECT_EQ(Count(efficient, T::kSigmoid), 16);
}

TEST_F(OnnxImportTest, VitB16MatchesTheZoo) {
  // Opset 14: LayerNorm and GELU spelled out, attention as MatMul-Softmax-MatMul.
  const Architecture a = Exact("vit_b_16_14");
  ExpectLikeZoo(a, FindZooArchitecture("vit_b_16").value(), Info("vit_b_16_14"));
  EXPECT_EQ(Count(a, T::kMultiheadAttention), 12);
  EXPECT_EQ(Count(a, T::kLayerNorm), 25);
  EXPECT_EQ(Count(a, T::kGELU), 12);
  EXPECT_EQ(Count(a, T::kClassToken), 1);
  EXPECT_EQ(Count(a, T::kTokens), 1);
  for (const ArchNode& n : a.nodes) {
    if (n.spec.type != T::kMultiheadAttention) continue;
    EXPECT_EQ(n.spec.params.at("num_heads"), 12);
    EXPECT_EQ(n.spec.params.at("embed_dim"), 768);
    EXPECT_EQ(n.spec.params.at("causal"), 0);
  }
}

TEST_F(OnnxImportTest, BertLikeMatchesTheZooFamilyAtBothOpsets) {
  SweepPoint point;
  for (auto [k, v] : {std::pair<const char*, int64_t>{"layers", 2}, {"d_model", 64},
                      {"heads", 4}, {"seq", 16}, {"vocab", 1000}}) {
    point[k] = SweepValue{{v}};
  }
  const Architecture zoo = BuildFamilyMember("bert", point).value();
  for (const char* name : {"zoo_bert_14", "zoo_bert_17"}) {
    SCOPED_TRACE(name);
    const Architecture a = Exact(name);
    ExpectLikeZoo(a, zoo, Info(name));
    EXPECT_EQ(a.Totals().params, zoo.Totals().params);
    EXPECT_EQ(a.Totals().macs, zoo.Totals().macs);
    EXPECT_EQ(Count(a, T::kMultiheadAttention), 2);
    EXPECT_EQ(Count(a, T::kEmbedding), 1);
    EXPECT_EQ(Count(a, T::kPositionalEmbedding), 1);
    EXPECT_EQ(Count(a, T::kSelectToken), 1);
    EXPECT_EQ(Count(a, T::kLayerNorm), 5);
    EXPECT_EQ(a.OutputShape(), (Shape{2}));
  }
}

TEST_F(OnnxImportTest, CausalAttentionIsMarked) {
  const Architecture a = Exact("gpt_like_14");
  const Json info = Info("gpt_like_14");
  EXPECT_EQ(a.Totals().params, info.at("params").get<int64_t>());
  EXPECT_EQ(a.Totals().macs, info.at("macs").get<int64_t>());
  ASSERT_EQ(Count(a, T::kMultiheadAttention), 2);
  for (const ArchNode& n : a.nodes) {
    if (n.spec.type != T::kMultiheadAttention) continue;
    EXPECT_EQ(n.spec.params.at("causal"), 1) << n.name;
    EXPECT_EQ(n.spec.params.at("num_heads"), 4) << n.name;
  }
}

TEST_F(OnnxImportTest, SmallCnnLayerByLayer) {
  const Architecture a = Exact("small_cnn_14");
  // Batch norm is folded into the convolutions by the exporter; dropout is gone in eval.
  const std::vector<T> types = {T::kConv2d, T::kReLU,      T::kMaxPool2d, T::kConv2d,
                                T::kReLU,   T::kMaxPool2d, T::kFlatten,   T::kLinear};
  ASSERT_EQ(a.nodes.size(), types.size());
  for (size_t i = 0; i < types.size(); ++i) EXPECT_EQ(a.nodes[i].spec.type, types[i]) << i;
  EXPECT_EQ(a.nodes[0].name, "conv1");
  EXPECT_EQ(a.OutputShape(), (Shape{10}));
}

TEST_F(OnnxImportTest, UnmappedOperatorsAreListed) {
  auto r = ImportOnnx(Path("rolled_14.onnx"), {}, "rolled");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->unsupported, (std::vector<std::string>{"CumSum"}));
  EXPECT_EQ(Count(r->architecture, T::kConv2d), 1);  // what was mapped, for a caller to show

  // A value from the input that no rule maps (a dropout's mask) is not read past silently.
  auto mask = ImportOnnx(Path("dropout_mask.onnx"), {}, "mask");
  ASSERT_TRUE(mask.ok()) << mask.status().ToString();
  EXPECT_EQ(mask->unsupported,
            (std::vector<std::string>{"Cast (reads an output that has no layer)"}));
  EXPECT_EQ(mask->architecture.name, "mask");  // nothing mapped, but still named
  EXPECT_EQ(mask->architecture.input_shape, (Shape{8}));
}

// TensorFlow's "same" padding (auto_pad), as converters write it: a layer where both sides are
// padded alike, listed where one side gets more (the layers pad symmetrically).
TEST_F(OnnxImportTest, SamePaddingWhereItIsSymmetric) {
  const Architecture a = Exact("same_pad");
  ASSERT_EQ(a.nodes.size(), 3u);
  EXPECT_EQ(a.nodes[0].spec.params.at("padding"), 1);
  EXPECT_EQ(a.nodes[1].spec.params.at("padding"), 1);
  EXPECT_EQ(a.nodes[2].spec.params.at("padding"), 2);
  EXPECT_EQ(a.OutputShape(), (Shape{4, 32, 32}));
  auto strided = ImportOnnx(Path("same_pad_strided.onnx"), {}, "strided");
  ASSERT_TRUE(strided.ok()) << strided.status().ToString();
  EXPECT_EQ(strided->unsupported,
            (std::vector<std::string>{
                "Conv (auto_pad SAME_UPPER pads one side more than the other)"}));
}

TEST_F(OnnxImportTest, HostileFilesAreRefusedBeforeTheyAreTrusted) {
  auto refused = [](const std::string& path, const std::string& want,
                    const OnnxBounds& bounds = {}) {
    SCOPED_TRACE(path);
    auto r = ImportOnnx(path, {}, "x", bounds);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
  };
  refused(Path("truncated.onnx"), "does not parse");
  refused(Path("nested.onnx"), "nested more than 64 deep");
  refused(Path("huge_tensor.onnx"), "tensor 'w' declares more than");
  refused(Path("two_inputs.onnx"), "takes 2 inputs");
  refused(Path("free_batch.onnx"), "free dimension 'batch'");
  refused(Path("resnet18_14.onnx"), "larger than the 1 MiB", OnnxBounds{int64_t{1} << 20});
  refused(Path("resnet18_14.onnx"), "nodes, more than 10", OnnxBounds{int64_t{1} << 30, 10});
  refused(Path("missing.onnx"), "no such file");
  refused(dir_.string(), "is a directory");
  refused("/dev/zero", "not a regular file");

  // A free batch is given; a wrong rank or a fixed dimension that differs is refused.
  auto given = ImportOnnx(Path("free_batch.onnx"), {4, 8}, "free");
  ASSERT_TRUE(given.ok()) << given.status().ToString();
  EXPECT_EQ(given->architecture.input_shape, (Shape{8}));
  auto rank = ImportOnnx(Path("free_batch.onnx"), {4, 8, 1}, "free");
  ASSERT_FALSE(rank.ok());
  EXPECT_NE(rank.status().message().find("has rank 3"), std::string::npos);
  auto dim = ImportOnnx(Path("small_cnn_14.onnx"), {1, 3, 64, 64}, "small");
  ASSERT_FALSE(dim.ok());
  EXPECT_NE(dim.status().message().find("differs from the model's declared input"),
            std::string::npos)
      << dim.status().message();
}

// `onnx:` campaign entries: relative to the campaign file, the file's own input shape, named by
// the file; whole-model jobs run the mapped layers (no file travels to agents); a model with
// unmapped operators is refused at the entry.
TEST_F(OnnxImportTest, CampaignEntries) {
  const fs::path yaml = dir_ / "c.yaml";
  std::ofstream(yaml) << "name: ox\n"
                         "devices: [{class: cpu}]\n"
                         "architectures:\n"
                         "  - onnx: small_cnn_14.onnx\n";
  auto c = LoadCampaignFile(yaml.string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->architectures.size(), 1u);
  const Architecture& a = c->architectures[0];
  EXPECT_EQ(a.name, "small_cnn_14.onnx");
  EXPECT_EQ(a.family, "onnx");
  EXPECT_EQ(a.input_shape, (Shape{3, 32, 32}));
  EXPECT_TRUE(a.model_file.format.empty());
  EXPECT_EQ(a.Totals().macs, Info("small_cnn_14").at("macs").get<int64_t>());

  const fs::path rolled = dir_ / "r.yaml";
  std::ofstream(rolled) << "name: ox\n"
                           "devices: [{class: cpu}]\n"
                           "architectures:\n"
                           "  - onnx: rolled_14.onnx\n";
  auto r = LoadCampaignFile(rolled.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(rolled.string() + ":4:11: onnx 'rolled_14.onnx' uses "
                                       "operators wattfleet cannot map: CumSum",
                                       0),
            0u)
      << r.status().message();

  const fs::path free = dir_ / "f.yaml";
  std::ofstream(free) << "name: ox\n"
                         "devices: [{class: cpu}]\n"
                         "architectures:\n"
                         "  - onnx: free_batch.onnx\n"
                         "    input_shape: [1, 8]\n";
  auto f = LoadCampaignFile(free.string());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->architectures[0].input_shape, (Shape{8}));
}

TEST_F(OnnxImportTest, ResolvedAsInspectAndPredictNameIt) {
  ArchitectureSource source;
  source.model_file = Path("small_cnn_14.onnx");
  source.model_format = "onnx";
  auto r = ResolveArchitecture(source);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->architecture.name, "small_cnn_14.onnx");

  ArchitectureSource shape_alone;
  shape_alone.arch_name = "resnet18";
  shape_alone.input_shape = {1, 3, 224, 224};
  auto s = ResolveArchitecture(shape_alone);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--input-shape goes with --torchscript or --onnx"),
            std::string::npos)
      << s.status().message();
}

// The command itself: a JSON document, and exit 2 naming the file for a hostile one.
TEST_F(OnnxImportTest, InspectCommand) {
  const std::string out = (dir_ / "inspect.json").string();
  const std::string ok = std::string(WATTFLEET_BIN) + " inspect --onnx '" +
                         Path("small_cnn_14.onnx") + "' --json >'" + out + "'";
  ASSERT_EQ(WEXITSTATUS(std::system(ok.c_str())), 0);
  Json doc;
  std::ifstream(out) >> doc;
  EXPECT_EQ(doc.at("family"), "onnx");
  EXPECT_EQ(doc.at("macs").get<int64_t>(), Info("small_cnn_14").at("macs").get<int64_t>());

  const std::string err = (dir_ / "inspect.err").string();
  const std::string bad = std::string(WATTFLEET_BIN) + " inspect --onnx '" +
                          Path("truncated.onnx") + "' 2>'" + err + "'";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);
  std::stringstream text;
  text << std::ifstream(err).rdbuf();
  EXPECT_NE(text.str().find("truncated.onnx"), std::string::npos) << text.str();

  const std::string both = std::string(WATTFLEET_BIN) + " inspect --onnx '" +
                           Path("small_cnn_14.onnx") + "' --arch resnet18 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(both.c_str())), 2);
}

}  // namespace
}  // namespace wattfleet
