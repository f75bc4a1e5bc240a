// The layer-sum check (layer_sum.h): a whole model against the sum of its measured layers, on
// samples built by hand and on a real synthetic dataset whose model time is made implausible.
#include "wattfleet/estimate/layer_sum.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "summary.h"
#include "synthetic_dataset.h"
#include "temp_dir.h"
#include "wattfleet/estimate/training_data.h"

namespace wattfleet {
namespace {

LayerSample Layer(const std::string& key, double time_s, const std::string& campaign = "c1",
                  int64_t batch = 4) {
  LayerSample l;
  l.device_class = "cpu";
  l.mode = "inference";
  l.campaign = campaign;
  l.key = key;
  l.batch = batch;
  l.time_s = time_s;
  return l;
}

ModelSample Model(std::vector<std::string> keys, double time_s) {
  ModelSample m;
  m.device_class = "cpu";
  m.mode = "inference";
  m.campaign = "c1";
  m.kind = JobKind::kModel;
  m.batch = 4;
  m.layer_keys = std::move(keys);
  m.time_s = time_s;
  return m;
}

TEST(LayerSum, RatioOfTheLayersTimesToTheModelsOwn) {
  const std::vector<LayerSample> layers = {Layer("a", 0.002), Layer("b", 0.001)};
  // A layer used twice counts twice.
  auto r = LayerSumRatio(Model({"a", "b", "a"}, 0.005), layers);
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(*r, 1.0);
  // A layer never measured at this batch: no ratio rather than a wrong one.
  EXPECT_FALSE(LayerSumRatio(Model({"a", "c"}, 0.005), layers).has_value());
  ModelSample other_batch = Model({"a"}, 0.002);
  other_batch.batch = 8;
  EXPECT_FALSE(LayerSumRatio(other_batch, layers).has_value());
  // Probes (no layer list) and models without a time are not checked.
  EXPECT_FALSE(LayerSumRatio(Model({}, 0.005), layers).has_value());
  EXPECT_FALSE(LayerSumRatio(Model({"a"}, 0), layers).has_value());
}

TEST(LayerSum, ItsOwnCampaignsLayersComeFirst) {
  const std::vector<LayerSample> layers = {Layer("a", 0.050, "c0"), Layer("a", 0.001, "c1")};
  auto r = LayerSumRatio(Model({"a"}, 0.001), layers);
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(*r, 1.0);
  ModelSample elsewhere = Model({"a"}, 0.050);
  elsewhere.campaign = "c9";  // measured no layers: any campaign's stand in
  r = LayerSumRatio(elsewhere, layers);
  ASSERT_TRUE(r.has_value());
  EXPECT_GT(*r, 0);
}

TEST(LayerSum, TheRangeIsAThirdToThreeTimes) {
  EXPECT_FALSE(LayerSumOutOfRange(1.0));
  EXPECT_FALSE(LayerSumOutOfRange(2.9));
  EXPECT_FALSE(LayerSumOutOfRange(0.34));
  EXPECT_TRUE(LayerSumOutOfRange(7.4));  // a ResNet-18 measured on a busy machine
  EXPECT_TRUE(LayerSumOutOfRange(0.2));
}

TEST(LayerSum, FitLeavesOutWholeModelsWhoseLayersDoNotAddUp) {
  testing::TempDir dir{"wf-layer-sum"};
  const std::string db = dir.File("dataset.db");
  testing::BuildSyntheticDataset(db, 0);
  auto before = LoadTrainingData(db);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->layer_sum_left_out, 0) << "the synthetic models add up";
  std::string victim;
  for (const ModelSample& m : before->models) {
    if (m.kind == JobKind::kModel && LayerSumRatio(m, before->layers)) victim = m.name;
  }
  ASSERT_FALSE(victim.empty()) << "no whole model with every layer measured";
  // Its whole-model time shrunk tenfold: its layers now sum to ten times as much.
  testing::ExecRaw(db, "UPDATE measurements SET time_per_iter_s = time_per_iter_s / 10 "
                       "WHERE job_id IN (SELECT id FROM jobs WHERE kind = 'model' AND "
                       "subject = '" + victim + "')");
  auto after = LoadTrainingData(db);
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->layer_sum_left_out, 1);
  EXPECT_EQ(after->flagged_left_out, after->layer_sum_left_out);
  EXPECT_EQ(after->models.size() + static_cast<size_t>(after->layer_sum_left_out),
            before->models.size());
  for (const ModelSample& m : after->models) EXPECT_NE(m.name, victim);
  TrainingDataOptions all;
  all.include_flagged = true;
  auto with = LoadTrainingData(db, all);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(with->layer_sum_left_out, 0);
  EXPECT_EQ(with->models.size(), before->models.size());
}

ExportRow Row(const std::string& kind, const std::string& name, double time_s) {
  ExportRow r;
  r.kind = *ParseJobKind(kind);
  r.device_class = "cpu";
  (kind == "layer" ? r.layer_key : r.architecture) = name;
  r.m.time_per_iter_s = time_s;
  r.m.energy_per_iter_j = time_s * 10;
  return r;
}

TEST(LayerSum, TheRunSummaryMarksTheModelsThatDoNotAddUp) {
  Plan plan;
  plan.campaign.name = "c";
  plan.arch_layers = {{"good", 0, "n0", "a"}, {"good", 1, "n1", "b"},
                      {"busy", 0, "n0", "a"}, {"busy", 1, "n1", "b"}};
  const std::vector<ExportRow> rows = {Row("layer", "a", 0.002), Row("layer", "b", 0.001),
                                       Row("model", "good", 0.003),
                                       Row("model", "busy", 0.0004)};  // 7.5x
  const std::string text = FormatSummary(plan, rows);
  const auto line_of = [&](const std::string& name) {
    const size_t at = text.find(name);
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_NE(line_of("busy").find("layer-sum"), std::string::npos) << text;
  EXPECT_EQ(line_of("good").find("layer-sum"), std::string::npos) << text;
  EXPECT_NE(text.find("1 model(s) flagged layer-sum"), std::string::npos) << text;
}

}  // namespace
}  // namespace wattfleet
