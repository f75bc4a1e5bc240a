// The power-law estimator: recovery of known curves, the energy regression, and the figures
// of docs/design/estimators.md section 3 on the shipped copy of the Mayaki & Charpenay data (data/mayaki2025),
// imported through the shipped mappings as `wattfleet import` does.
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "wattfleet/import/external_store.h"
#include "wattfleet/import/import_mapping.h"
#include "wattfleet/estimate/power_law.h"
#include "wattfleet/import/power_law_eval.h"

namespace wattfleet {
namespace {

// Costs spread log-uniformly over 1e-4 .. 10 TFLOP, efficiency from `truth` with Gaussian
// noise of `noise` % points.
void Synthetic(const PowerLawParams& truth, double noise, int n, std::vector<double>* c,
               std::vector<double>* eta) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> logc(std::log(1e-4), std::log(10.0));
  std::normal_distribution<double> err(0.0, noise);
  for (int i = 0; i < n; ++i) {
    const double ci = std::exp(logc(rng));
    c->push_back(ci);
    eta->push_back(std::max(1e-3, truth.Eta(ci) + err(rng)));
  }
}

TEST(PowerLawTest, RecoversKnownParameters) {
  for (const PowerLawParams truth : {PowerLawParams{69.4, 6.0, 0.78}, PowerLawParams{95.0, 12.0, 0.5},
                                     PowerLawParams{40.0, 0.5, 1.3}}) {
    std::vector<double> c, eta;
    Synthetic(truth, 0.5, 300, &c, &eta);
    auto fit = FitEfficiencyCurve(c, eta);
    ASSERT_TRUE(fit.ok()) << fit.status().ToString();
    ASSERT_TRUE(fit->converged);
    EXPECT_NEAR(fit->params.eta_max, truth.eta_max, 0.02 * truth.eta_max);
    EXPECT_NEAR(fit->params.k, truth.k, 0.1 * truth.k);
    EXPECT_NEAR(fit->params.alpha, truth.alpha, 0.05 * truth.alpha);
    EXPECT_LT(fit->rmse, 0.7);  // about the noise
    EXPECT_EQ(fit->n, 300);
  }
}

TEST(PowerLawTest, BoundsHoldAndTooFewPointsIsAnError) {
  // Efficiencies above 100 % cannot be followed: η_max stays at the bound.
  std::vector<double> c = {1e-3, 1e-2, 0.1, 1, 10}, eta = {20, 80, 120, 130, 131};
  auto fit = FitEfficiencyCurve(c, eta);
  ASSERT_TRUE(fit.ok());
  for (const CurveStart& s : fit->starts) {
    EXPECT_LE(s.end.eta_max, 100.0);
    EXPECT_GT(s.end.k, 0.0);
    EXPECT_GT(s.end.alpha, 0.0);
  }
  EXPECT_FALSE(FitEfficiencyCurve({1, 2, 3}, {10, 20, 30}).ok());
}

TEST(PowerLawTest, PredictedDurationAndLinearEnergy) {
  const PowerLawParams p{50.0, 1.0, 1.0};
  // 1 TFLOP at η = 50 (1 − e^−1) % of a 100 TFLOP/s device.
  EXPECT_NEAR(PredictedSeconds(p, 1e12, 100e12), 1.0 / (100.0 * 0.5 * (1 - std::exp(-1.0))), 1e-12);
  EXPECT_EQ(PredictedSeconds(p, 0, 100e12), 0.0);

  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 50; ++i) {
    const double a = 0.01 * i, b = 1e-4 * ((i * 7) % 13);
    x.push_back({a, b});
    y.push_back(3.0 + 250.0 * a + 9000.0 * b);
  }
  auto m = FitLinearEnergy(x, y);
  ASSERT_TRUE(m.ok());
  EXPECT_NEAR(m->h0, 3.0, 1e-6);
  EXPECT_NEAR(m->h[0], 250.0, 1e-6);
  EXPECT_NEAR(m->h[1], 9000.0, 1e-4);
  const ErrorSummary s = Summarise(y, std::vector<double>(y.size(), 10.0));
  EXPECT_LT(s.r2, 0.0);  // a constant far from the mean
  EXPECT_NEAR(Summarise(y, y).r2, 1.0, 1e-12);
}

TEST(PowerLawTest, GroupedFoldsKeepGroupsTogether) {
  std::vector<std::string> groups;
  for (int i = 0; i < 100; ++i) groups.push_back("arch" + std::to_string(i % 23));
  const std::vector<int> fold = GroupedFolds(groups, 5);
  std::vector<int> seen(5, 0);
  for (size_t i = 0; i < groups.size(); ++i) {
    ++seen[fold[i]];
    for (size_t j = 0; j < i; ++j)
      if (groups[i] == groups[j]) {
        ASSERT_EQ(fold[i], fold[j]);
      }
  }
  for (int n : seen) EXPECT_GT(n, 0);
}

class MayakiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wf-powerlaw-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    const std::string root = WATTFLEET_SOURCE_DIR;
    auto store = ExternalStore::Open(dir_ + "/w.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (const char* m : {"mayaki2025-transformer-ops", "mayaki2025-transformer-models"}) {
      auto batch = LoadImport(root + "/experiments/mappings/" + m + ".yaml");
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      ASSERT_TRUE((*store)->Import(*batch).ok());
    }
    auto devices = (*store)->Devices();
    auto ops = (*store)->Records("operation", std::nullopt);
    auto archs = (*store)->Records("architecture", std::nullopt);
    ASSERT_TRUE(devices.ok() && ops.ok() && archs.ok());
    std::vector<ExternalRecord> o, a;
    for (auto& s : *ops) o.push_back(s.record);
    for (auto& s : *archs) a.push_back(s.record);
    auto report = EvaluatePowerLaw(*devices, o, a, PowerLawOptions{});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    report_ = new PowerLawReport(std::move(*report));
  }
  static void TearDownTestSuite() {
    delete report_;
    report_ = nullptr;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void SetUp() override { ASSERT_NE(report_, nullptr); }

  static const CurveReport* Curve(const std::string& device, const std::string& op) {
    for (const CurveReport& c : report_->curves)
      if (c.device == device && c.operation == op) return &c;
    return nullptr;
  }
  static const EvaluationRow* Row(const std::string& device, const std::string& evaluation) {
    for (const EvaluationRow& r : report_->results)
      if (r.device == device && r.level == "architecture" && r.evaluation == evaluation) return &r;
    return nullptr;
  }

  static constexpr const char* kA100 = "NVIDIA A100 80GB PCIe";
  static constexpr const char* kRtx = "NVIDIA GeForce RTX 2080 Ti";
  static std::string dir_;
  static PowerLawReport* report_;
};
std::string MayakiTest::dir_;
PowerLawReport* MayakiTest::report_ = nullptr;

TEST_F(MayakiTest, A100QkvProjectionsMatchThePaper) {
  const CurveReport* qkv = Curve(kA100, "QKV Projections");
  ASSERT_NE(qkv, nullptr);
  ASSERT_TRUE(qkv->fit.converged);
  EXPECT_NEAR(qkv->fit.params.eta_max, 69.4, 0.05 * 69.4);
  EXPECT_NEAR(qkv->fit.params.alpha, 0.78, 0.10 * 0.78);
  EXPECT_EQ(qkv->fit.n, 400);
}

TEST_F(MayakiTest, EveryOperationConvergesWhereTheNaiveStartDoesNot) {
  ASSERT_EQ(report_->curves.size(), 8u);  // 4 operation types x 2 GPUs
  int naive_failures_rtx = 0;
  for (const CurveReport& c : report_->curves) {
    EXPECT_TRUE(c.fit.converged) << c.device << " / " << c.operation;
    for (const CurveStart& s : c.fit.starts) {
      if (s.label == "naive" && !s.converged && c.device == kRtx) ++naive_failures_rtx;
    }
  }
  // The multi-start matters: from every parameter at 1, LM ends on a flat line for the
  // RTX 2080 Ti curves.
  EXPECT_GT(naive_failures_rtx, 0);
}

TEST_F(MayakiTest, EnergyFromFlopsAloneReachesR2OfThePaper) {
  const EvaluationRow* in_sample = Row(kA100, "in_sample");
  ASSERT_NE(in_sample, nullptr);
  EXPECT_GE(in_sample->summary.r2, 0.95);
  EXPECT_EQ(in_sample->summary.n, 1427);
  const EvaluationRow* cv = Row(kA100, "grouped_cv_5");
  ASSERT_NE(cv, nullptr);
  EXPECT_GE(cv->summary.r2, 0.95);
}

TEST_F(MayakiTest, TransferToTheRtx2080TiIsReported) {
  const EvaluationRow* t =
      Row(kRtx, std::string("transfer_from:") + kA100 + ":target_curves");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->summary.n, 149);
  EXPECT_TRUE(std::isfinite(t->summary.r2));
  EXPECT_GT(t->summary.median_ape, 0.0);
  EXPECT_NE(Row(kRtx, std::string("transfer_from:") + kA100 + ":source_curves_peak_scaled"),
            nullptr);
}

}  // namespace
}  // namespace wattfleet
