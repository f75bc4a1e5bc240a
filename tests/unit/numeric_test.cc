// The numeric core's regression tree and conformal quantile, alone: what the layer cost curves
// and the evaluation's intervals stand on.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "wattfleet/numeric/conformal.h"
#include "wattfleet/numeric/least_squares.h"
#include "wattfleet/numeric/regression_tree.h"

namespace wattfleet {
namespace {

TEST(RegressionTree, FindsTheStepsOfAPiecewiseConstantFunction) {
  // z is 1 below x0 = 10, 3 from there, whatever x1 (noise the tree must not split on).
  std::vector<std::vector<double>> x;
  std::vector<double> z;
  for (int i = 0; i < 40; ++i) {
    x.push_back({static_cast<double>(i % 20), static_cast<double>((i * 7) % 5)});
    z.push_back(i % 20 < 10 ? 1.0 : 3.0);
  }
  const RegressionTree tree = RegressionTree::Fit(x, z, TreeOptions{});
  ASSERT_FALSE(tree.empty());
  EXPECT_DOUBLE_EQ(tree.Predict({2, 0}), 1.0);
  EXPECT_DOUBLE_EQ(tree.Predict({17, 4}), 3.0);
  // One split is all the data supports: the root and its two leaves.
  EXPECT_EQ(tree.ToJson().size(), 3u);
  EXPECT_EQ(tree.ToJson()[0][0], 0);  // on x0
}

TEST(RegressionTree, KeepsItsLeavesAndGainBounds) {
  // Five points cannot make two leaves of three: one leaf, the mean.
  const RegressionTree small =
      RegressionTree::Fit({{1}, {2}, {3}, {4}, {5}}, {1, 1, 1, 9, 9}, TreeOptions{});
  EXPECT_EQ(small.ToJson().size(), 1u);
  EXPECT_DOUBLE_EQ(small.Predict({5}), 21.0 / 5);
  EXPECT_TRUE(RegressionTree::Fit({}, {}, TreeOptions{}).empty());
  EXPECT_EQ(RegressionTree().Predict({1}), 0.0);
}

TEST(RegressionTree, RoundTripsAndRefusesAMalformedList) {
  std::vector<std::vector<double>> x;
  std::vector<double> z;
  for (int i = 0; i < 30; ++i) {
    x.push_back({static_cast<double>(i)});
    z.push_back(std::log(1.0 + i));
  }
  const RegressionTree tree = RegressionTree::Fit(x, z, TreeOptions{});
  auto back = RegressionTree::FromJson(tree.ToJson(), 1);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  for (int i = 0; i < 30; ++i) EXPECT_EQ(back->Predict({i + 0.5}), tree.Predict({i + 0.5}));
  // A feature the caller does not have, a child pointing back at its parent, nothing at all,
  // a node of the wrong shape: each refused rather than read.
  EXPECT_FALSE(RegressionTree::FromJson(tree.ToJson(), 0).ok());
  EXPECT_FALSE(RegressionTree::FromJson(nlohmann::json::parse("[[0, 1.0, 0, 0, 2.0]]"), 1).ok());
  EXPECT_FALSE(RegressionTree::FromJson(nlohmann::json::array(), 1).ok());
  EXPECT_FALSE(RegressionTree::FromJson(nlohmann::json::parse("[[\"a\"]]"), 1).ok());
}

TEST(Conformal, TakesTheRankThatCoversTheLevel) {
  std::vector<double> r;
  for (int i = 1; i <= 19; ++i) r.push_back(i);
  // ceil(0.9 · 20) = 18: the 18th smallest of 19.
  EXPECT_EQ(ConformalQuantile(r, 0.9), 18.0);
  // Eight points cannot state 90 %; none at all, nothing.
  EXPECT_TRUE(std::isinf(ConformalQuantile({1, 2, 3, 4, 5, 6, 7, 8}, 0.9)));
  EXPECT_EQ(ConformalQuantile({}, 0.9), -1.0);
  // The order the residuals come in does not matter.
  EXPECT_EQ(ConformalQuantile({9, 1, 5, 3, 7, 2, 8, 4, 6}, 0.9), 9.0);
}

TEST(LeastSquares, NonNegativeFitDropsAColumnThatWouldGoNegative) {
  // y = 2 x0 exactly; x1 anti-correlated noise that a free fit would give a negative weight.
  std::vector<std::vector<double>> x = {{1, 3}, {2, 1}, {3, 2}, {4, 0.5}, {5, 1}};
  std::vector<double> y = {2, 4, 6, 8, 10};
  const std::vector<double> c = NonNegativeRelativeLeastSquares(x, y);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0], 2.0, 1e-9);
  EXPECT_GE(c[1], 0.0);
}

}  // namespace
}  // namespace wattfleet
