// The real `wattfleet predict` binary on a dataset file: the --json document on stdout alone,
// the models table filled by the first run and used by the second, and exit code 2 with a
// message for bad input.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../unit/synthetic_dataset.h"
#include "harness.h"
#include "process.h"

namespace wattfleet {
namespace {

int64_t CountModels(const std::string& db_path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM models", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

using testing::CliRun;

// Runs `wattfleet SUBCOMMAND ARGS` with stdout and stderr apart, bounded in time.
CliRun RunWattfleet(const testing::TempDir& dir, const std::string& subcommand,
                    const std::vector<std::string>& args) {
  std::vector<std::string> all{subcommand};
  all.insert(all.end(), args.begin(), args.end());
  return testing::RunCliSplit(dir.path(), all, 60);
}

CliRun Predict(const testing::TempDir& dir, const std::vector<std::string>& args) {
  return RunWattfleet(dir, "predict", args);
}

TEST(PredictCli, JsonDocumentAndModelsTableReuse) {
  testing::TempDir dir;
  const std::string db = dir.File("dataset.db");
  testing::BuildSyntheticDataset(db);
  ASSERT_FALSE(::testing::Test::HasFailure());

  const std::vector<std::string> args = {"--db", db, "--device", "cpu", "--arch", "mlp-mnist",
                                         "--json"};
  const CliRun first = Predict(dir, args);
  ASSERT_EQ(first.code, 0) << first.err;
  const auto j = nlohmann::json::parse(first.out);  // stdout holds the document and only it
  EXPECT_EQ(j["estimator"], "measured-layers");
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["batch"], 4);
  ASSERT_TRUE(j["energy_j"].is_number());
  ASSERT_TRUE(j["time_s"].is_number());
  EXPECT_GT(j["energy_j"].get<double>(), 0);
  EXPECT_GT(j["time_s"].get<double>(), 0);
  EXPECT_TRUE(j["energy_j_std"].is_null());
  ASSERT_TRUE(j["layers"].is_array());
  ASSERT_FALSE(j["layers"].empty());
  double energy = 0, time = 0;
  for (const auto& l : j["layers"]) {
    for (const char* field : {"name", "type", "energy_j", "time_s", "macs", "params"}) {
      EXPECT_TRUE(l.contains(field)) << field << " in " << l.dump();
    }
    energy += l["energy_j"].get<double>();
    time += l["time_s"].get<double>();
  }
  EXPECT_NEAR(energy, j["energy_j"].get<double>(), 1e-9 * energy);
  EXPECT_NEAR(time, j["time_s"].get<double>(), 1e-9 * time);
  EXPECT_EQ(j["models"][0]["source"], "stored");

  const CliRun second = Predict(dir, args);
  ASSERT_EQ(second.code, 0) << second.err;
  const auto k = nlohmann::json::parse(second.out);
  EXPECT_EQ(k["models"][0]["source"], "restored");
  EXPECT_EQ(k["models"][0]["id"], j["models"][0]["id"]);
  EXPECT_EQ(k["energy_j"], j["energy_j"]);
  EXPECT_EQ(CountModels(db), 2);

  // The table: one row per layer and the total.
  const CliRun table = Predict(dir, {"--db", db, "--device", "cpu", "--arch", "lenet5",
                                  "--estimator", "wattlayer", "--batch", "2"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("lenet5"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("total"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("batch 2 was not measured"), std::string::npos) << table.out;
}

// A training prediction: the network's layers, then its loss and its optimiser's update,
// summing to the step; the whole run of --epochs over --samples; the optimiser priced.
TEST(PredictCli, TrainingStepsAndRuns) {
  testing::TempDir dir;
  const std::string db = dir.File("train.db");
  testing::BuildSyntheticDataset(db, 0, testing::kSyntheticTrainingCampaign);
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto predict = [&](const std::string& optimizer, const std::string& arch) {
    const CliRun r = Predict(dir, {"--db", db, "--device", "cpu", "--arch", arch, "--mode",
                                   "training", "--optimizer", optimizer, "--batch", "4",
                                   "--samples", "1000", "--epochs", "3", "--estimator",
                                   "wattlayer", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  };
  const nlohmann::json adam = predict("adam", "mlp-mnist");
  ASSERT_TRUE(adam.contains("layers")) << adam.dump();
  EXPECT_EQ(adam["optimizer"], "adam");
  EXPECT_EQ(adam["loss"], "cross-entropy");
  const auto& layers = adam["layers"];
  ASSERT_GE(layers.size(), 3u);
  EXPECT_EQ(layers[layers.size() - 2]["name"], "loss");
  EXPECT_EQ(layers[layers.size() - 2]["type"], "CrossEntropyLoss");
  EXPECT_EQ(layers.back()["name"], "optimizer");
  EXPECT_EQ(layers.back()["type"], "AdamStep");
  EXPECT_EQ(layers.back()["params"], adam["params"]);
  double sum = 0;
  for (const auto& l : layers) sum += l["energy_j"].get<double>();
  EXPECT_NEAR(sum, adam["energy_j"].get<double>(), 1e-6 * sum);
  // 3 epochs of ceil(1000 / 4) steps, each the step above.
  const auto& run = adam["run"];
  ASSERT_TRUE(run.is_object()) << adam.dump();
  EXPECT_EQ(run["steps"], 750);
  EXPECT_EQ(run["epochs"], 3);
  EXPECT_EQ(run["samples"], 1000);
  EXPECT_TRUE(run["energy_is_estimate"].get<bool>());
  EXPECT_NEAR(run["energy_j"].get<double>(), 750 * adam["energy_j"].get<double>(),
              1e-9 * run["energy_j"].get<double>());
  EXPECT_NEAR(run["time_s"].get<double>(), 750 * adam["time_s"].get<double>(),
              1e-9 * run["time_s"].get<double>());
  if (adam["energy_j_interval"].is_array()) {
    ASSERT_TRUE(run["energy_j_interval"].is_array());
    EXPECT_NEAR(run["energy_j_interval"][1].get<double>(),
                750 * adam["energy_j_interval"][1].get<double>(),
                1e-9 * run["energy_j_interval"][1].get<double>());
  }
  // SGD was never measured: its update is priced per FLOP from Adam's (2 against 13 per
  // parameter), so the same step costs less, and never nothing.
  const nlohmann::json sgd = predict("sgd", "mlp-mnist");
  ASSERT_TRUE(sgd.contains("layers"));
  EXPECT_EQ(sgd["layers"].back()["type"], "SGDStep");
  const double sgd_update = sgd["layers"].back()["energy_j"].get<double>();
  const double adam_update = layers.back()["energy_j"].get<double>();
  EXPECT_GT(sgd_update, 0);
  EXPECT_LT(sgd_update, adam_update);
  EXPECT_LT(sgd["energy_j"].get<double>(), adam["energy_j"].get<double>());

  // A training step's flags need training; a run needs its samples.
  const std::vector<std::vector<std::string>> bad = {
      {"--samples", "10"},
      {"--optimizer", "adam"},
      {"--mode", "training", "--epochs", "2"},
      {"--mode", "training", "--optimizer", "adagrad"},
      {"--mode", "training", "--samples", "0"}};
  for (const auto& extra : bad) {
    std::vector<std::string> args = {"--db", db, "--device", "cpu", "--arch", "mlp-mnist"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliRun r = Predict(dir, args);
    EXPECT_EQ(r.code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// fit scores THOR on training measurements beside the layer-wise estimators, on the same
// split, with finite figures.
TEST(PredictCli, FitScoresThorInTraining) {
  testing::TempDir dir;
  const std::string db = dir.File("train.db");
  testing::BuildSyntheticDataset(db, 0, testing::kSyntheticTrainingCampaign);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const CliRun fit = RunWattfleet(dir, "fit", {"--db", db, "--target", "time", "--json"});
  ASSERT_EQ(fit.code, 0) << fit.err;
  const auto doc = nlohmann::json::parse(fit.out);
  std::set<std::string> scored;
  for (const auto& r : doc["results"]) {
    if (r["mode"] != "training" || r["level"] != "architecture" ||
        !r["error"].get<std::string>().empty())
      continue;
    ASSERT_TRUE(r["median_ape"].is_number()) << r.dump();
    const double ape = r["median_ape"].get<double>();
    EXPECT_TRUE(std::isfinite(ape) && ape >= 0) << r.dump();
    scored.insert(r["estimator"].get<std::string>());
  }
  EXPECT_TRUE(scored.count("thor")) << fit.out;
  EXPECT_TRUE(scored.count("wattlayer")) << fit.out;
}

TEST(Cli, VersionSaysTheReleaseTheRevisionAndTheLibtorch) {
  testing::TempDir dir;
  const CliRun v = RunWattfleet(dir, "--version", {});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.out.rfind(std::string("wattfleet ") + WATTFLEET_VERSION + " (git ", 0), 0u) << v.out;
  EXPECT_NE(v.out.find("libtorch"), std::string::npos) << v.out;
}

TEST(Cli, InspectFamilyListsItsParametersWithDefaultsAndBounds) {
  testing::TempDir dir;
  const CliRun text = RunWattfleet(dir, "inspect", {"--family", "vit"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("patch"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(default 16; 1 to 64)"), std::string::npos) << text.out;
  const CliRun json = RunWattfleet(dir, "inspect", {"--family", "lstm", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["family"], "lstm");
  std::set<std::string> names;
  for (const auto& p : doc["parameters"]) names.insert(p["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"bidirectional", "classes", "features", "hidden",
                                          "layers", "seq"}));
  const CliRun unknown = RunWattfleet(dir, "inspect", {"--family", "resnett"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("unknown family 'resnett'"), std::string::npos) << unknown.err;
  const CliRun both = RunWattfleet(dir, "inspect", {"--family", "vit", "--arch", "resnet18"});
  EXPECT_EQ(both.code, 2) << both.out;
}

TEST(PredictCli, BadInputExitsTwoWithAMessage) {
  testing::TempDir dir;
  const std::string db = dir.File("dataset.db");
  testing::BuildSyntheticDataset(db);
  ASSERT_FALSE(::testing::Test::HasFailure());

  const CliRun device = Predict(dir, {"--db", db, "--device", "tpu", "--arch", "mlp-mnist",
                                   "--json"});
  EXPECT_EQ(device.code, 2);
  EXPECT_TRUE(device.out.empty()) << device.out;
  EXPECT_NE(device.err.find("--device tpu"), std::string::npos) << device.err;
  EXPECT_NE(device.err.find("known devices: cpu"), std::string::npos) << device.err;

  const CliRun arch = Predict(dir, {"--db", db, "--device", "cpu", "--arch", "no-such-net",
                                 "--json"});
  EXPECT_EQ(arch.code, 2);
  EXPECT_TRUE(arch.out.empty()) << arch.out;
  EXPECT_NE(arch.err.find("--arch"), std::string::npos) << arch.err;

  const CliRun flag = Predict(dir, {"--db", db, "--device", "cpu", "--arch", "mlp-mnist",
                                 "--mode", "sideways"});
  EXPECT_EQ(flag.code, 2);
  EXPECT_NE(flag.err.find("--mode"), std::string::npos) << flag.err;

  const CliRun missing = Predict(dir, {"--db", dir.File("none.db"), "--device", "cpu", "--arch",
                                    "mlp-mnist"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("--db"), std::string::npos) << missing.err;
  EXPECT_FALSE(testing::Exists(dir.File("none.db")));  // not created
  // fit only reads: a mistyped --db is no dataset, and no file appears.
  const CliRun fit = RunWattfleet(dir, "fit", {"--db", dir.File("typo.db")});
  EXPECT_EQ(fit.code, 2);
  EXPECT_NE(fit.err.find("no such dataset"), std::string::npos) << fit.err;
  EXPECT_FALSE(testing::Exists(dir.File("typo.db")));

  EXPECT_EQ(CountModels(db), 0);
}

}  // namespace
}  // namespace wattfleet
