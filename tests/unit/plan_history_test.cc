// `wattfleet plan --db`: the device time from a dataset's history (controller/cli/
// plan_history.cc), on a real SQLite dataset whose results are spaced in time as an agent
// would have stored them.
#include "plan_history.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "synthetic_dataset.h"
#include "temp_dir.h"
#include "wattfleet/campaign/campaign.h"

namespace wattfleet {
namespace {

Plan SyntheticPlan(const std::string& batch_size) {
  std::string text = testing::kSyntheticCampaign;
  text.replace(text.find("batch_size: 4"), 13, "batch_size: " + batch_size);
  auto campaign = ParseCampaign(text, "predict-test.yaml");
  EXPECT_TRUE(campaign.ok()) << campaign.status().ToString();
  auto plan = MakePlan(*campaign);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return plan.ok() ? *plan : Plan{};
}

// Results two seconds apart, in storage order, as one agent measuring one job at a time.
void SpaceResults(const std::string& path, int64_t every_ms) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE measurements SET created_ms = 1700000000000 + id * " +
                          std::to_string(every_ms);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST(PlanHistory, TooLittleHistoryIsTheProtocolMinimumAndSaysSo) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/few.db";
  const Plan plan = SyntheticPlan("4");
  testing::BuildSyntheticDataset(path, /*leave_unmeasured=*/plan.jobs.size() - 2);
  auto e = EstimatePlanTime(plan, path);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->history, 2);
  EXPECT_DOUBLE_EQ(e->seconds, plan.estimated_device_seconds);
  EXPECT_NE(e->basis.find("too few measurements"), std::string::npos) << e->basis;
}

TEST(PlanHistory, TheFixedPartAndWindowsComeFromTheHistory) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/history.db";
  testing::BuildSyntheticDataset(path);
  SpaceResults(path, 2000);
  const Plan plan = SyntheticPlan("4");
  auto e = EstimatePlanTime(plan, path);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->history, static_cast<int64_t>(plan.jobs.size()));
  EXPECT_DOUBLE_EQ(e->windows_per_job, 3.0);  // every synthetic result has three windows
  // Two seconds between results, of which the windows take well under a second.
  EXPECT_GT(e->fixed_s_per_job, 1.0);
  EXPECT_LT(e->fixed_s_per_job, 2.0);
  EXPECT_EQ(e->jobs_with_own_time, static_cast<int64_t>(plan.jobs.size()));
  // The same plan again takes about what it took: the spacing, once per job.
  const double took = 2.0 * static_cast<double>(plan.jobs.size());
  EXPECT_NEAR(e->seconds, took, 0.25 * took);
  EXPECT_GT(e->seconds, 3 * plan.estimated_device_seconds);  // far above the minimum
  EXPECT_NE(e->basis.find(std::to_string(plan.jobs.size()) + " measurements"),
            std::string::npos) << e->basis;

  // A larger batch never takes less; a sweep of batches takes longer than one of them.
  auto big = EstimatePlanTime(SyntheticPlan("4096"), path);
  auto sweep = EstimatePlanTime(SyntheticPlan("[4, 4096]"), path);
  ASSERT_TRUE(big.ok() && sweep.ok());
  EXPECT_GE(big->seconds, e->seconds);
  EXPECT_GT(sweep->seconds, big->seconds);

  // float16 was never measured here: no job has a time of its own.
  std::string text = testing::kSyntheticCampaign;
  text.replace(text.find("mode: inference"), 15, "mode: inference\ndtype: float16");
  auto campaign = ParseCampaign(text, "half.yaml");
  ASSERT_TRUE(campaign.ok()) << campaign.status().ToString();
  auto half_plan = MakePlan(*campaign);
  ASSERT_TRUE(half_plan.ok());
  auto half = EstimatePlanTime(*half_plan, path);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->jobs_with_own_time, 0);
}

TEST(PlanHistory, ANameThatIsNoDatasetIsAnError) {
  testing::TempDir dir;
  auto e = EstimatePlanTime(SyntheticPlan("4"), dir.path() + "/missing.db");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace wattfleet
