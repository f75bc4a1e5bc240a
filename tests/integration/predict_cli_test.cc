// The real `wattfleet predict` binary on a dataset file: the --json document on stdout alone,
// the models table filled by the first run and used by the second, and exit code 2 with a
// message for bad input.
#include <gtest/gtest.h>
#include <sqlite3.h>

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

TEST(Cli, VersionSaysTheReleaseTheRevisionAndTheLibtorch) {
  testing::TempDir dir;
  const CliRun v = RunWattfleet(dir, "--version", {});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.out.rfind(std::string("wattfleet ") + WATTFLEET_VERSION + " (git ", 0), 0u) << v.out;
  EXPECT_NE(v.out.find("libtorch"), std::string::npos) << v.out;
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
