// Layer cost curves (layer_cost.h): non-negative fits, the saturating shape against the
// linear one when extrapolating in size, monotonicity, and the stored state.
#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/numeric/least_squares.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace wattfleet {
namespace {

LayerSample Conv(double macs, double elements, double time_s) {
  LayerSample s;
  s.type = "Conv2d";
  s.kernel = 3;
  s.macs = macs;
  s.input_elements = elements;
  s.output_elements = elements;
  s.key = "conv/" + std::to_string(static_cast<long long>(macs));
  s.time_s = time_s;
  s.energy_j = 20 * time_s;
  return s;
}

// A device whose efficiency saturates: 8 µs per call, then W / (v · η(W)) with
// η = 1 − exp(−(W / 2e6)^0.6), v = 5e10 MAC/s.
double TrueTime(double w) {
  const double eta = -std::expm1(-std::pow(w / 2e6, 0.6));
  return 8e-6 + w / (5e10 * eta);
}

std::vector<LayerSample> Sweep(double lo, double hi, int n, double noise, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> jitter(1.0, noise);
  std::vector<LayerSample> out;
  for (int i = 0; i < n; ++i) {
    const double w = lo * std::pow(hi / lo, static_cast<double>(i) / (n - 1));
    out.push_back(Conv(w, w / 50, TrueTime(w) * jitter(rng)));
  }
  return out;
}

std::vector<const LayerSample*> Pointers(const std::vector<LayerSample>& v) {
  std::vector<const LayerSample*> out;
  for (const LayerSample& s : v) out.push_back(&s);
  return out;
}

TEST(NonNegativeLeastSquares, RecoversCoefficientsAndNeverGoesNegative) {
  // y = 2 + 3 x exactly: both coefficients positive and recovered.
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (double v : {1.0, 2.0, 5.0, 10.0}) {
    x.push_back({1.0, v});
    y.push_back(2 + 3 * v);
  }
  std::vector<double> c = NonNegativeRelativeLeastSquares(x, y);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0], 2, 1e-9);
  EXPECT_NEAR(c[1], 3, 1e-9);
  // y falling with x: ordinary least squares gives a negative slope; here the slope is 0.
  y = {10, 9, 6, 1};
  c = NonNegativeRelativeLeastSquares(x, y);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_GE(c[0], 0);
  EXPECT_EQ(c[1], 0);
}

TEST(LayerCost, SaturatingShapeExtrapolatesInSizeWhereLinearOverPredicts) {
  // Fitted on small layers (1e5 to 2e7 MACs), asked about ones up to 40x larger.
  const std::vector<LayerSample> train = Sweep(1e5, 2e7, 24, 0.02, 1);
  auto sat = LayerCostModel::Fit(Pointers(train), CostShape::kSaturating, Target::kTime);
  auto lin = LayerCostModel::Fit(Pointers(train), CostShape::kLinear, Target::kTime);
  ASSERT_TRUE(sat.ok()) << sat.status().message();
  ASSERT_TRUE(lin.ok()) << lin.status().message();
  double sat_err = 0, lin_err = 0;
  for (double w : {1e8, 3e8, 8e8}) {
    const LayerSample big = Conv(w, w / 50, TrueTime(w));
    sat_err = std::max(sat_err, std::fabs(sat->Predict(big) / big.time_s - 1));
    lin_err = std::max(lin_err, std::fabs(lin->Predict(big) / big.time_s - 1));
  }
  EXPECT_LT(sat_err, 0.15) << sat->ToJson().dump();
  EXPECT_GT(lin_err, 2 * sat_err) << lin->ToJson().dump();
  EXPECT_EQ(sat->work_max(), train.back().macs);
}

// An optimiser's update runs its kernels once per parameter tensor: what a call costs on its
// own is paid per tensor, so a network of many small tensors pays more per parameter than one
// of few large ones (Adam on this machine: 24 ns per parameter over 18 tensors of 8 099
// parameters, 1.7 ns over 110 tensors of 5.3 M).
TEST(LayerCost, AnUpdatePaysACallPerTensor) {
  auto update = [](double params, double tensors) {
    LayerSample s;
    s.type = "AdamStep";
    s.params = s.input_elements = params;
    s.flops = 13 * params;
    s.calls = tensors;
    s.key = "adam/" + std::to_string(static_cast<long long>(params)) + "/" +
            std::to_string(static_cast<long long>(tensors));
    s.time_s = 10e-6 * tensors + 1.5e-9 * params;  // 10 µs a tensor, 1.5 ns a parameter
    return s;
  };
  std::vector<LayerSample> train;
  for (double params : {1e4, 1e5, 1e6, 5e6}) {
    for (double tensors : {4.0, 30.0, 150.0}) train.push_back(update(params, tensors));
  }
  for (CostShape shape : {CostShape::kLinear, CostShape::kSaturating}) {
    auto fit = LayerCostModel::Fit(Pointers(train), shape, Target::kTime);
    ASSERT_TRUE(fit.ok()) << fit.status().message();
    for (double tensors : {2.0, 60.0, 200.0}) {
      const LayerSample asked = update(2e6, tensors);
      EXPECT_NEAR(fit->Predict(asked) / asked.time_s, 1.0, 0.15)
          << CostShapeName(shape) << ", " << tensors << " tensors";
    }
  }
}

TEST(LayerCost, PredictionsNeverFallAsSizeGrows) {
  // Noisy, even decreasing, data must not produce a falling curve.
  std::vector<LayerSample> train = Sweep(1e4, 1e8, 20, 0.3, 3);
  train[18].time_s = train[2].time_s;  // a large layer measured as fast as a small one
  for (CostShape shape : {CostShape::kSaturating, CostShape::kSaturatingMemory, CostShape::kLinear}) {
    auto m = LayerCostModel::Fit(Pointers(train), shape, Target::kTime);
    ASSERT_TRUE(m.ok()) << CostShapeName(shape);
    double prev = 0;
    for (double w = 1; w < 1e12; w *= 1.7) {
      const double t = m->Predict(Conv(w, w / 50, 0));
      EXPECT_GE(t, prev) << CostShapeName(shape) << " at " << w;
      prev = t;
    }
  }
}

TEST(LayerCost, StateRoundTripsAndCorruptStateIsRefused) {
  const std::vector<LayerSample> train = Sweep(1e5, 1e8, 12, 0.02, 2);
  auto m = LayerCostModel::Fit(Pointers(train), CostShape::kSaturatingMemory, Target::kEnergy);
  ASSERT_TRUE(m.ok());
  auto back = LayerCostModel::FromJson(m->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  for (const LayerSample& s : train) EXPECT_DOUBLE_EQ(back->Predict(s), m->Predict(s));
  nlohmann::json bad = m->ToJson();
  bad["coef"][1] = -1.0;
  EXPECT_EQ(LayerCostModel::FromJson(bad).status().code(), StatusCode::kCorruption);
  bad = m->ToJson();
  bad["shape"] = "cubic";
  EXPECT_EQ(LayerCostModel::FromJson(bad).status().code(), StatusCode::kCorruption);
}

TEST(LayerCost, RegimesTreeFindsAKernelSwitchNoCurveCanFit) {
  // Two kernels, 12x apart in rate, chosen by input size as libtorch chooses oneDNN: every
  // curve in W averages them; the tree splits on the input size and predicts both.
  std::vector<LayerSample> train;
  for (int i = 0; i < 40; ++i) {
    const double w = 1e5 * std::pow(1.2, i);
    const double input = (i % 2 ? 4e4 : 1e4) * (1 + 0.01 * i);
    const double rate = input > 20480 ? 0.03e-9 : 0.4e-9;
    LayerSample s = Conv(w, input, 5e-6 + rate * w);
    s.key += "/" + std::to_string(i);
    train.push_back(s);
  }
  auto tree = LayerCostModel::Fit(Pointers(train), CostShape::kRegimes, Target::kTime);
  auto curve = LayerCostModel::Fit(Pointers(train), CostShape::kSaturatingMemory, Target::kTime);
  ASSERT_TRUE(tree.ok());
  ASSERT_TRUE(curve.ok());
  const double tree_cv = CrossValidateCost(Pointers(train), CostShape::kRegimes, Target::kTime);
  const double curve_cv =
      CrossValidateCost(Pointers(train), CostShape::kSaturatingMemory, Target::kTime);
  EXPECT_LT(tree_cv, 0.15);
  EXPECT_GT(curve_cv, 2 * tree_cv);
  // The state round-trips, and a tree whose child points back at its parent is refused.
  auto back = LayerCostModel::FromJson(tree->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  for (const LayerSample& s : train) EXPECT_DOUBLE_EQ(back->Predict(s), tree->Predict(s));
  nlohmann::json bad = tree->ToJson();
  ASSERT_GT(bad["tree"].size(), 1u);
  bad["tree"][0][2] = 0;
  EXPECT_EQ(LayerCostModel::FromJson(bad).status().code(), StatusCode::kCorruption);
}

TEST(LayerCost, TooFewPointsIsUnavailable) {
  const std::vector<LayerSample> two = Sweep(1e5, 1e6, 2, 0, 1);
  auto m = LayerCostModel::Fit(Pointers(two), CostShape::kSaturating, Target::kTime);
  EXPECT_EQ(m.status().code(), StatusCode::kUnavailable);
}

TEST(LayerCost, GroupsSplitConvolutionsByKind) {
  LayerSample s = Conv(1e6, 1e4, 1e-4);
  EXPECT_EQ(CostGroup(s), "Conv2d/kxk");
  s.kernel = 1;
  EXPECT_EQ(CostGroup(s), "Conv2d/1x1");
  s.groups = 32;
  EXPECT_EQ(CostGroup(s), "Conv2d/grouped");
  EXPECT_EQ(CostGroupType("Conv2d/grouped"), "Conv2d");
  s.type = "ReLU";
  EXPECT_EQ(CostGroup(s), "ReLU");
}

}  // namespace
}  // namespace wattfleet
