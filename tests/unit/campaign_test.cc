// Campaign parsing: the quickstart file, defaults, sweeps, and every file under
// tests/data/campaigns/invalid/ and hostile/ (each names its expected message on its first line).
#include "wattfleet/campaign/campaign.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

const std::string kSourceDir = WATTFLEET_SOURCE_DIR;

std::string Minimal(const std::string& extra = "") {
  return "name: t\n"
         "devices: [{class: cpu}]\n"
         "architectures:\n"
         "  - zoo: lenet5\n" +
         extra;
}

TEST(CampaignTest, QuickstartParses) {
  const std::string path = kSourceDir + "/experiments/quickstart.yaml";
  Result<Campaign> c = LoadCampaignFile(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "quickstart");
  EXPECT_EQ(c->mode, Mode::kInference);
  EXPECT_EQ(c->dtype, DType::kFloat32);
  EXPECT_EQ(c->batch_size, 16);
  ASSERT_EQ(c->devices.size(), 1u);
  EXPECT_EQ(c->devices[0].device_class, "cpu");
  EXPECT_EQ(c->measurement.warmup_ms, 100);
  EXPECT_EQ(c->measurement.min_window_ms, 200);
  EXPECT_DOUBLE_EQ(c->measurement.target_rel_ci, 0.05);
  EXPECT_EQ(c->measurement.min_repeats, 3);
  EXPECT_EQ(c->measurement.max_repeats, 10);
  EXPECT_EQ(c->measurement.cooldown_ms, 20);
  ASSERT_EQ(c->architectures.size(), 3u);
  EXPECT_EQ(c->architectures[0].name, "lenet5");
  EXPECT_EQ(c->architectures[1].family, "mlp");
  EXPECT_EQ(c->architectures[2].family, "cnn");
  EXPECT_EQ(c->architectures[1].input_shape, (Shape{1, 28, 28}));
  EXPECT_TRUE(c->plan.distinct_layers);
  EXPECT_TRUE(c->plan.whole_models);
  EXPECT_FALSE(c->plan.thor_probes);
  EXPECT_EQ(c->estimators, std::vector<std::string>{"macs"});
  EXPECT_EQ(c->source_path, path);
  EXPECT_NE(c->source_text.find("name: quickstart"), std::string::npos);
}

TEST(CampaignTest, Defaults) {
  Result<Campaign> c = ParseCampaign(Minimal(), "min.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->mode, Mode::kInference);
  EXPECT_EQ(c->dtype, DType::kFloat32);
  EXPECT_EQ(c->batch_size, 1);
  EXPECT_EQ(c->measurement, MeasurementSettings{});
  EXPECT_TRUE(c->plan.distinct_layers);
  EXPECT_TRUE(c->plan.whole_models);
  EXPECT_FALSE(c->plan.thor_probes);
  EXPECT_TRUE(c->estimators.empty());
  EXPECT_EQ(c->source_path, "min.yaml");
  EXPECT_EQ(c->optimizer, Optimizer::kSgd);
  EXPECT_EQ(c->loss, Loss::kCrossEntropy);
}

TEST(CampaignTest, ATrainingCampaignNamesItsOptimiserAndLoss) {
  Result<Campaign> c =
      ParseCampaign(Minimal("mode: training\noptimizer: adamw\nloss: mse\n"), "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->mode, Mode::kTraining);
  EXPECT_EQ(c->optimizer, Optimizer::kAdamW);
  EXPECT_EQ(c->loss, Loss::kMse);
  for (const char* name : {"sgd", "sgd-momentum", "adam", "adamw"}) {
    Result<Campaign> o = ParseCampaign(
        Minimal(std::string("mode: training\noptimizer: ") + name + "\n"), "t.yaml");
    ASSERT_TRUE(o.ok()) << name << ": " << o.status().ToString();
    EXPECT_EQ(OptimizerName(o->optimizer), name);
  }
}

TEST(CampaignTest, AllKeys) {
  const std::string text =
      "name: full-1.0_x\n"
      "mode: training\n"
      "dtype: bfloat16\n"
      "batch_size: 32\n"
      "devices:\n"
      "  - {class: cuda, name: 'gpu-*', accelerator: h100, sensor: nvml}\n"
      "  - {class: cpu}\n"
      "  - {class: cuda, name: other}\n"
      "measurement: {warmup_ms: 0, min_window_ms: 1, target_rel_ci: 0.1, min_repeats: 2,\n"
      "              max_repeats: 2, cooldown_ms: 0}\n"
      "architectures:\n"
      "  - zoo: lenet5\n"
      "plan: {layers: all, whole_models: false, thor_probes: false}\n"
      "estimators: [thor, wattlayer, powerlaw, macs, step, pre, tdp, macs]\n";
  Result<Campaign> c = ParseCampaign(text, "full.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "full-1.0_x");
  EXPECT_EQ(c->mode, Mode::kTraining);
  EXPECT_EQ(c->dtype, DType::kBFloat16);
  EXPECT_EQ(c->batch_size, 32);
  ASSERT_EQ(c->devices.size(), 3u);
  EXPECT_EQ(c->devices[0].device_class, "cuda");
  EXPECT_EQ(c->devices[0].name_glob, "gpu-*");
  EXPECT_EQ(c->devices[0].accelerator, "h100");
  EXPECT_EQ(c->devices[0].sensor, "nvml");
  EXPECT_EQ(c->devices[1].device_class, "cpu");
  EXPECT_EQ(c->measurement.warmup_ms, 0);
  EXPECT_EQ(c->measurement.min_window_ms, 1);
  EXPECT_DOUBLE_EQ(c->measurement.target_rel_ci, 0.1);
  EXPECT_EQ(c->measurement.min_repeats, 2);
  EXPECT_EQ(c->measurement.max_repeats, 2);
  EXPECT_FALSE(c->plan.distinct_layers);
  EXPECT_FALSE(c->plan.whole_models);
  // Duplicates are stored once.
  EXPECT_EQ(c->estimators.size(), 7u);
}

TEST(CampaignTest, BatchSizeIsANumberOrAListOfDistinctBatches) {
  Result<Campaign> one = ParseCampaign(Minimal("batch_size: 16\n"), "b.yaml");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->Batches(), (std::vector<int64_t>{16}));
  EXPECT_EQ(one->batch_size, 16);
  Result<Campaign> sweep = ParseCampaign(Minimal("batch_size: [1, 8, 32]\n"), "b.yaml");
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
  EXPECT_EQ(sweep->Batches(), (std::vector<int64_t>{1, 8, 32}));
  EXPECT_EQ(sweep->batch_size, 1);

  struct Bad {
    std::string yaml, message;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"batch_size: []\n", "list of 1 to 16"},
           {"batch_size: [1, 8, 1]\n", "batch 1 is listed twice"},
           {"batch_size: [1, eight]\n", "each batch must be an integer"},
           {"batch_size: [0]\n", "each batch must be an integer"},
           {"batch_size: {a: 1}\n", "batch_size must be an integer"}}) {
    Result<Campaign> c = ParseCampaign(Minimal(bad.yaml), "b.yaml");
    ASSERT_FALSE(c.ok()) << bad.yaml;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(bad.message), std::string::npos)
        << c.status().message();
    EXPECT_NE(c.status().message().find("b.yaml:"), std::string::npos) << c.status().message();
  }
}

TEST(CampaignTest, SweepIsCartesianProduct) {
  Result<Campaign> c = ParseCampaign(
      "name: sweep\n"
      "devices: [{class: cpu}]\n"
      "architectures:\n"
      "  - family: mlp\n"
      "    sweep: {depth: [1, 2, 3], width: [16, 32], input: [[1, 28, 28], [3, 8, 8]]}\n",
      "sweep.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->architectures.size(), 12u);
  std::set<std::string> names;
  std::set<Shape> inputs;
  for (const Architecture& a : c->architectures) {
    EXPECT_EQ(a.family, "mlp");
    names.insert(a.name);
    inputs.insert(a.input_shape);
  }
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(inputs, (std::set<Shape>{{1, 28, 28}, {3, 8, 8}}));
}

TEST(CampaignTest, SweepInputFlatListIsOneShapeAndScalarsAreOneValue) {
  Result<Campaign> c = ParseCampaign(
      "name: sweep\n"
      "devices: [{class: cpu}]\n"
      "architectures:\n"
      "  - family: mlp\n"
      "    sweep: {depth: 2, width: [16, 32], input: [1, 28, 28]}\n",
      "sweep.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->architectures.size(), 2u);
  EXPECT_EQ(c->architectures[0].input_shape, (Shape{1, 28, 28}));
  EXPECT_EQ(c->architectures[1].input_shape, (Shape{1, 28, 28}));
}

TEST(CampaignTest, SameArchitectureTwiceIsKeptOnce) {
  Result<Campaign> c = ParseCampaign(
      "name: dup\n"
      "devices: [{class: cpu}]\n"
      "architectures:\n"
      "  - zoo: lenet5\n"
      "  - family: mlp\n"
      "    sweep: {depth: [2], width: [64], input: [[1, 28, 28]]}\n"
      "  - zoo: lenet5\n"
      "  - family: mlp\n"
      "    sweep: {depth: [2, 3], width: [64], input: [[1, 28, 28]]}\n",
      "dup.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->architectures.size(), 3u);
  EXPECT_EQ(c->architectures[0].name, "lenet5");
  EXPECT_EQ(c->architectures[1].family, "mlp");
  EXPECT_EQ(c->architectures[2].family, "mlp");
  EXPECT_NE(c->architectures[1].name, c->architectures[2].name);
}

TEST(CampaignTest, ThorProbesFalseIsAccepted) {
  Result<Campaign> c = ParseCampaign(Minimal("plan: {thor_probes: false}\n"), "p.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->plan.thor_probes);
}

TEST(CampaignTest, MissingFileNamesThePath) {
  Result<Campaign> c = LoadCampaignFile("/nonexistent/dir/nope.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "/nonexistent/dir/nope.yaml: cannot read file");
}

TEST(CampaignTest, ErrorsAreOneBasedAndNameTheKey) {
  Result<Campaign> c =
      ParseCampaign("name: quick\ndevices: [{class: cpu}]\nbatch_size: abc\n", "quick.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "quick.yaml:3:13: batch_size must be an integer in [1, 65536], got 'abc'");
}

TEST(CampaignTest, GarbageNeverThrows) {
  const std::vector<std::string> inputs = {
      "", "\t", "{", "[", "]]]", "name: [", "&a [*a]", "!!binary x", "? [a]\n: b\n",
      "name: x\ndevices: *undefined\n", "%YAML 9.9\n---\na: 1\n", "a: 1\n---\nb: 2\n",
      "name: {a: b}\n", "devices: [{class: [cpu]}]\n", "- - - -\n", "\"unterminated\n"};
  for (const std::string& text : inputs) {
    Result<Campaign> c = ParseCampaign(text, "g.yaml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(c.status().message().rfind("g.yaml:", 0), 0u) << c.status().message();
  }
}

TEST(CampaignTest, TheWholeCampaignIsBoundedBeforeItIsBuilt) {
  // A file past the size bound is refused unread.
  const std::string huge = "name: big\ndevices: [{class: cpu}]\narchitectures:\n" +
                           std::string(kMaxCampaignBytes, '#') + "\n";
  Result<Campaign> c = ParseCampaign(huge, "huge.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("at most"), std::string::npos) << c.status().message();

  // Entries of one architecture each, past the campaign's bound: refused at the first one
  // too many, with its position.
  std::string many = "name: many\ndevices: [{class: cpu}]\narchitectures:\n";
  for (int i = 0; i <= 10000; ++i) many += "  - zoo: lenet5\n";
  c = ParseCampaign(many, "many.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("many.yaml:10004:5: architectures[10000]", 0), 0u)
      << c.status().message();
}

TEST(CampaignTest, MessagesShowControlCharactersAndSuspectAnUnclosedQuote) {
  Result<Campaign> c = ParseCampaign(
      "name: \"abc\ndevices: [{class: cpu}]\narchitectures:\n  - zoo: lenet5\n", "q.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("closing quote"), std::string::npos)
      << c.status().message();
  c = ParseCampaign(std::string("name: x\ndevices: [{class: cpu}]\narchitectures:\n"
                                "  - zoo: le\0net5\n", 64),
                    "nul.yaml");
  ASSERT_FALSE(c.ok());
  // At the byte itself (the YAML reader would take it for a line break).
  EXPECT_EQ(c.status().message().rfind("nul.yaml:4:12: a NUL byte", 0), 0u)
      << c.status().message();
}

// Reads `# expect: L:C: fragment` from the first line of each invalid file: mistakes
// (invalid/) and hostile input (hostile/: oversize, overflow, control characters, NUL bytes).
TEST(CampaignTest, InvalidFilesReportTheirExpectedMessage) {
  std::vector<std::filesystem::path> files;
  for (const char* corpus : {"invalid", "hostile"}) {
    size_t found = 0;
    for (const auto& e : std::filesystem::directory_iterator(kSourceDir + "/tests/data/campaigns/" +
                                                             corpus)) {
      if (e.path().extension() == ".yaml") files.push_back(e.path()), ++found;
    }
    ASSERT_GE(found, 6u) << corpus;
  }
  std::sort(files.begin(), files.end());
  const std::string kPrefix = "# expect: ";
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::ifstream in(file);
    std::string first;
    std::getline(in, first);
    ASSERT_EQ(first.rfind(kPrefix, 0), 0u) << "first line must start with '" << kPrefix << "'";
    const std::string expected = file.string() + ":" + first.substr(kPrefix.size());
    Result<Campaign> c = LoadCampaignFile(file.string());
    ASSERT_FALSE(c.ok()) << "parsed although invalid";
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    // The location is exact: the message starts with PATH:LINE:COL and the fragment.
    EXPECT_EQ(c.status().message().rfind(expected, 0), 0u)
        << "got:      " << c.status().message() << "\nexpected: " << expected << "...";
  }
}

}  // namespace
}  // namespace wattfleet
