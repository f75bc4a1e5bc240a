// TorchScript import against models traced by tests/helpers/make_torchscript_fixtures.py with
// Debian's python3-torch and python3-torchvision. Expected figures come both from the Python
// side (the JSON beside each fixture: sum(p.numel()) and the frozen graph's operator counts)
// and from torchvision's published parameter counts.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "crafted_zip.h"
#include "wattfleet/campaign/campaign.h"
#include "wattfleet/zoo/torchscript_import.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;
using T = LayerType;
using Json = nlohmann::json;

struct Imported {
  TorchScriptImport result;
  Json info;  // the fixture's JSON
  const Architecture& arch() const { return result.architecture; }
};

int Count(const Architecture& arch, T type) {
  int n = 0;
  for (const auto& node : arch.nodes) n += node.spec.type == type;
  return n;
}

// Occurrences of `kind` and of its in-place variant in the frozen graph.
int Ops(const Json& info, const std::string& kind) {
  const Json& ops = info.at("ops");
  return ops.value(kind, 0) + ops.value(kind + "_", 0);
}

class TorchScriptImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("wattfleet_ts_" + std::to_string(::getpid()));
    if (std::system("/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1") != 0) {
      skip_ = "/usr/bin/python3 cannot import torchvision (scripts/bootstrap.sh installs "
              "python3-torchvision)";
      return;
    }
    const fs::path log = dir_ / "fixtures.log";
    fs::create_directories(dir_);
    const std::string cmd = std::string("/usr/bin/python3 '") + WATTFLEET_SOURCE_DIR +
                            "/tests/helpers/make_torchscript_fixtures.py' '" + dir_.string() +
                            "' >'" + log.string() + "' 2>&1";
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

  // Imports fixture `name` with the input shape it was traced with.
  static Imported Import(const std::string& name) {
    Imported out;
    std::ifstream(dir_ / (name + ".json")) >> out.info;
    const Shape shape = out.info.at("input_shape").get<Shape>();
    auto r = ImportTorchScript((dir_ / (name + ".pt")).string(), shape, name);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) out.result = std::move(r).value();
    return out;
  }

  // An exact import: nothing unsupported, the parameters of the Python model, the layer
  // counts of the graph's operators and the classifier's output.
  static void ExpectExact(const Imported& m, int64_t params) {
    EXPECT_TRUE(m.result.unsupported.empty()) << m.result.unsupported.front();
    EXPECT_EQ(m.arch().Totals().params, params);
    EXPECT_EQ(m.arch().Totals().params, m.info.at("params").get<int64_t>());
    EXPECT_EQ(m.arch().family, "torchscript");
    EXPECT_EQ(m.arch().OutputShape(), (Shape{1000}));
    const Json& info = m.info;
    EXPECT_EQ(Count(m.arch(), T::kConv2d), Ops(info, "aten::_convolution"));
    EXPECT_EQ(Count(m.arch(), T::kBatchNorm2d), Ops(info, "aten::batch_norm"));
    EXPECT_EQ(Count(m.arch(), T::kLinear), Ops(info, "aten::linear"));
    EXPECT_EQ(Count(m.arch(), T::kReLU), Ops(info, "aten::relu"));
    EXPECT_EQ(Count(m.arch(), T::kReLU6), Ops(info, "aten::hardtanh"));
    EXPECT_EQ(Count(m.arch(), T::kSiLU), Ops(info, "aten::silu"));
    EXPECT_EQ(Count(m.arch(), T::kSigmoid), Ops(info, "aten::sigmoid"));
    EXPECT_EQ(Count(m.arch(), T::kAdd), Ops(info, "aten::add"));
    EXPECT_EQ(Count(m.arch(), T::kMul), Ops(info, "aten::mul"));
    EXPECT_EQ(Count(m.arch(), T::kMaxPool2d), Ops(info, "aten::max_pool2d"));
    EXPECT_EQ(Count(m.arch(), T::kAvgPool2d), Ops(info, "aten::avg_pool2d"));
    EXPECT_EQ(Count(m.arch(), T::kDropout), Ops(info, "aten::dropout"));
  }

  static inline fs::path dir_;
  static inline std::string skip_;
  static inline std::string failure_;
};

// The layer counts the graph's operators account for: one node per mapped operator.
int MappedOps(const Json& info) {
  int n = 0;
  for (const char* kind :
       {"aten::_convolution", "aten::batch_norm", "aten::linear", "aten::relu", "aten::hardtanh",
        "aten::silu", "aten::sigmoid", "aten::add", "aten::mul", "aten::max_pool2d",
        "aten::avg_pool2d", "aten::adaptive_avg_pool2d", "aten::flatten", "aten::dropout",
        "aten::cat"}) {
    n += Ops(info, kind);
  }
  return n;
}

TEST_F(TorchScriptImportTest, SmallCnnLayerByLayer) {
  const auto m = Import("small_cnn");
  ASSERT_TRUE(m.result.unsupported.empty());
  const std::vector<T> types = {T::kConv2d,    T::kBatchNorm2d, T::kReLU,    T::kMaxPool2d,
                                T::kConv2d,    T::kBatchNorm2d, T::kReLU,    T::kMaxPool2d,
                                T::kFlatten,   T::kDropout,     T::kLinear};
  const std::vector<Shape> outputs = {{8, 32, 32},  {8, 32, 32}, {8, 32, 32}, {8, 16, 16},
                                      {16, 8, 8},   {16, 8, 8},  {16, 8, 8},  {16, 4, 4},
                                      {256},        {256},       {10}};
  ASSERT_EQ(m.arch().nodes.size(), types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    const ArchNode& node = m.arch().nodes[i];
    EXPECT_EQ(node.spec.type, types[i]) << i;
    auto f = ComputeFeatures(node.spec);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->output_shape, outputs[i]) << i << " " << node.name;
    EXPECT_EQ(node.inputs, (std::vector<int>{static_cast<int>(i) - 1})) << i;  // a chain
  }
  EXPECT_EQ(m.arch().input_shape, (Shape{3, 32, 32}));
  EXPECT_EQ(m.arch().name, "small_cnn");
  // Modules name their layers; functional calls get the type and a counter.
  EXPECT_EQ(m.arch().nodes[0].name, "conv1");
  EXPECT_EQ(m.arch().nodes[1].name, "bn1");
  EXPECT_EQ(m.arch().nodes[2].name, "relu1");
  EXPECT_EQ(m.arch().nodes[9].name, "drop");
  EXPECT_EQ(m.arch().nodes[10].name, "fc");
  // conv1: 3*8*9 + 8 = 224, bn1 16, conv2 (no bias) 8*16*9 = 1152, bn2 32, fc 256*10 + 10.
  EXPECT_EQ(m.arch().Totals().params, 224 + 16 + 1152 + 32 + 2570);
  EXPECT_EQ(m.arch().Totals().params, m.info.at("params").get<int64_t>());
  const LayerSpec& conv2 = m.arch().nodes[4].spec;
  EXPECT_EQ(conv2.Int("stride"), 2);
  EXPECT_EQ(conv2.Int("padding"), 1);
  EXPECT_EQ(conv2.Int("bias"), 0);
  EXPECT_EQ(m.arch().nodes[0].spec.Int("bias"), 1);
  EXPECT_DOUBLE_EQ(m.arch().nodes[9].spec.params.at("p"), 0.25);
  EXPECT_EQ(m.arch().nodes[3].spec.Int("kernel_size"), 2);
  EXPECT_EQ(static_cast<int>(m.arch().nodes.size()), MappedOps(m.info));
}

TEST_F(TorchScriptImportTest, ResNet18) {
  const auto m = Import("resnet18");
  ExpectExact(m, 11'689'512);
  EXPECT_EQ(Count(m.arch(), T::kAdd), 8);
  EXPECT_EQ(static_cast<int>(m.arch().nodes.size()), MappedOps(m.info));
  const double macs = static_cast<double>(m.arch().Totals().macs);
  EXPECT_NEAR(macs, 1.814e9, 0.02 * 1.814e9);
  // Residual adds read two earlier nodes: the block's path and the shortcut.
  for (const auto& node : m.arch().nodes) {
    if (node.spec.type == T::kAdd) {
      EXPECT_EQ(node.inputs.size(), 2u) << node.name;
    }
  }
  // The stem: 7x7 stride-2 convolution, then a 3x3 stride-2 max pool padded by 1.
  EXPECT_EQ(m.arch().nodes[0].spec.Int("kernel_size"), 7);
  EXPECT_EQ(m.arch().nodes[0].name, "conv1");
  EXPECT_EQ(m.arch().nodes[3].spec.type, T::kMaxPool2d);
  EXPECT_EQ(m.arch().nodes[3].spec.Int("padding"), 1);
}

TEST_F(TorchScriptImportTest, MobileNetV2) {
  const auto m = Import("mobilenet_v2");
  ExpectExact(m, 3'504'872);
  EXPECT_EQ(Count(m.arch(), T::kReLU6), 35);
  EXPECT_EQ(static_cast<int>(m.arch().nodes.size()), MappedOps(m.info));
  // Depthwise convolutions keep their groups.
  int depthwise = 0;
  for (const auto& node : m.arch().nodes) {
    const auto& s = node.spec;
    depthwise += s.type == T::kConv2d && s.Int("groups") > 1 &&
                 s.Int("groups") == s.Int("in_channels");
  }
  EXPECT_EQ(depthwise, 17);
}

TEST_F(TorchScriptImportTest, Vgg11) {
  const auto m = Import("vgg11");
  ExpectExact(m, 132'863'336);
  EXPECT_EQ(static_cast<int>(m.arch().nodes.size()), MappedOps(m.info));
  EXPECT_EQ(Count(m.arch(), T::kAdaptiveAvgPool2d), 1);
}

TEST_F(TorchScriptImportTest, EfficientNetB0SqueezeExcitation) {
  const auto m = Import("efficientnet_b0");
  ExpectExact(m, 5'288'548);
  EXPECT_EQ(static_cast<int>(m.arch().nodes.size()), MappedOps(m.info));
  // Each of the 16 SE blocks: adaptive pool, conv, silu, conv, sigmoid, then the block's input
  // scaled by the [C,1,1] gate.
  const auto& nodes = m.arch().nodes;
  int se = 0;
  for (const auto& node : nodes) {
    if (node.spec.type != T::kMul) continue;
    ASSERT_EQ(node.inputs.size(), 2u);
    ASSERT_EQ(node.spec.extra_inputs.size(), 1u);
    const Shape& gate = node.spec.extra_inputs[0];
    EXPECT_EQ(gate, (Shape{node.spec.input_shape[0], 1, 1}));
    std::vector<T> chain;
    for (int at = node.inputs[1]; at >= 0 && chain.size() < 5; at = nodes[at].inputs[0]) {
      chain.push_back(nodes[at].spec.type);
    }
    EXPECT_EQ(chain, (std::vector<T>{T::kSigmoid, T::kConv2d, T::kSiLU, T::kConv2d,
                                     T::kAdaptiveAvgPool2d}))
        << node.name;
    ++se;
  }
  EXPECT_EQ(se, 16);
}

TEST_F(TorchScriptImportTest, DenseNet121) {
  const auto m = Import("densenet121");
  ExpectExact(m, 7'978'856);
  // The first layer of each of the 4 dense blocks concatenates a single tensor: no node.
  EXPECT_EQ(Count(m.arch(), T::kConcat), Ops(m.info, "aten::cat") - 4);
  EXPECT_EQ(Count(m.arch(), T::kConcat), 58);
  EXPECT_EQ(static_cast<int>(m.arch().nodes.size()), MappedOps(m.info) - 4);
  for (const auto& node : m.arch().nodes) {
    if (node.spec.type == T::kConcat) {
      EXPECT_EQ(node.inputs.size(), node.spec.extra_inputs.size() + 1);
      EXPECT_EQ(node.spec.Int("dim"), 0);  // channels, per sample
    }
  }
}

// What a layer computes: its type, shapes, MACs and parameters (a pool's ceil_mode that
// changes no shape is not in it: the importer drops it, torchvision's modules declare it).
std::string Computes(const LayerSpec& spec) {
  auto f = ComputeFeatures(spec);
  if (!f.ok()) return "invalid: " + f.status().message();
  std::ostringstream out;
  out << LayerTypeName(spec.type) << " in";
  for (int64_t d : spec.input_shape) out << " " << d;
  out << " out";
  for (int64_t d : f->output_shape) out << " " << d;
  out << " macs " << f->macs << " params " << f->params;
  return out.str();
}

// The zoo rebuilds torchvision's models: imported from torchvision's own trace, each has its
// zoo entry's layers one for one (as many of each), so that the rebuild runs the operators
// the module runs: DenseNet's concatenations, EfficientNet's squeeze-and-excitation, RegNet's
// grouped blocks among them (bench/RESULTS.md times both).
TEST_F(TorchScriptImportTest, TheZoosRebuildsHaveTorchvisionsLayers) {
  for (const char* name : {"resnet18", "mobilenet_v2", "vgg11", "efficientnet_b0", "densenet121",
                           "regnet_x_400mf", "shufflenet_v2_x0_5", "squeezenet1_0"}) {
    Imported m = Import(name);
    auto zoo = FindZooArchitecture(name);
    ASSERT_TRUE(zoo.ok()) << zoo.status().ToString();
    std::multiset<std::string> traced, rebuilt;
    for (const auto& node : m.arch().nodes) traced.insert(Computes(node.spec));
    for (const auto& node : zoo->nodes) rebuilt.insert(Computes(node.spec));
    std::vector<std::string> only_traced, only_rebuilt;
    std::set_difference(traced.begin(), traced.end(), rebuilt.begin(), rebuilt.end(),
                        std::back_inserter(only_traced));
    std::set_difference(rebuilt.begin(), rebuilt.end(), traced.begin(), traced.end(),
                        std::back_inserter(only_rebuilt));
    EXPECT_TRUE(only_traced.empty() && only_rebuilt.empty())
        << name << ": " << only_traced.size() << " layers only in torchvision's trace (first: "
        << (only_traced.empty() ? "-" : only_traced.front()) << "), " << only_rebuilt.size()
        << " only in the zoo (first: " << (only_rebuilt.empty() ? "-" : only_rebuilt.front())
        << ")";
  }
}

TEST_F(TorchScriptImportTest, ShuffleNetChannelShuffleAndChunks) {
  const auto m = Import("shufflenet_v2_x0_5");
  ExpectExact(m, m.info.at("params").get<int64_t>());
  // Channel shuffle (view, transpose, contiguous, view) once per unit; chunk(2) into two
  // Narrows in the 13 stride-1 units; the final mean([2, 3]) as a pool and a flatten.
  EXPECT_EQ(Count(m.arch(), T::kChannelShuffle), 16);
  EXPECT_EQ(Count(m.arch(), T::kNarrow), 2 * Ops(m.info, "aten::chunk"));
  EXPECT_EQ(Count(m.arch(), T::kConcat), Ops(m.info, "aten::cat"));
  EXPECT_EQ(Count(m.arch(), T::kAdaptiveAvgPool2d), 1);
  EXPECT_EQ(m.arch().nodes.back().spec.type, T::kLinear);
}

TEST_F(TorchScriptImportTest, SqueezeNetCeilModePools) {
  const auto m = Import("squeezenet1_0");
  ExpectExact(m, 1'248'424);
  EXPECT_EQ(Count(m.arch(), T::kConcat), Ops(m.info, "aten::cat"));
  EXPECT_EQ(static_cast<int>(m.arch().nodes.size()), MappedOps(m.info));
  // Three ceil_mode max pools on 109, 54 and 27: only the one on 54 gains a partial window
  // (26 rounded down, 27 up), so only it carries ceil_mode.
  std::vector<Shape> pooled;
  int ceil = 0;
  for (const auto& node : m.arch().nodes) {
    if (node.spec.type != T::kMaxPool2d) continue;
    ceil += node.spec.Int("ceil_mode");
    auto f = ComputeFeatures(node.spec);
    ASSERT_TRUE(f.ok());
    pooled.push_back(f->output_shape);
  }
  EXPECT_EQ(ceil, 1);
  EXPECT_EQ(pooled, (std::vector<Shape>{{96, 54, 54}, {256, 27, 27}, {512, 13, 13}}));
}

// A Transformer imported exactly: nothing unsupported, the parameters of the Python model, and
// the MACs of the hook-based count (the JSON's `macs`, per sample) within 3 %.
void ExpectExactTransformer(const Imported& m, const Shape& output) {
  ASSERT_TRUE(m.result.unsupported.empty()) << m.result.unsupported.front();
  EXPECT_EQ(m.arch().Totals().params, m.info.at("params").get<int64_t>());
  const double hooked = m.info.at("macs").get<double>();
  EXPECT_NEAR(static_cast<double>(m.arch().Totals().macs), hooked, 0.03 * hooked);
  EXPECT_EQ(m.arch().OutputShape(), output);
}

TEST_F(TorchScriptImportTest, VisionTransformerB16) {
  // torchvision's vit_b_16: the patch grid as tokens (reshape + permute), the class token
  // (expand + cat), the position table, twelve fused attention operators, x[:, 0], the head.
  const auto m = Import("vit_b_16");
  ExpectExactTransformer(m, {1000});
  EXPECT_EQ(m.arch().Totals().params, 86'567'656);  // torchvision's published count
  EXPECT_NEAR(static_cast<double>(m.arch().Totals().macs), 17.56e9, 0.03 * 17.56e9);
  EXPECT_EQ(Count(m.arch(), T::kMultiheadAttention), 12);
  EXPECT_EQ(Count(m.arch(), T::kTokens), 1);
  EXPECT_EQ(Count(m.arch(), T::kClassToken), 1);
  EXPECT_EQ(Count(m.arch(), T::kPositionalEmbedding), 1);
  EXPECT_EQ(Count(m.arch(), T::kSelectToken), 1);
  EXPECT_EQ(Count(m.arch(), T::kLayerNorm), Ops(m.info, "aten::layer_norm"));
  EXPECT_EQ(Count(m.arch(), T::kLinear), Ops(m.info, "aten::linear"));
  EXPECT_EQ(Count(m.arch(), T::kDropout), 0);  // p = 0 everywhere: no layer
  for (const auto& node : m.arch().nodes) {
    if (node.spec.type != T::kMultiheadAttention) continue;
    EXPECT_EQ(node.spec.Int("num_heads"), 12) << node.name;
    EXPECT_EQ(node.spec.Int("causal"), 0) << node.name;
    EXPECT_EQ(node.spec.input_shape, (Shape{197, 768})) << node.name;
  }
}

TEST_F(TorchScriptImportTest, BertLikeEncoderLayersFromTheFastPath) {
  const auto m = Import("bert_like");
  ExpectExactTransformer(m, {2});
  EXPECT_EQ(Count(m.arch(), T::kTransformerEncoderLayer), 2);
  EXPECT_EQ(Count(m.arch(), T::kEmbedding), 1);
  EXPECT_EQ(Count(m.arch(), T::kPositionalEmbedding), 1);
  EXPECT_EQ(Count(m.arch(), T::kSelectToken), 1);
  for (const auto& node : m.arch().nodes) {
    if (node.spec.type != T::kTransformerEncoderLayer) continue;
    EXPECT_EQ(node.spec.Int("nhead"), 4);
    EXPECT_EQ(node.spec.Int("dim_feedforward"), 256);
    EXPECT_EQ(node.spec.Int("gelu"), 1);
    EXPECT_EQ(node.spec.Int("norm_first"), 0);
  }
}

TEST_F(TorchScriptImportTest, GptLikeCausalAttentionTracedOperatorByOperator) {
  // Under a mask the attention is traced as transposes, views, baddbmm, softmax and bmm in
  // the module's scope: each run becomes one causal attention layer.
  const auto m = Import("gpt_like");
  ExpectExactTransformer(m, {16, 1000});
  EXPECT_EQ(Count(m.arch(), T::kMultiheadAttention), 2);
  EXPECT_EQ(Count(m.arch(), T::kAdd), 4);  // two residuals per block
  for (const auto& node : m.arch().nodes) {
    if (node.spec.type != T::kMultiheadAttention) continue;
    EXPECT_EQ(node.spec.Int("num_heads"), 4) << node.name;
    EXPECT_EQ(node.spec.Int("causal"), 1) << node.name;
    EXPECT_EQ(node.spec.Int("bias"), 1) << node.name;
  }
}

TEST_F(TorchScriptImportTest, PatchTokensFlattenTransposeAndAClassToken) {
  const auto m = Import("patch_tokens");
  ExpectExactTransformer(m, {10});
  EXPECT_EQ(Count(m.arch(), T::kTokens), 1);
  EXPECT_EQ(Count(m.arch(), T::kClassToken), 1);
  EXPECT_EQ(Count(m.arch(), T::kMultiheadAttention), 1);
  EXPECT_EQ(Count(m.arch(), T::kSelectToken), 1);
}

TEST_F(TorchScriptImportTest, UnsupportedOperatorsAreListedByName) {
  const auto m = Import("rolled");
  // roll and fft read the model's data; abs reads fft's output and is listed too, while the
  // mean and linear after it are known kinds and are not.
  EXPECT_EQ(m.result.unsupported,
            (std::vector<std::string>{"aten::roll", "aten::fft_fft2", "aten::abs"}));
  ASSERT_FALSE(m.arch().nodes.empty());
  EXPECT_EQ(m.arch().nodes[0].spec.type, T::kConv2d);  // what was mapped before
}

TEST_F(TorchScriptImportTest, WrongInputShapeFailsNamingTheFile) {
  const std::string path = (dir_ / "small_cnn.pt").string();
  auto r = ImportTorchScript(path, {1, 32, 32}, "small_cnn");  // one channel, not three
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("in_channels"), std::string::npos) << r.status().message();
}

// An input shape of the wrong rank (here one without its channel dimension, as a user who
// forgot it would give) is the user's error, naming the rank the first layer expects; before,
// the convolution went unmapped and the model came out with 0 MACs.
TEST_F(TorchScriptImportTest, WrongInputRankNamesTheRankExpected) {
  const std::string path = (dir_ / "small_cnn.pt").string();
  auto r = ImportTorchScript(path, {32, 32}, "small_cnn");  // rank 3 with the batch; needs 4
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("rank 3"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("expects rank 4"), std::string::npos)
      << r.status().message();
}

// `torchscript:` campaign entries: a path relative to the campaign file, the traced shape with
// its batch dimension, named by the file so that it never shadows a zoo name; a model with
// unmapped operators is refused at the entry rather than measured in part.
TEST_F(TorchScriptImportTest, CampaignEntries) {
  const fs::path yaml = dir_ / "c.yaml";
  std::ofstream(yaml) << "name: ts\n"
                         "devices: [{class: cpu}]\n"
                         "architectures:\n"
                         "  - torchscript: small_cnn.pt\n"
                         "    input_shape: [1, 3, 32, 32]\n";
  auto c = LoadCampaignFile(yaml.string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->architectures.size(), 1u);
  EXPECT_EQ(c->architectures[0].name, "small_cnn.pt");
  EXPECT_EQ(c->architectures[0].input_shape, (Shape{3, 32, 32}));
  EXPECT_EQ(c->architectures[0].Totals().params,
            Import("small_cnn").info.at("params").get<int64_t>());

  const fs::path rolled = dir_ / "r.yaml";
  std::ofstream(rolled) << "name: ts\n"
                           "devices: [{class: cpu}]\n"
                           "architectures:\n"
                           "  - torchscript: rolled.pt\n"
                           "    input_shape: [1, 3, 16, 16]\n";
  auto r = LoadCampaignFile(rolled.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(rolled.string() + ":4:18: torchscript 'rolled.pt' uses "
                                       "operators wattfleet cannot map: aten::roll",
                                       0),
            0u)
      << r.status().message();

  const fs::path no_shape = dir_ / "s.yaml";
  std::ofstream(no_shape) << "name: ts\n"
                             "devices: [{class: cpu}]\n"
                             "architectures:\n"
                             "  - torchscript: small_cnn.pt\n";
  auto s = LoadCampaignFile(no_shape.string());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("torchscript needs input_shape"), std::string::npos)
      << s.status().message();
}

// Needs no fixture: runs even where torchvision is missing.
TEST(TorchScriptImport, BadFilesAndShapesAreInvalidArguments) {
  EXPECT_TRUE(TorchScriptSupported());
  const fs::path dir = fs::temp_directory_path() / ("wattfleet_ts_bad_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string missing = (dir / "missing.pt").string();
  const std::string garbage = (dir / "garbage.pt").string();
  std::ofstream(garbage) << "this is not a zip archive";
  for (const std::string& path : {missing, garbage}) {
    auto r = ImportTorchScript(path, {3, 32, 32}, "m");
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  }
  // A device or a folder is there, but is not a model: said so, not "no such file".
  for (const std::string& path : {std::string("/dev/zero"), dir.string()}) {
    auto r = ImportTorchScript(path, {3, 32, 32}, "m");
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().find("no such file"), std::string::npos)
        << r.status().message();
  }
  for (const Shape& shape : {Shape{}, Shape{3, 0, 32}, Shape{3, -1, 32}}) {
    auto r = ImportTorchScript(garbage, shape, "m");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("input shape"), std::string::npos);
    EXPECT_NE(r.status().message().find(garbage), std::string::npos);
  }
  fs::remove_all(dir);
}

// A zip bomb: a few hundred bytes whose directory declares gigabytes that libtorch would
// allocate and decompress. Refused from the directory, before libtorch reads it.
TEST(TorchScriptImport, AZipBombIsRefusedBeforeItIsLoaded) {
  const fs::path dir = fs::temp_directory_path() / ("wattfleet_ts_bomb_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string bomb = (dir / "bomb.pt").string();
  testing::WriteCraftedZip(bomb, {{"bomb/data.pkl", 1u << 20},
                                  {"bomb/data/0", 3u << 30},
                                  {"bomb/version", 2}});
  auto r = ImportTorchScript(bomb, {3, 32, 32}, "m");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("decompresses to 3 GiB"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(bomb), std::string::npos) << r.status().message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace wattfleet
