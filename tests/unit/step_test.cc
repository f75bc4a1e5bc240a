// STEP on synthetic training series whose warm-up length and full-run total are known, and
// `wattfleet project` (the real binary) on good and bad training logs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "process.h"
#include "wattfleet/estimate/step_projection.h"
#include "temp_dir.h"

namespace wattfleet {
namespace {

// A run of `n` iterations: a warm-up of `warmup` iterations that ramps down linearly from
// `level * (1 + excess)` (the first iteration `first_factor` times the level), then the level
// with Gaussian noise of `rel_noise` relative, and `spikes` (iteration, factor) afterwards.
struct TrainingRun {
  int64_t warmup = 60;
  double level = 10;
  double excess = 0.6;
  double first_factor = 4;
  double rel_noise = 0.03;
  std::vector<std::pair<int64_t, double>> spikes;
};

std::vector<double> Simulate(const TrainingRun& run, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, run.rel_noise * run.level);
  std::vector<double> x;
  for (int64_t i = 0; i < n; ++i) {
    double v = run.level;
    if (i < run.warmup) {
      v *= 1 + run.excess * (1 - static_cast<double>(i) / static_cast<double>(run.warmup));
    }
    if (i == 0) v = run.first_factor * run.level;
    for (const auto& [at, factor] : run.spikes) v *= i == at ? factor : 1.0;
    x.push_back(v + noise(rng));
  }
  return x;
}

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

// The real `wattfleet project`: exit code and everything it printed.
struct CliRun {
  int code = -1;
  std::string output;
};

CliRun Project(const testing::TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{WATTFLEET_BIN, "project"};
  argv.insert(argv.end(), args.begin(), args.end());
  static int runs = 0;
  const std::string log = dir.File("cli-" + std::to_string(++runs) + ".log");
  CliRun out;
  auto child = ChildProcess::Start(argv, log);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().ToString();
    return out;
  }
  auto code = child->Wait(30);
  if (!code.ok()) {
    ADD_FAILURE() << "wattfleet project did not finish in 30 s";
    return out;
  }
  out.code = *code;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  out.output = ss.str();
  return out;
}

std::string Log(const std::vector<double>& energies, int64_t bad_line = -1) {
  std::ostringstream csv;
  csv << "iteration,energy_j,time_s\n";
  for (size_t i = 0; i < energies.size(); ++i) {
    // Line numbers: the header is line 1, iteration i is on line i + 2.
    csv << i << "," << (static_cast<int64_t>(i) + 2 == bad_line ? std::string("n/a")
                                                                 : std::to_string(energies[i]))
        << "," << energies[i] / 50 << "\n";
  }
  return csv.str();
}

TEST(StepCli, ProjectsATrainingLogAsJson) {
  testing::TempDir dir("wf-step");
  const std::vector<double> x = Simulate(TrainingRun{}, 300, 8);
  const std::string path = dir.Write("log.csv", Log(x));
  const CliRun r = Project(dir, {"--series", path, "--iterations", "3000", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  const auto doc = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.output;
  EXPECT_GE(doc["change_point"].get<int64_t>(), 60 - 12);
  EXPECT_LE(doc["change_point"].get<int64_t>(), 60 + 4);
  EXPECT_EQ(doc["series_length"], 300);
  EXPECT_EQ(doc["iterations"], 3000);
  EXPECT_EQ(doc["window"].get<int64_t>(), 300 - doc["change_point"].get<int64_t>());
  EXPECT_NEAR(doc["projected_total"].get<double>(), 10 * 3000 + 0.6 * 10 * 30 + 30, 300);
  EXPECT_GT(doc["projected_total_std"].get<double>(), 0);

  // --column picks another column; --window limits the average.
  const CliRun t = Project(dir, {"--series", path, "--iterations", "3000", "--column", "time_s",
                                 "--window", "40", "--json"});
  ASSERT_EQ(t.code, 0) << t.output;
  const auto time_doc = nlohmann::json::parse(t.output);
  EXPECT_EQ(time_doc["column"], "time_s");
  EXPECT_EQ(time_doc["window"], 40);
  EXPECT_NEAR(time_doc["projected_total"].get<double>(), doc["projected_total"].get<double>() / 50,
              0.05 * doc["projected_total"].get<double>() / 50);
}

TEST(StepCli, BadInputNamesTheFileLineAndColumnAndExitsTwo) {
  testing::TempDir dir("wf-step");
  const std::vector<double> x = Simulate(TrainingRun{}, 100, 3);
  const std::string good = dir.Write("log.csv", Log(x));

  const CliRun missing =
      Project(dir, {"--series", dir.File("nope.csv"), "--iterations", "1000"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("nope.csv"), std::string::npos) << missing.output;

  const CliRun column =
      Project(dir, {"--series", good, "--iterations", "1000", "--column", "energy"});
  EXPECT_EQ(column.code, 2);
  EXPECT_NE(column.output.find(good + ":1:"), std::string::npos) << column.output;
  EXPECT_NE(column.output.find("energy_j"), std::string::npos) << column.output;

  const std::string bad = dir.Write("bad.csv", Log(x, 7));
  const CliRun cell = Project(dir, {"--series", bad, "--iterations", "1000"});
  EXPECT_EQ(cell.code, 2);
  EXPECT_NE(cell.output.find(bad + ":7:2"), std::string::npos) << cell.output;
  EXPECT_NE(cell.output.find("n/a"), std::string::npos) << cell.output;

  const CliRun shorter = Project(dir, {"--series", good, "--iterations", "50"});
  EXPECT_EQ(shorter.code, 2);
  EXPECT_NE(shorter.output.find("--iterations"), std::string::npos) << shorter.output;
  EXPECT_NE(shorter.output.find(good + ":101"), std::string::npos) << shorter.output;

  const std::string few = dir.Write("few.csv", Log({1, 2, 3}));
  const CliRun rows = Project(dir, {"--series", few, "--iterations", "100"});
  EXPECT_EQ(rows.code, 2);
  EXPECT_NE(rows.output.find(few + ":4"), std::string::npos) << rows.output;

  const std::string empty = dir.Write("empty.csv", "");
  const CliRun nothing = Project(dir, {"--series", empty, "--iterations", "100"});
  EXPECT_EQ(nothing.code, 2);
  EXPECT_NE(nothing.output.find(empty + ":1"), std::string::npos) << nothing.output;
}

}  // namespace
}  // namespace wattfleet
