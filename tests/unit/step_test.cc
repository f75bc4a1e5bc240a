// STEP on synthetic training series whose warm-up length and full-run total are known
// (controller/estimate/step_projection.cc; the command: integration/cli_project_test.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "training_series.h"
#include "wattfleet/estimate/step_projection.h"
#include "temp_dir.h"

namespace wattfleet {
namespace {

using testing::Simulate;
using testing::TrainingRun;

double Sum(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v;
  return s;
}

TEST(Step, FindsTheEndOfTheWarmUpAndProjectsTheWholeRun) {
  const TrainingRun run;
  const int64_t n = 400, total = 5000;
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    const std::vector<double> full = Simulate(run, total, seed);
    const std::vector<double> measured(full.begin(), full.begin() + n);
    auto r = ProjectStep(measured, total);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    // The ramp's last iterations are within the noise of the level, so s may come a little
    // early; it must not come late.
    EXPECT_GE(r->change_point, run.warmup - 12) << "seed " << seed;
    EXPECT_LE(r->change_point, run.warmup + 4) << "seed " << seed;
    EXPECT_EQ(r->window, n - r->change_point);
    EXPECT_EQ(r->series_length, n);
    EXPECT_EQ(r->iterations, total);
    const double truth = Sum(full);
    EXPECT_LT(std::fabs(r->projected_total - truth) / truth, 0.01) << "seed " << seed;
    EXPECT_GT(r->projected_total_std, 0);
    EXPECT_LT(std::fabs(r->projected_total - truth), 4 * r->projected_total_std);
    // Averaging everything measured, warm-up included, is what STEP improves on.
    const double naive = Sum(measured) / static_cast<double>(n) * static_cast<double>(total);
    EXPECT_LT(std::fabs(r->projected_total - truth) * 3, std::fabs(naive - truth));
  }
}

TEST(Step, PlateauWarmUpIsFoundWithinAFewIterations) {
  // A flat warm-up 40 % above the level for 30 iterations: a clean change of the mean.
  std::mt19937 rng(9);
  std::normal_distribution<double> noise(0, 0.2);
  std::vector<double> x;
  for (int i = 0; i < 300; ++i) x.push_back((i < 30 ? 14.0 : 10.0) + noise(rng));
  auto r = ProjectStep(x, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(static_cast<double>(r->change_point), 30, 2);
  EXPECT_FALSE(r->change_points.empty());
}

TEST(Step, SeriesWithoutTransientIsStableFromTheStart) {
  TrainingRun run;
  run.warmup = 0;
  run.first_factor = 1;
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    auto r = ProjectStep(Simulate(run, 500, seed), 2000);
    ASSERT_TRUE(r.ok());
    EXPECT_LE(r->change_point, 2) << "seed " << seed;
  }
}

TEST(Step, SpikesAfterTheWarmUpDoNotMoveTheStablePoint) {
  // A checkpoint every so often triples one iteration; it recurs over the whole run, so it
  // belongs in the window rather than marking a new phase.
  TrainingRun run;
  run.warmup = 50;
  run.spikes = {{150, 3.0}, {250, 3.0}, {350, 3.0}};
  auto r = ProjectStep(Simulate(run, 400, 4), 4000);
  ASSERT_TRUE(r.ok());
  EXPECT_GE(r->change_point, 50 - 12);
  EXPECT_LE(r->change_point, 50 + 4);
  EXPECT_GT(r->window, 300);
}

TEST(Step, WindowLimitsTheAveragedIterations) {
  const std::vector<double> x = Simulate(TrainingRun{}, 400, 2);
  StepOptions options;
  options.window = 25;
  auto r = ProjectStep(x, 1000, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->window, 25);
  double window = 0;
  for (int64_t i = r->change_point; i < r->change_point + 25; ++i) window += x[static_cast<size_t>(i)];
  double before = 0;
  for (int64_t i = 0; i < r->change_point; ++i) before += x[static_cast<size_t>(i)];
  EXPECT_NEAR(r->projected_total, before + window / 25 * static_cast<double>(1000 - r->change_point),
              1e-9 * r->projected_total);
  // A window longer than what was measured after s is cut to it.
  options.window = 100000;
  auto all = ProjectStep(x, 1000, options);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->window, 400 - all->change_point);
}

TEST(Step, RefusesTooShortSeriesAndARunShorterThanTheSeries) {
  const std::vector<double> x = Simulate(TrainingRun{}, 100, 1);
  EXPECT_EQ(ProjectStep(x, 99).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ProjectStep(std::vector<double>(x.begin(), x.begin() + kStepMinIterations - 1), 100)
                .status().code(),
            StatusCode::kInvalidArgument);
  std::vector<double> bad = x;
  bad[5] = std::nan("");
  EXPECT_EQ(ProjectStep(bad, 1000).status().code(), StatusCode::kInvalidArgument);
}

TEST(Step, ChangePointsOfACleanStepAndTheRobustNoiseScale) {
  std::vector<double> x(200, 1.0);
  for (size_t i = 120; i < x.size(); ++i) x[i] = 2.0;
  EXPECT_EQ(MeanChangePoints(x, 0.1, 3 * std::log(200.0)), std::vector<int64_t>{120});
  // Gaussian noise of σ = 0.5 around a step: the level shift barely moves the estimate.
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0, 0.5);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i < 100 ? 0.0 : 20.0) + noise(rng);
  EXPECT_NEAR(RobustNoiseSigma(x), 0.5, 0.1);
}

}  // namespace
}  // namespace wattfleet
