// fit, predict, report and import on a shared PostgreSQL dataset (a real server on loopback,
// the real CLI): the same synthetic dataset stored once in a PostgreSQL database and once in an
// SQLite file must give the same predictions and the same fit, fitted models are kept in the
// shared dataset and restored from it, the report renders from it, and the Mayaki & Charpenay
// operations imported into both give the same power law.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../unit/synthetic_dataset.h"
#include "harness.h"
#include "pg_server.h"
#include "process.h"

namespace wattfleet {
namespace {

using testing::PgQueryInt;
using testing::Slurp;

using testing::CliRun;

CliRun Wattfleet(const testing::TempDir& dir, const std::vector<std::string>& args) {
  return testing::RunCliSplit(dir.path(), args);
}

class PgReadCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::PgServer* server = testing::SharedPgServer();
    ASSERT_NE(server, nullptr);
    auto uri = server->FreshDatabase("reads");
    ASSERT_TRUE(uri.ok()) << uri.status().ToString();
    uri_ = *uri;
    file_ = dir_.File("dataset.db");
    testing::BuildSyntheticDataset(uri_);
    testing::BuildSyntheticDataset(file_);
    ASSERT_FALSE(HasFailure());
  }

  testing::TempDir dir_;
  std::string uri_;
  std::string file_;
};

TEST_F(PgReadCommandsTest, PredictGivesWhatItGivesOnSqliteAndKeepsItsModelInTheDataset) {
  const std::vector<std::string> args = {"--device", "cpu", "--arch", "mlp-mnist", "--json"};
  auto predict = [&](const std::string& db) {
    std::vector<std::string> a = {"predict", "--db", db};
    a.insert(a.end(), args.begin(), args.end());
    return Wattfleet(dir_, a);
  };
  const CliRun pg = predict(uri_);
  ASSERT_EQ(pg.code, 0) << pg.err;
  const CliRun sqlite = predict(file_);
  ASSERT_EQ(sqlite.code, 0) << sqlite.err;
  const auto p = nlohmann::json::parse(pg.out);
  const auto s = nlohmann::json::parse(sqlite.out);
  ASSERT_TRUE(p["energy_j"].is_number()) << pg.out;
  EXPECT_GT(p["energy_j"].get<double>(), 0);
  EXPECT_EQ(p["energy_j"], s["energy_j"]);
  EXPECT_EQ(p["time_s"], s["time_s"]);
  EXPECT_EQ(p["layers"].size(), s["layers"].size());
  // The fit is stored in the shared dataset, and the next predict restores it from there.
  EXPECT_EQ(p["models"][0]["source"], "stored") << pg.out;
  EXPECT_EQ(PgQueryInt(uri_, "SELECT COUNT(*) FROM models"), 2);
  const CliRun again = predict(uri_);
  ASSERT_EQ(again.code, 0) << again.err;
  const auto a = nlohmann::json::parse(again.out);
  EXPECT_EQ(a["models"][0]["source"], "restored") << again.out;
  EXPECT_EQ(a["models"][0]["id"], p["models"][0]["id"]);
  EXPECT_EQ(a["energy_j"], p["energy_j"]);
  EXPECT_EQ(PgQueryInt(uri_, "SELECT COUNT(*) FROM models"), 2);
}

TEST_F(PgReadCommandsTest, FitEvaluatesTheSameAsOnSqlite) {
  auto fit = [&](const std::string& db) {
    return Wattfleet(dir_, {"fit", "--db", db, "--estimator", "macs,measured-layers", "--target",
                            "energy", "--split", "kfold", "--json"});
  };
  const CliRun pg = fit(uri_);
  ASSERT_EQ(pg.code, 0) << pg.err;
  const CliRun sqlite = fit(file_);
  ASSERT_EQ(sqlite.code, 0) << sqlite.err;
  auto p = nlohmann::json::parse(pg.out);
  auto s = nlohmann::json::parse(sqlite.out);
  ASSERT_TRUE(p.contains("results")) << pg.out;
  ASSERT_FALSE(p["results"].empty()) << pg.out;
  EXPECT_EQ(p["results"], s["results"]) << "postgresql:\n" << pg.out << "\nsqlite:\n" << sqlite.out;
}

TEST_F(PgReadCommandsTest, TheReportRendersFromTheSharedDataset) {
  const std::string out = dir_.File("report.html");
  const CliRun run = Wattfleet(dir_, {"report", "--db", uri_, "--out", out});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string html = Slurp(out);
  EXPECT_NE(html.find("<html"), std::string::npos);
  EXPECT_NE(html.find("predict-test"), std::string::npos) << "the campaign's name";
  // Nothing was written to the dataset by reading it.
  EXPECT_EQ(PgQueryInt(uri_, "SELECT COUNT(*) FROM models"), 0);
}

TEST_F(PgReadCommandsTest, ImportStoresOnceAndThePowerLawIsTheSameAsOnSqlite) {
  const std::string mapping =
      std::string(WATTFLEET_SOURCE_DIR) + "/experiments/mappings/mayaki2025-transformer-ops.yaml";
  auto import = [&](const std::string& db) {
    return Wattfleet(dir_, {"import", "--db", db, "--mapping", mapping, "--json"});
  };
  const CliRun first = import(uri_);
  ASSERT_EQ(first.code, 0) << first.err;
  const auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["rows_stored"], 2400) << first.out;
  EXPECT_EQ(j["already_imported"], false);
  EXPECT_EQ(PgQueryInt(uri_, "SELECT COUNT(*) FROM external_measurements"), 2400);
  // The same file again stores nothing.
  const CliRun again = import(uri_);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["already_imported"], true) << again.out;
  EXPECT_EQ(PgQueryInt(uri_, "SELECT COUNT(*) FROM external_measurements"), 2400);
  ASSERT_EQ(import(file_).code, 0);

  auto power_law = [&](const std::string& db) {
    return Wattfleet(dir_, {"fit", "--db", db, "--estimator", "powerlaw", "--json"});
  };
  const CliRun pg = power_law(uri_);
  ASSERT_EQ(pg.code, 0) << pg.err;
  const CliRun sqlite = power_law(file_);
  ASSERT_EQ(sqlite.code, 0) << sqlite.err;
  const auto p = nlohmann::json::parse(pg.out);
  ASSERT_TRUE(p.contains("curves")) << pg.out;
  ASSERT_FALSE(p["curves"].empty());
  EXPECT_EQ(p, nlohmann::json::parse(sqlite.out));
}

}  // namespace
}  // namespace wattfleet
