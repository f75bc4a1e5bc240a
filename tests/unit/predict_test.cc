// `wattfleet predict`, the models table and architecture samples on a real dataset file built
// through the planner and the store (synthetic_dataset.h).
#include <sqlite3.h>

#include <cmath>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <algorithm>

#include "wattfleet/estimate/architecture_sample.h"
#include "cli_evaluate.h"
#include "cli_predict.h"
#include "wattfleet/estimate/model_store.h"
#include "sqlite_store.h"
#include "synthetic_dataset.h"
#include "old_dataset.h"
#include "temp_dir.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

using testing::ExecRaw;
using testing::QueryInt;
using testing::QueryText;
using testing::TempDir;

double Sum(const std::vector<LayerPrediction>& layers, bool energy) {
  double sum = 0;
  for (const LayerPrediction& l : layers) {
    const auto& v = energy ? l.energy_j : l.time_s;
    EXPECT_TRUE(v.has_value()) << l.name;
    sum += v.value_or(0);
  }
  return sum;
}

class PredictTest : public ::testing::Test {
 protected:
  void SetUp() override { left_ = testing::BuildSyntheticDataset(db_, 1); }

  PredictOptions Options(const std::string& arch,
                         const std::string& estimator = "measured-layers") const {
    PredictOptions o;
    o.db = db_;
    o.device = "cpu";
    o.source.arch_name = arch;
    o.estimator = estimator;
    return o;
  }
  Prediction MustPredict(const PredictOptions& o) const {
    auto p = PredictArchitecture(o);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : Prediction{};
  }
  int64_t ModelRows() const { return QueryInt(db_, "SELECT COUNT(*) FROM models"); }

  TempDir dir_{"wf-predict"};
  std::string db_ = dir_.File("dataset.db");
  std::vector<JobSpec> left_;  // one job not measured yet
};

TEST_F(PredictTest, ArchitectureSamplesHaveTheFeaturesTheDatasetGivesItsLayers) {
  auto data = LoadTrainingData(db_);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  auto campaign = ParseCampaign(testing::kSyntheticCampaign, "predict-test.yaml");
  ASSERT_TRUE(campaign.ok());
  int models_compared = 0, layers_compared = 0, with_kernel = 0;
  for (const Architecture& arch : campaign->architectures) {
    auto sample = MakeArchitectureSample(arch, 4, "cpu", "inference");
    ASSERT_TRUE(sample.ok()) << sample.status().ToString();
    ASSERT_EQ(sample->nodes.size(), arch.nodes.size());
    for (const ModelSample& m : data->models) {
      if (m.kind != JobKind::kModel || m.name != arch.name) continue;
      ++models_compared;
      EXPECT_EQ(sample->model.layer_keys, m.layer_keys) << arch.name;
      EXPECT_EQ(sample->model.macs, m.macs) << arch.name;
      EXPECT_EQ(sample->model.flops, m.flops) << arch.name;
      EXPECT_EQ(sample->model.params, m.params) << arch.name;
      EXPECT_EQ(sample->model.family, m.family) << arch.name;
      EXPECT_EQ(sample->model.batch, m.batch) << arch.name;
    }
    for (const auto& [key, s] : sample->catalog) {
      const LayerSample* measured = nullptr;
      for (const LayerSample& l : data->layers) {
        if (l.key == key) measured = &l;
      }
      ASSERT_NE(measured, nullptr) << key;
      ++layers_compared;
      with_kernel += s.kernel > 0;
      EXPECT_EQ(s.type, measured->type) << key;
      EXPECT_EQ(s.batch, measured->batch) << key;
      EXPECT_EQ(s.macs, measured->macs) << key;
      EXPECT_EQ(s.flops, measured->flops) << key;
      EXPECT_EQ(s.params, measured->params) << key;
      EXPECT_EQ(s.input_elements, measured->input_elements) << key;
      EXPECT_EQ(s.output_elements, measured->output_elements) << key;
      EXPECT_EQ(s.kernel, measured->kernel) << key;
      EXPECT_EQ(s.stride, measured->stride) << key;
      EXPECT_EQ(s.groups, measured->groups) << key;
    }
  }
  EXPECT_GE(models_compared, 10);  // every architecture but the one left unmeasured
  EXPECT_GE(layers_compared, 35);
  EXPECT_GT(with_kernel, 0);  // convolutions and pools carry their kernel size

  // Per-iteration features scale with the batch; parameters do not.
  auto lenet = FindZooArchitecture("lenet5");
  ASSERT_TRUE(lenet.ok());
  auto b1 = MakeArchitectureSample(*lenet, 1, "cpu", "inference");
  auto b8 = MakeArchitectureSample(*lenet, 8, "cpu", "inference");
  ASSERT_TRUE(b1.ok() && b8.ok());
  EXPECT_EQ(b8->model.macs, 8 * b1->model.macs);
  EXPECT_EQ(b8->model.params, b1->model.params);
  EXPECT_EQ(b8->nodes[0].output_elements, 8 * b1->nodes[0].output_elements);
  EXPECT_EQ(b8->nodes[0].key, b1->nodes[0].key);
  EXPECT_FALSE(MakeArchitectureSample(*lenet, 0, "cpu", "inference").ok());
}

TEST_F(PredictTest, PerLayerValuesSumToTheTotal) {
  for (const char* arch : {"mlp-mnist", "lenet5"}) {
    for (const char* estimator : {"measured-layers", "wattlayer"}) {
      SCOPED_TRACE(std::string(arch) + " / " + estimator);
      const Prediction p = MustPredict(Options(arch, estimator));
      auto zoo = FindZooArchitecture(arch);
      ASSERT_TRUE(zoo.ok());
      ASSERT_EQ(p.layers.size(), zoo->nodes.size());
      EXPECT_GT(p.energy_j, 0);
      EXPECT_GT(p.time_s, 0);
      EXPECT_NEAR(Sum(p.layers, true), p.energy_j, 1e-9 * p.energy_j);
      EXPECT_NEAR(Sum(p.layers, false), p.time_s, 1e-9 * p.time_s);
      for (size_t i = 0; i < p.layers.size(); ++i) {
        auto f = ComputeFeatures(zoo->nodes[i].spec);
        ASSERT_TRUE(f.ok());
        EXPECT_EQ(p.layers[i].name, zoo->nodes[i].name);
        EXPECT_EQ(p.layers[i].macs, 4 * f->macs);  // per iteration at the measured batch
        EXPECT_EQ(p.layers[i].params, f->params);
      }
      EXPECT_FALSE(p.energy_j_std.has_value());
    }
  }
  // A model-level estimator attributes nothing to layers: per-layer values are null.
  const Prediction macs = MustPredict(Options("mlp-mnist", "macs"));
  EXPECT_GT(macs.energy_j, 0);
  for (const LayerPrediction& l : macs.layers) {
    EXPECT_FALSE(l.energy_j.has_value());
    EXPECT_FALSE(l.time_s.has_value());
  }
  const nlohmann::json j = PredictionToJson(macs);
  for (const char* field : {"energy_j", "energy_j_std", "time_s", "estimator", "layers"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_TRUE(j["energy_j_std"].is_null());
  EXPECT_EQ(j["estimator"], "macs");
  for (const char* field : {"name", "type", "energy_j", "time_s", "macs", "params"}) {
    EXPECT_TRUE(j["layers"][0].contains(field)) << field;
  }
  EXPECT_TRUE(j["layers"][0]["energy_j"].is_null());
}

TEST_F(PredictTest, RestoredEstimatorsPredictExactlyAsFitted) {
  auto data = LoadTrainingData(db_);
  ASSERT_TRUE(data.ok());
  const TrainingSet set = SelectTrainingSet(*data, "cpu", "inference");
  std::vector<ArchitectureSample> samples;
  for (const char* name : {"mlp-mnist", "lenet5", "har-lstm"}) {
    auto arch = FindZooArchitecture(name);
    ASSERT_TRUE(arch.ok());
    auto s = MakeArchitectureSample(*arch, 4, "cpu", "inference");
    ASSERT_TRUE(s.ok());
    samples.push_back(std::move(s).value());
  }
  int fitted = 0;
  for (const std::string& name : EstimatorNames()) {
    for (Target target : {Target::kEnergy, Target::kTime}) {
      SCOPED_TRACE(name + " / " + std::string(TargetName(target)));
      auto est = MakeEstimator(name);
      ASSERT_TRUE(est.ok());
      Status fit = (*est)->Fit(set.layers, set.models, target);
      if (!fit.ok()) {
        // The four layer and model estimators must fit on this dataset; others may need
        // measurements it lacks.
        const bool required = name == "macs" || name == "tdp" || name == "wattlayer" ||
                              name == "measured-layers";
        EXPECT_FALSE(required) << fit.ToString();
        continue;
      }
      ++fitted;
      // Through text, as the models table stores it.
      const std::string text = (*est)->ToJson().dump();
      auto restored = MakeEstimator(name);
      ASSERT_TRUE(restored.ok());
      ASSERT_TRUE((*restored)->FromJson(nlohmann::json::parse(text)).ok());
      for (const ArchitectureSample& s : samples) {
        auto a = (*est)->Predict(s.model, s.catalog);
        auto b = (*restored)->Predict(s.model, s.catalog);
        ASSERT_EQ(a.ok(), b.ok()) << s.model.name;
        if (!a.ok()) {
          EXPECT_EQ(a.status().message(), b.status().message());
          continue;
        }
        EXPECT_EQ(a->value, b->value) << s.model.name;
        EXPECT_EQ(a->std, b->std) << s.model.name;
        EXPECT_EQ(a->layers, b->layers) << s.model.name;
      }
      // A state belongs to its estimator.
      const std::string other = name == "macs" ? "wattlayer" : "macs";
      auto wrong = MakeEstimator(other);
      ASSERT_TRUE(wrong.ok());
      EXPECT_FALSE((*wrong)->FromJson(nlohmann::json::parse(text)).ok());
    }
  }
  EXPECT_GE(fitted, 8);
}

TEST_F(PredictTest, ModelsTableIsReusedUntilTheMeasurementsChange) {
  const Prediction first = MustPredict(Options("mlp-mnist"));
  ASSERT_EQ(first.models.size(), 2u);
  EXPECT_EQ(first.models[0].target, "energy");
  EXPECT_EQ(first.models[0].source, "stored");
  EXPECT_EQ(first.models[1].source, "stored");
  EXPECT_GT(first.models[0].model_id, 0);
  EXPECT_EQ(ModelRows(), 2);
  EXPECT_EQ(first.training.fingerprint.size(), 64u);
  auto column = [&](const std::string& c) {
    return QueryText(db_, "SELECT " + c + " FROM models WHERE id = " +
                              std::to_string(first.models[0].model_id));
  };
  EXPECT_EQ(column("estimator"), "measured-layers");
  EXPECT_EQ(column("device_class"), "cpu");
  EXPECT_EQ(column("mode"), "inference");
  EXPECT_EQ(column("target"), "energy");
  EXPECT_EQ(column("format_version"), std::to_string(kModelFormatVersion));
  EXPECT_EQ(column("wattfleet_version"), WATTFLEET_VERSION);
  EXPECT_EQ(column("fingerprint"), first.training.fingerprint);
  const auto training = nlohmann::json::parse(column("training_json"));
  EXPECT_EQ(training["layer_samples"], first.training.layer_samples);
  EXPECT_EQ(training["model_samples"], first.training.model_samples);
  EXPECT_EQ(training["fingerprint"], first.training.fingerprint);
  EXPECT_GT(training["last_measurement_id"].get<int64_t>(), 0);
  EXPECT_EQ(nlohmann::json::parse(column("state_json"))["estimator"], "measured-layers");
  EXPECT_GT(std::stoll(column("created_ms")), 0);

  const Prediction second = MustPredict(Options("mlp-mnist"));
  EXPECT_EQ(second.models[0].source, "restored");
  EXPECT_EQ(second.models[1].source, "restored");
  EXPECT_EQ(second.models[0].model_id, first.models[0].model_id);
  EXPECT_EQ(second.models[1].model_id, first.models[1].model_id);
  EXPECT_EQ(second.energy_j, first.energy_j);
  EXPECT_EQ(second.time_s, first.time_s);
  EXPECT_EQ(ModelRows(), 2);
  // The models are of the device, not of one architecture.
  EXPECT_EQ(MustPredict(Options("lenet5")).models[0].source, "restored");

  // One more measurement: another training set, so the estimator is fitted again.
  ASSERT_EQ(left_.size(), 1u);
  testing::MeasureLater(db_, left_[0]);
  const Prediction third = MustPredict(Options("mlp-mnist"));
  EXPECT_EQ(third.models[0].source, "stored");
  EXPECT_NE(third.models[0].model_id, first.models[0].model_id);
  EXPECT_NE(third.training.fingerprint, first.training.fingerprint);
  EXPECT_EQ(third.training.measurements, first.training.measurements + 1);
  EXPECT_EQ(ModelRows(), 4);
  EXPECT_EQ(MustPredict(Options("mlp-mnist")).models[0].model_id, third.models[0].model_id);
}

TEST_F(PredictTest, FlaggedMeasurementsTrainNothingUnlessAskedFor) {
  auto before = LoadTrainingData(db_);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->flagged_left_out, 0);
  ASSERT_EQ(left_.size(), 1u);
  testing::MeasureLater(db_, left_[0], {kFlagInterference});
  auto after = LoadTrainingData(db_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->flagged_left_out, 1);
  EXPECT_EQ(after->layers.size() + after->models.size(),
            before->layers.size() + before->models.size());
  TrainingDataOptions all;
  all.include_flagged = true;
  auto with = LoadTrainingData(db_, all);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(with->flagged_left_out, 0);
  EXPECT_EQ(with->layers.size() + with->models.size(),
            before->layers.size() + before->models.size() + 1);
}

TEST_F(PredictTest, ReadOnlyStoreFitsWithoutStoring) {
  auto data = LoadTrainingData(db_);
  ASSERT_TRUE(data.ok());
  const TrainingSet set = SelectTrainingSet(*data, "cpu", "inference");
  auto store = ModelStore::OpenReadOnly(db_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_FALSE((*store)->writable());
  auto info = (*store)->Describe(set);
  ASSERT_TRUE(info.ok());
  auto got = ObtainEstimator(store->get(), set, *info, "wattlayer", Target::kEnergy);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->source, ModelSource::kFitted);
  EXPECT_NE(got->note.find("not stored"), std::string::npos) << got->note;
  StoredModel m;
  m.estimator = "wattlayer";
  m.state = got->estimator->ToJson();
  EXPECT_FALSE((*store)->Save(m).ok());
  EXPECT_EQ(ModelRows(), 0);
}

TEST_F(PredictTest, VersionThreeDatasetGainsTheModelsTableWhenWritable) {
  // Measurements as version 6 held them too: whole, in a payload column (old_dataset.h).
  testing::PutPayloadsBack(
      db_, [&](const std::string& sql) { ExecRaw(db_, sql); },
      [](const std::string& hex) { return "x'" + hex + "'"; }, "BLOB NOT NULL DEFAULT x''");
  ExecRaw(db_, "DROP TABLE models");
  ExecRaw(db_, "ALTER TABLE measurements DROP COLUMN quality_flags");  // added by version 5
  ExecRaw(db_, "DROP TABLE leases");                                    // added by version 6
  ExecRaw(db_, "ALTER TABLE imports DROP COLUMN provenance");           // added by version 8
  ExecRaw(db_, "PRAGMA user_version = 3");
  {
    // Read-only: no table to read, nothing to migrate, and no error.
    auto ro = ModelStore::OpenReadOnly(db_);
    ASSERT_TRUE(ro.ok()) << ro.status().ToString();
    auto latest = (*ro)->Latest("macs", "cpu", "inference", Target::kEnergy, "x");
    ASSERT_TRUE(latest.ok()) << latest.status().ToString();
    EXPECT_FALSE(latest->has_value());
  }
  EXPECT_EQ(QueryInt(db_, "PRAGMA user_version"), 3);
  const Prediction p = MustPredict(Options("mlp-mnist"));
  EXPECT_EQ(QueryInt(db_, "PRAGMA user_version"), sqlite::kSchemaVersion);
  EXPECT_EQ(p.models[0].source, "stored");
  EXPECT_EQ(ModelRows(), 2);
}

TEST_F(PredictTest, FitStoresWhatPredictRestores) {
  EvaluateOptions eo;
  eo.db = db_;
  eo.estimators = {"measured-layers", "macs"};
  eo.split = "kfold";
  eo.json = true;
  ::testing::internal::CaptureStdout();
  ASSERT_EQ(CmdEvaluate(eo), 0);
  const auto out = nlohmann::json::parse(::testing::internal::GetCapturedStdout());
  EXPECT_FALSE(out["results"].empty());
  ASSERT_EQ(out["models"].size(), 4u);  // two estimators, two targets
  EXPECT_EQ(out["models_note"], "");
  int64_t energy_row = 0;
  for (const auto& m : out["models"]) {
    EXPECT_TRUE(m["stored"].get<bool>()) << m.dump();
    if (m["estimator"] == "measured-layers" && m["target"] == "energy") {
      energy_row = m["model_id"].get<int64_t>();
    }
  }
  EXPECT_EQ(ModelRows(), 4);
  const Prediction p = MustPredict(Options("mlp-mnist"));
  EXPECT_EQ(p.models[0].source, "restored");
  EXPECT_EQ(p.models[0].model_id, energy_row);
  EXPECT_EQ(ModelRows(), 4);
  // Fitting again on the same measurements gives the same state: nothing is stored twice.
  ::testing::internal::CaptureStdout();
  ASSERT_EQ(CmdEvaluate(eo), 0);
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(ModelRows(), 4);
}

TEST_F(PredictTest, BadInputIsAnInvalidArgumentNamingTheFlag) {
  auto expect_bad = [&](PredictOptions o, const std::string& flag, const std::string& text) {
    auto p = PredictArchitecture(o);
    ASSERT_FALSE(p.ok()) << flag;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << p.status().ToString();
    EXPECT_NE(p.status().message().find(flag), std::string::npos) << p.status().ToString();
    EXPECT_NE(p.status().message().find(text), std::string::npos) << p.status().ToString();
  };
  PredictOptions o = Options("mlp-mnist");
  o.device = "jetson";
  expect_bad(o, "--device jetson", "known devices: cpu");
  expect_bad(Options("no-such-net"), "--arch", "no-such-net");
  expect_bad(Options("mlp-mnist", "nope"), "--estimator", "known: macs");
  o = Options("mlp-mnist");
  o.mode = "training";
  expect_bad(o, "--mode training", "inference");
  o = Options("mlp-mnist");
  o.batch = 0;
  expect_bad(o, "--batch", "must be in [1, 65536]");
  // A batch no device runs: refused at the door, not turned into negative MACs.
  o.batch = 99999999999999999;
  expect_bad(o, "--batch 99999999999999999", "must be in [1, 65536]");
  o = Options("mlp-mnist");
  o.db = dir_.File("missing.db");
  expect_bad(o, "--db", "no such dataset");
  EXPECT_EQ(ModelRows(), 0);  // nothing was written for any of them

  // Without whole-model measurements the MACs baseline cannot be fitted: its reason is given.
  ExecRaw(db_, "DELETE FROM measurements WHERE job_id IN "
               "(SELECT id FROM jobs WHERE kind <> 'layer')");
  expect_bad(Options("mlp-mnist", "macs"), "--estimator macs", "whole-model");
  EXPECT_EQ(ModelRows(), 0);
}

TEST_F(PredictTest, BatchDefaultsToTheMeasuredOne) {
  const Prediction p = MustPredict(Options("mlp-mnist"));
  EXPECT_EQ(p.batch, 4);
  EXPECT_EQ(p.measured_batches, std::vector<int64_t>{4});
  auto count = [](const Prediction& pr, const std::string& text) {
    return std::count_if(pr.notes.begin(), pr.notes.end(), [&](const std::string& n) {
      return n.find(text) != std::string::npos;
    });
  };
  EXPECT_EQ(count(p, "was not measured"), 0);
  EXPECT_EQ(count(p, "extrapolated"), 0);
  PredictOptions o = Options("mlp-mnist");
  o.batch = 8;
  const Prediction p8 = MustPredict(o);
  EXPECT_EQ(p8.batch, 8);
  EXPECT_EQ(p8.macs, 2 * p.macs);
  EXPECT_EQ(p8.params, p.params);
  EXPECT_EQ(count(p8, "batch 8 was not measured"), 1);
  // measured-layers scales its layers measured at batch 4 by their curves, and says so.
  EXPECT_EQ(count(p8, "measured at batch 4 only near batch 8"), 1);
  // Monotone in the batch: twice the samples never cost less.
  EXPECT_GE(p8.time_s, p.time_s);
  EXPECT_GE(p8.energy_j, p.energy_j);
}

}  // namespace
}  // namespace wattfleet

namespace wattfleet {
namespace {

TEST_F(PredictTest, TheDatasetsOwnMeasurementStandsBesideTheEstimate) {
  auto data = LoadTrainingData(db_);
  ASSERT_TRUE(data.ok());
  // An architecture of the campaign that was measured whole (not the one job left out).
  std::string name;
  for (const ModelSample& m : data->models) {
    if (m.kind == JobKind::kModel && m.name.rfind("mlp-d2", 0) == 0) name = m.name;
  }
  ASSERT_FALSE(name.empty());
  double time = 0, energy = 0;
  int n = 0;
  for (const ModelSample& m : data->models) {
    if (m.kind != JobKind::kModel || m.name != name || m.batch != 4) continue;
    time += m.time_s;
    energy += m.energy_j;
    ++n;
  }
  ASSERT_GT(n, 0);
  PredictOptions o = Options(name);
  o.source.campaign_file = dir_.Write("campaign.yaml", testing::kSyntheticCampaign);
  const Prediction p = MustPredict(o);
  ASSERT_TRUE(p.measured.has_value());
  EXPECT_EQ(p.measured->count, n);
  EXPECT_DOUBLE_EQ(p.measured->time_s, time / n);
  EXPECT_DOUBLE_EQ(p.measured->energy_j, energy / n);
  EXPECT_EQ(p.source, "estimate");
  EXPECT_EQ(p.time_s, p.estimated_time_s);
  // A 90 % interval around the estimate, from the held-out architectures.
  ASSERT_TRUE(p.time_s_interval.has_value());
  EXPECT_LT(p.time_s_interval->first, p.time_s);
  EXPECT_GT(p.time_s_interval->second, p.time_s);
  ASSERT_TRUE(p.energy_j_interval.has_value());

  o.prefer_measured = true;
  const Prediction m = MustPredict(o);
  EXPECT_EQ(m.source, "measured");
  EXPECT_DOUBLE_EQ(m.time_s, time / n);
  EXPECT_DOUBLE_EQ(m.energy_j, energy / n);
  EXPECT_DOUBLE_EQ(m.estimated_time_s, p.estimated_time_s);
  const nlohmann::json j = PredictionToJson(m);
  EXPECT_EQ(j["source"], "measured");
  EXPECT_EQ(j["measured"]["count"], n);
  EXPECT_DOUBLE_EQ(j["estimate"]["time_s"].get<double>(), p.estimated_time_s);

  // Not measured at batch 8: nothing to prefer, the estimate it is.
  o.batch = 8;
  const Prediction b8 = MustPredict(o);
  EXPECT_FALSE(b8.measured.has_value());
  EXPECT_EQ(b8.source, "estimate");
  EXPECT_TRUE(PredictionToJson(b8)["measured"].is_null());
}

}  // namespace
}  // namespace wattfleet

namespace wattfleet {
namespace {

// Three small networks, every layer and whole model measured: the data a new user has.
constexpr const char* kSmallCampaign = R"(name: small
mode: inference
batch_size: 16
devices: [{class: cpu}]
measurement: {warmup_ms: 10, min_window_ms: 10, target_rel_ci: 0.05, min_repeats: 3,
              max_repeats: 4, cooldown_ms: 0}
architectures:
  - zoo: lenet5
  - family: mlp
    sweep: {depth: [2], width: [64], input: [[1, 28, 28]]}
  - family: cnn
    sweep: {depth: [2], width: [8], input: [[1, 28, 28]]}
plan:
  layers: distinct
  whole_models: true
)";

// Every prediction has an interval at a stated level, and says how far beyond the data it
// reaches: from three whole models, resnet18 at batch 1 is far beyond them.
TEST(PredictSmallData, EveryPredictionHasAnIntervalAndAReach) {
  testing::TempDir dir{"wf-small"};
  const std::string db = dir.File("small.db");
  testing::BuildSyntheticDataset(db, 0, kSmallCampaign);
  for (const char* estimator : {"measured-layers", "wattlayer"}) {
    for (const char* arch : {"lenet5", "resnet18"}) {
      PredictOptions o;
      o.db = db;
      o.device = "cpu";
      o.source.arch_name = arch;
      o.estimator = estimator;
      o.batch = 1;
      auto p = PredictArchitecture(o);
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      const std::string where = std::string(estimator) + " " + arch;
      ASSERT_TRUE(p->time_s_interval.has_value()) << where;
      ASSERT_TRUE(p->energy_j_interval.has_value()) << where;
      EXPECT_LE(p->time_s_interval->first, p->time_s) << where;
      EXPECT_GE(p->time_s_interval->second, p->time_s) << where;
      EXPECT_LE(p->energy_j_interval->first, p->energy_j) << where;
      EXPECT_GE(p->energy_j_interval->second, p->energy_j) << where;
      EXPECT_NE(p->interval_basis[1].find("layers"), std::string::npos) << where;
      const nlohmann::json doc = PredictionToJson(*p);
      EXPECT_TRUE(doc["reach"].is_number()) << where;
      if (std::string(arch) == "resnet18") {
        EXPECT_GT(p->reach, 10) << where;
        EXPECT_NE(p->notes.front().find("beyond the work measured"), std::string::npos)
            << where << ": the reach is the first note, not one of many";
      }
      // No note twice.
      std::set<std::string> distinct(p->notes.begin(), p->notes.end());
      EXPECT_EQ(distinct.size(), p->notes.size()) << where;
    }
  }
}

// One switch for flags: a dataset measured beside other work is all flagged; predict refuses
// it by default, naming the switch, and with --include-flagged predicts, recording in the
// stored fit that flagged measurements were trained on.
TEST(PredictSmallData, IncludeFlaggedIsOneSwitch) {
  testing::TempDir dir{"wf-flagged"};
  const std::string db = dir.File("flagged.db");
  const std::vector<JobSpec> all = testing::BuildSyntheticDataset(db, 1000, kSmallCampaign);
  ASSERT_FALSE(all.empty());
  for (const JobSpec& job : all) testing::MeasureLater(db, job, {kFlagInterference});
  PredictOptions o;
  o.db = db;
  o.device = "cpu";
  o.source.arch_name = "lenet5";
  auto refused = PredictArchitecture(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("--include-flagged"), std::string::npos)
      << refused.status().message();
  o.include_flagged = true;
  auto p = PredictArchitecture(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->training.include_flagged);
  EXPECT_EQ(testing::QueryInt(db, "SELECT COUNT(*) FROM models WHERE training_json LIKE "
                                  "'%\"include_flagged\":true%'"),
            2);
}

}  // namespace
}  // namespace wattfleet
