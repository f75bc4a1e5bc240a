// Active profiling end to end: the real `wattfleet run` (controller and two real agents with
// the modeled sensor) on a tiny campaign with plan.active. The controller must add probes
// beyond the seed while the campaign runs, stay within the budget, never plan a probe twice,
// and still finish the campaign.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include "harness.h"

namespace wattfleet {
namespace {

using wattfleet::testing::Slurp;

int64_t QueryInt(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return v;
}

std::string QueryText(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::string v = "<none>";
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
      v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return v;
}

constexpr int64_t kSeed = 11;
constexpr int64_t kBudget = 22;

TEST(ActiveRunTest, AddsProbesWithinTheBudgetAndFinishes) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF)";
#endif
  wattfleet::testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string campaign = dir.File("active.yaml");
  // A Linear kind on a 32-feature input, five widths (35 probes in the grid), very short
  // windows. The MLPs at widths 8 and 32 are the targets; none of their probes is in the
  // seed (4, 16, 64). A target no noisy measurement reaches, so that the budget ends it.
  std::ofstream(campaign) << "name: active-e2e\n"
                             "mode: inference\n"
                             "batch_size: 4\n"
                             "devices: [{class: cpu}]\n"
                             "measurement: {warmup_ms: 0, min_window_ms: 20, target_rel_ci: 0.5,"
                             " min_repeats: 1, max_repeats: 2, cooldown_ms: 0,"
                             // Two agents share this machine: each is the other's interference,
                             // which is not what this test is about.
                             " max_interference: 4096}\n"
                             "architectures:\n"
                             "  - family: mlp\n"
                             "    sweep: {depth: [1, 2], width: [8, 32], input: [32]}\n"
                             "plan:\n"
                             "  whole_models: false\n"
                             "  thor_probes: {widths: [4, 8, 16, 32, 64]}\n"
                             "  active: {budget_jobs: " << kBudget
                          << ", target_rel_std: 0.001}\n";
  ::setenv("WATTFLEET_AGENT_BIN", WATTFLEET_AGENT_BIN, 1);

  // The plan holds the seed and says the budget.
  ASSERT_EQ(wattfleet::testing::RunCli({"plan", campaign, "--json"}, dir.File("plan.log"), 30),
            0);
  const auto plan = nlohmann::json::parse(Slurp(dir.File("plan.log")));
  EXPECT_EQ(plan["jobs"]["probe"], kSeed);
  EXPECT_EQ(plan["active"]["budget_jobs"], kBudget);

  const std::string db = dir.File("data.db");
  const auto started = std::chrono::steady_clock::now();
  const int code = wattfleet::testing::RunCli(
      {"run", campaign, "--db", db, "--agents", "2", "--threads", "1", "--sensor", "modeled"},
      dir.File("run.log"), 120);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(code, 0) << Slurp(dir.File("run.log"));
  EXPECT_LT(seconds, 90) << "active profiling made the run slow";

  const int64_t probes = QueryInt(db, "SELECT COUNT(*) FROM jobs WHERE kind = 'probe'");
  EXPECT_GT(probes, kSeed) << "no probe was added beyond the seed\n" << Slurp(dir.File("run.log"));
  EXPECT_LE(probes, kBudget);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(DISTINCT subject) FROM jobs WHERE kind = 'probe'"), probes);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM jobs j JOIN measurements m ON m.job_id = j.id "
                         "WHERE j.kind = 'probe'"),
            probes);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM jobs WHERE state <> 'done'"), 0);
  EXPECT_EQ(QueryText(db, "SELECT state FROM campaigns"), "done");
}

}  // namespace
}  // namespace wattfleet
