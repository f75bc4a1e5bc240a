#include "wattfleet/numeric/gaussian_process.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "wattfleet/numeric/lbfgs.h"

namespace wattfleet {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Log-uniform points in [lo, hi]^dims.
Eigen::MatrixXd LogUniform(std::mt19937_64& rng, int n, int dims, double lo, double hi) {
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  Eigen::MatrixXd X(n, dims);
  for (int i = 0; i < n; ++i)
    for (int d = 0; d < dims; ++d) X(i, d) = std::exp(u(rng));
  return X;
}

// ---- kernel ----

TEST(Matern52, MatchesHandComputedValues) {
  // (1 + √5 r + 5r²/3) e^{−√5 r}: r = 1 gives 4.9027346 × 0.10687792 = 0.52399411.
  EXPECT_DOUBLE_EQ(Matern52(0.0), 1.0);
  EXPECT_NEAR(Matern52(0.5), 0.8286491424181253, 1e-15);
  EXPECT_NEAR(Matern52(1.0), 0.5239941088318203, 1e-15);
  EXPECT_NEAR(Matern52(2.0), 0.13866021913850426, 1e-15);
  EXPECT_LT(Matern52(10.0), 1e-7);
}

TEST(Matern52, KernelScalesEachDimensionByItsLengthScale) {
  Eigen::MatrixXd A(2, 2), B(1, 2);
  A << 0, 0, 3, 4;
  B << 3, 4;
  Eigen::VectorXd ls(2);
  ls << 3, 4;  // (3, 4) / (3, 4) = (1, 1): r = √2 from the origin
  const Eigen::MatrixXd K = Matern52Kernel(A, B, ls, 2.0);
  ASSERT_EQ(K.rows(), 2);
  ASSERT_EQ(K.cols(), 1);
  EXPECT_NEAR(K(0, 0), 2.0 * 0.3172833639540438, 1e-14);
  EXPECT_NEAR(K(1, 0), 2.0, 1e-14);
  // Swapping the length scales changes the distance: (3/4)² + (4/3)² instead of 2.
  Eigen::VectorXd swapped(2);
  swapped << 4, 3;
  const double r = std::sqrt(9.0 / 16 + 16.0 / 9);
  EXPECT_NEAR(Matern52Kernel(A, B, swapped, 1.0)(0, 0), Matern52(r), 1e-14);
}

// ---- likelihood gradient ----

TEST(GpLikelihood, AnalyticGradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 1);
  const int n = 200, dims = 3;  // more than one 128-column block of the blocked inverse
  Eigen::MatrixXd X(n, dims);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < dims; ++d) X(i, d) = 2 * normal(rng);
    y(i) = std::sin(X(i, 0)) + 0.5 * X(i, 1) + 0.1 * normal(rng);
  }
  for (int trial = 0; trial < 5; ++trial) {
    Eigen::VectorXd theta(GpParameterCount(dims));
    for (int d = 0; d < dims; ++d) theta(d) = 0.7 * normal(rng);
    theta(dims) = 0.5 * normal(rng);
    theta(dims + 1) = -3 + normal(rng);
    theta(dims + 2) = 0.5 * normal(rng);
    Eigen::VectorXd grad;
    ASSERT_TRUE(GpLogMarginalLikelihood(X, y, theta, &grad).ok());
    ASSERT_EQ(grad.size(), theta.size());
    for (int p = 0; p < theta.size(); ++p) {
      const double h = 1e-5;
      Eigen::VectorXd plus = theta, minus = theta;
      plus(p) += h;
      minus(p) -= h;
      const double fd = (GpLogMarginalLikelihood(X, y, plus, nullptr).value() -
                         GpLogMarginalLikelihood(X, y, minus, nullptr).value()) / (2 * h);
      const double rel = std::abs(grad(p) - fd) / std::max({std::abs(fd), std::abs(grad(p)), 1e-2});
      EXPECT_LT(rel, 1e-4) << "trial " << trial << " parameter " << p << ": analytic "
                           << grad(p) << " vs finite difference " << fd;
    }
  }
}

// ---- fits ----

TEST(GaussianProcess, RecoversSmoothOneDimensionalFunction) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 0.05);
  auto f = [](double x) { return 3.0 + std::sin(1.5 * std::log(x)); };
  const Eigen::MatrixXd X = LogUniform(rng, 40, 1, 1, 1000);
  Eigen::VectorXd y(X.rows());
  for (int i = 0; i < X.rows(); ++i) y(i) = f(X(i, 0)) + noise(rng);
  auto gp = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();

  const Eigen::MatrixXd T = LogUniform(rng, 300, 1, 1.5, 800);
  auto p = gp->Predict(T);
  ASSERT_TRUE(p.ok());
  double sq = 0;
  int covered = 0;
  for (int i = 0; i < T.rows(); ++i) {
    const double truth = f(T(i, 0));
    sq += (p->mean(i) - truth) * (p->mean(i) - truth);
    const double observed = truth + noise(rng);
    covered += std::abs(observed - p->mean(i)) <= 1.96 * std::sqrt(p->noisy_variance(i));
  }
  EXPECT_LT(std::sqrt(sq / T.rows()), 0.05);  // the noise's own std is 0.05
  EXPECT_GE(covered, 0.85 * T.rows());
  // The learned noise is of the right order (0.05² = 0.0025).
  EXPECT_GT(gp->noise_variance(), 0.0025 / 4);
  EXPECT_LT(gp->noise_variance(), 0.0025 * 4);
}

TEST(GaussianProcess, LatentCovarianceAgreesWithPredictAndConditioning) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 0.05);
  auto f = [](double x) { return 3.0 + std::sin(1.5 * std::log(x)); };
  const Eigen::MatrixXd X = LogUniform(rng, 12, 1, 1, 1000);
  Eigen::VectorXd y(X.rows());
  for (int i = 0; i < X.rows(); ++i) y(i) = f(X(i, 0)) + noise(rng);
  auto gp = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  const Eigen::MatrixXd T = LogUniform(rng, 6, 1, 1, 5000);
  auto p = gp->Predict(T);
  auto cov = gp->LatentCovariance(T, T);
  ASSERT_TRUE(p.ok() && cov.ok());
  for (int i = 0; i < T.rows(); ++i) {
    EXPECT_NEAR((*cov)(i, i), p->variance(i), 1e-9 * (1 + p->variance(i)));
    for (int j = 0; j < T.rows(); ++j) EXPECT_NEAR((*cov)(i, j), (*cov)(j, i), 1e-12);
  }
  // What observing T_0 (with noise) takes off the variance at T_1, cov(1, 0)² / (var(0) +
  // noise), lies between nothing and all of var(1) (Cauchy–Schwarz on a valid covariance).
  const double reduction =
      (*cov)(1, 0) * (*cov)(1, 0) / ((*cov)(0, 0) + gp->noise_variance());
  EXPECT_GE(reduction, 0);
  EXPECT_LE(reduction, (*cov)(1, 1) + 1e-12);
  Eigen::MatrixXd bad(1, 2);
  bad << 1, 2;
  EXPECT_FALSE(gp->LatentCovariance(bad, T).ok());
}

// THOR's setting: an energy-like c · x1^a · x2^b over widths 8 … 1024 with measurement noise,
// log inputs, linear target.
TEST(GaussianProcess, RecoversEnergyLikeTwoDimensionalFunction) {
  std::mt19937_64 rng(23);
  auto f = [](double a, double b) { return 2e-3 * std::pow(a, 0.9) * std::pow(b, 1.1); };
  const double sigma = 0.05 * f(128, 128);
  std::normal_distribution<double> noise(0, sigma);
  const Eigen::MatrixXd X = LogUniform(rng, 120, 2, 8, 1024);
  Eigen::VectorXd y(X.rows());
  for (int i = 0; i < X.rows(); ++i) y(i) = f(X(i, 0), X(i, 1)) + noise(rng);
  auto gp = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  EXPECT_GT(gp->log_marginal_likelihood(), gp->fit_info().initial_log_marginal_likelihood + 1.0);

  const Eigen::MatrixXd T = LogUniform(rng, 400, 2, 10, 900);
  auto p = gp->Predict(T);
  ASSERT_TRUE(p.ok());
  double abs_err = 0, scale = 0;
  int covered = 0;
  for (int i = 0; i < T.rows(); ++i) {
    const double truth = f(T(i, 0), T(i, 1));
    abs_err += std::abs(p->mean(i) - truth);
    scale += truth;
    const double observed = truth + noise(rng);
    covered += std::abs(observed - p->mean(i)) <= 1.96 * std::sqrt(p->noisy_variance(i));
  }
  EXPECT_LT(abs_err / scale, 0.035);  // weighted mean absolute error under 3.5 % of the mean
  EXPECT_GE(covered, 0.85 * T.rows());
}

TEST(GaussianProcess, LogTargetFollowsAFunctionSpanningDecades) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 0.03);
  auto f = [](double a, double b) { return 1e-6 * a * std::pow(b, 1.5); };  // 1e-4 … 30
  const Eigen::MatrixXd X = LogUniform(rng, 60, 2, 4, 4096);
  Eigen::VectorXd y(X.rows());
  for (int i = 0; i < X.rows(); ++i) y(i) = f(X(i, 0), X(i, 1)) * std::exp(noise(rng));
  GpOptions options;
  options.log_target = true;
  auto gp = GaussianProcess::Fit(X, y, options);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  const Eigen::MatrixXd T = LogUniform(rng, 200, 2, 8, 2048);
  auto p = gp->Predict(T);
  ASSERT_TRUE(p.ok());
  std::vector<double> ape;
  for (int i = 0; i < T.rows(); ++i) {
    const double truth = f(T(i, 0), T(i, 1));
    ape.push_back(std::abs(p->mean(i) / truth - 1));
  }
  std::nth_element(ape.begin(), ape.begin() + ape.size() / 2, ape.end());
  EXPECT_LT(ape[ape.size() / 2], 0.03);
  EXPECT_GT(p->variance.minCoeff(), 0.0);
}

// The median under a log target is exp of the modelled mean, below the log-normal mean by
// exp(v/2); the envelope is what the measurements around a point bound, widened by the noise.
TEST(GaussianProcess, MedianAndEnvelopeUnderALogTarget) {
  Eigen::MatrixXd X(4, 2);
  X << 128, 128, 128, 512, 512, 128, 512, 512;
  Eigen::VectorXd y(4);
  y << 0.03, 0.23, 0.23, 0.43;
  GpOptions options;
  options.log_target = true;
  auto gp = GaussianProcess::Fit(X, y, options);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  Eigen::MatrixXd far(1, 2);
  far << 16, 16;
  auto p = gp->Predict(far);
  ASSERT_TRUE(p.ok());
  const double v = std::log1p(p->variance(0) / (p->mean(0) * p->mean(0)));
  EXPECT_NEAR(p->median(0), p->mean(0) * std::exp(-0.5 * v), 1e-9 * p->mean(0));
  EXPECT_LT(p->median(0), p->mean(0));

  const double margin = std::exp(2 * std::sqrt(gp->noise_variance()));
  auto between = gp->Envelope(Eigen::RowVector2d(256, 256));
  ASSERT_TRUE(between.ok());
  EXPECT_NEAR(between->low * margin, 0.03, 1e-6);
  EXPECT_NEAR(between->high / margin, 0.43, 1e-6);
  auto beside = gp->Envelope(Eigen::RowVector2d(1024, 256));  // above (512, 128) only
  ASSERT_TRUE(beside.ok());
  EXPECT_NEAR(beside->low * margin, 0.23, 1e-6);
  EXPECT_TRUE(std::isnan(beside->high));
  auto below = gp->Envelope(Eigen::RowVector2d(64, 64));
  ASSERT_TRUE(below.ok());
  EXPECT_TRUE(std::isnan(below->low));
  EXPECT_NEAR(below->high / margin, 0.03, 1e-6);
  EXPECT_FALSE(gp->Envelope(Eigen::RowVector3d(1, 2, 3)).ok());
  EXPECT_FALSE(gp->Envelope(Eigen::RowVector2d(0, 64)).ok());  // log inputs take no 0
}

TEST(GaussianProcess, OptimiserImprovesOnItsStart) {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd X = LogUniform(rng, 50, 2, 1, 100);
  Eigen::VectorXd y(X.rows());
  for (int i = 0; i < X.rows(); ++i) y(i) = std::log(X(i, 0)) * std::log(X(i, 1));
  GpOptions zero;
  zero.max_iterations = 0;
  zero.restarts = 1;
  auto start = GaussianProcess::Fit(X, y, zero);
  auto fitted = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(start.ok() && fitted.ok());
  EXPECT_DOUBLE_EQ(start->log_marginal_likelihood(),
                   start->fit_info().initial_log_marginal_likelihood);
  EXPECT_GT(fitted->log_marginal_likelihood(), start->log_marginal_likelihood() + 10);
  EXPECT_EQ(fitted->fit_info().starts, 4);
  EXPECT_GT(fitted->fit_info().iterations, 4);
}

TEST(GaussianProcess, SameSeedSameModel) {
  std::mt19937_64 rng(9);
  const Eigen::MatrixXd X = LogUniform(rng, 30, 2, 1, 100);
  const Eigen::VectorXd y = X.col(0).array().log() + X.col(1).array().sqrt();
  auto a = GaussianProcess::Fit(X, y), b = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->log_marginal_likelihood(), b->log_marginal_likelihood());
  EXPECT_EQ(a->length_scales(), b->length_scales());
}

TEST(GaussianProcess, NoiseFreeDuplicatesDoNotBreakTheFactorisation) {
  // Every point three times, exact values: the likelihood drives the noise to zero and K
  // becomes singular without the noise floor and the jitter.
  Eigen::MatrixXd X(30, 1);
  Eigen::VectorXd y(30);
  for (int i = 0; i < 30; ++i) {
    X(i, 0) = std::pow(2.0, i % 10);
    y(i) = 0.5 * std::log(X(i, 0)) + 1;
  }
  auto gp = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  EXPECT_TRUE(std::isfinite(gp->log_marginal_likelihood()));
  auto p = gp->Predict(X);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->mean.allFinite() && p->variance.allFinite());
  EXPECT_LT((p->mean - y).cwiseAbs().maxCoeff(), 1e-3);

  // A constant target (no spread at all) is fitted too.
  auto flat = GaussianProcess::Fit(X, Eigen::VectorXd::Constant(30, 4.0));
  ASSERT_TRUE(flat.ok()) << flat.status().ToString();
  auto q = flat->Predict(X);
  ASSERT_TRUE(q.ok());
  EXPECT_NEAR(q->mean(0), 4.0, 1e-6);
}

TEST(GpLikelihood, JitterRescuesAFactorisationThatFails) {
  // Duplicated points, a huge signal variance and negligible noise: the plain Cholesky of K
  // meets a non-positive pivot, the likelihood escalates the jitter instead of failing.
  Eigen::MatrixXd X(40, 1);
  Eigen::VectorXd y(40);
  for (int i = 0; i < 40; ++i) {
    X(i, 0) = 0.7 * (i % 10);
    y(i) = 0.5 * X(i, 0) + 1;
  }
  Eigen::VectorXd theta(4);
  theta << 3.0, 20.0, -40.0, 0.0;
  Eigen::MatrixXd K = Matern52Kernel(X, X, Eigen::VectorXd::Constant(1, std::exp(3.0)),
                                     std::exp(20.0));
  K.diagonal().array() += std::exp(-40.0) + 1e-9;
  ASSERT_NE(Eigen::LLT<Eigen::MatrixXd>(K).info(), Eigen::Success);
  Eigen::VectorXd grad;
  auto lml = GpLogMarginalLikelihood(X, y, theta, &grad);
  ASSERT_TRUE(lml.ok()) << lml.status().ToString();
  EXPECT_TRUE(std::isfinite(*lml));
  EXPECT_TRUE(grad.allFinite());
}

TEST(GaussianProcess, JsonRoundTripReproducesPredictionsExactly) {
  std::mt19937_64 rng(13);
  std::normal_distribution<double> noise(0, 0.1);
  const Eigen::MatrixXd X = LogUniform(rng, 40, 3, 2, 500);
  Eigen::VectorXd y(X.rows());
  for (int i = 0; i < X.rows(); ++i) y(i) = 5 + std::log(X(i, 0) * X(i, 1)) + noise(rng);
  for (bool log_target : {false, true}) {
    GpOptions options;
    options.log_target = log_target;
    options.restarts = 2;
    auto gp = GaussianProcess::Fit(X, y, options);
    ASSERT_TRUE(gp.ok());
    auto back = GaussianProcess::FromJson(gp->ToJson());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    const Eigen::MatrixXd T = LogUniform(rng, 50, 3, 1, 1000);
    auto p = gp->Predict(T);
    auto q = back->Predict(T);
    ASSERT_TRUE(p.ok() && q.ok());
    EXPECT_EQ(p->mean, q->mean);
    EXPECT_EQ(p->variance, q->variance);
    EXPECT_EQ(p->noisy_variance, q->noisy_variance);
    EXPECT_EQ(back->log_marginal_likelihood(), gp->log_marginal_likelihood());
    EXPECT_EQ(back->noise_variance(), gp->noise_variance());
    EXPECT_EQ(back->options().log_target, log_target);
    EXPECT_EQ(back->fit_info().iterations, gp->fit_info().iterations);
  }
}

TEST(GaussianProcess, MalformedJsonIsCorruption) {
  EXPECT_EQ(GaussianProcess::FromJson("{").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(GaussianProcess::FromJson("{\"format\": \"other\"}").status().code(),
            StatusCode::kCorruption);
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd X = LogUniform(rng, 10, 1, 1, 10);
  auto gp = GaussianProcess::Fit(X, X.col(0));
  ASSERT_TRUE(gp.ok());
  std::string text = gp->ToJson();
  const size_t at = text.find("\"theta\":[");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 9, "1.0,");  // one hyper-parameter too many
  EXPECT_EQ(GaussianProcess::FromJson(text).status().code(), StatusCode::kCorruption);
}

// ---- active learning ----

TEST(ActiveLearning, MostUncertainIsFarFromTheData) {
  std::mt19937_64 rng(17);
  const Eigen::MatrixXd X = LogUniform(rng, 20, 1, 8, 128);
  const Eigen::VectorXd y = 10 + X.col(0).array().log();
  auto gp = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(gp.ok());
  Eigen::MatrixXd candidates(5, 1);
  candidates << 16, 32, 64, 8192, 100;  // 8192 is far outside [8, 128] on the log scale
  EXPECT_EQ(MostUncertain(*gp, candidates, true).value(), 3u);
  EXPECT_EQ(MostUncertain(*gp, candidates, false).value(), 3u);
  const double inside = MaxRelativeStd(*gp, candidates.topRows(3)).value();
  const double with_far = MaxRelativeStd(*gp, candidates).value();
  EXPECT_GT(with_far, 2 * inside);
  EXPECT_LT(inside, 0.05);  // well-sampled region: small relative std

  // Measuring there removes most of that uncertainty.
  Eigen::MatrixXd X2(X.rows() + 1, 1);
  X2 << X, 8192;
  Eigen::VectorXd y2(y.size() + 1);
  y2 << y, 10 + std::log(8192.0);
  auto gp2 = GaussianProcess::Fit(X2, y2);
  ASSERT_TRUE(gp2.ok());
  EXPECT_LT(MaxRelativeStd(*gp2, candidates).value(), with_far / 2);
}

TEST(ActiveLearning, RelativeRuleWeighsSmallMeansHigher) {
  // Two separated clusters, one with values near 1 and one near 1000, the same absolute
  // noise: relative to its mean the small one is the less certain.
  Eigen::MatrixXd X(20, 1);
  Eigen::VectorXd y(20);
  for (int i = 0; i < 10; ++i) {
    X(i, 0) = 1 + i;
    y(i) = 1 + 0.01 * i;
    X(10 + i, 0) = 1e4 + 1e3 * i;
    y(10 + i) = 1000 + 0.01 * i;
  }
  GpOptions options;
  options.log_inputs = true;
  auto gp = GaussianProcess::Fit(X, y, options);
  ASSERT_TRUE(gp.ok());
  Eigen::MatrixXd candidates(2, 1);
  candidates << 5.5, 1.45e4;
  auto p = gp->Predict(candidates);
  ASSERT_TRUE(p.ok());
  const double rel0 = std::sqrt(p->variance(0)) / std::abs(p->mean(0));
  const double rel1 = std::sqrt(p->variance(1)) / std::abs(p->mean(1));
  EXPECT_EQ(MostUncertain(*gp, candidates, true).value(), rel0 >= rel1 ? 0u : 1u);
  EXPECT_GT(rel0, rel1);
}

// ---- bad input ----

TEST(GaussianProcess, BadInputIsInvalidArgument) {
  auto code = [](const Result<GaussianProcess>& r) { return r.status().code(); };
  const auto kInvalid = StatusCode::kInvalidArgument;
  Eigen::MatrixXd X(3, 1);
  X << 1, 2, 3;
  Eigen::VectorXd y(3);
  y << 1, 2, 3;
  EXPECT_EQ(code(GaussianProcess::Fit(Eigen::MatrixXd(0, 1), Eigen::VectorXd(0))), kInvalid);
  EXPECT_EQ(code(GaussianProcess::Fit(Eigen::MatrixXd(3, 0), y)), kInvalid);
  EXPECT_EQ(code(GaussianProcess::Fit(X, Eigen::VectorXd::Ones(2))), kInvalid);
  Eigen::MatrixXd Xn = X;
  Xn(1, 0) = kNaN;
  EXPECT_EQ(code(GaussianProcess::Fit(Xn, y)), kInvalid);
  Eigen::VectorXd yn = y;
  yn(2) = std::numeric_limits<double>::infinity();
  EXPECT_EQ(code(GaussianProcess::Fit(X, yn)), kInvalid);
  Eigen::MatrixXd X0 = X;
  X0(0, 0) = 0;  // log(0)
  EXPECT_EQ(code(GaussianProcess::Fit(X0, y)), kInvalid);
  GpOptions linear;
  linear.log_inputs = false;
  EXPECT_TRUE(GaussianProcess::Fit(X0, y, linear).ok());
  GpOptions log_target;
  log_target.log_target = true;
  EXPECT_EQ(code(GaussianProcess::Fit(X, -y, log_target)), kInvalid);
  GpOptions none;
  none.restarts = 0;
  EXPECT_EQ(code(GaussianProcess::Fit(X, y, none)), kInvalid);

  auto gp = GaussianProcess::Fit(X, y);
  ASSERT_TRUE(gp.ok());
  EXPECT_EQ(gp->Predict(Eigen::MatrixXd::Ones(2, 2)).status().code(), kInvalid);
  EXPECT_EQ(gp->Predict(Eigen::MatrixXd::Constant(1, 1, kNaN)).status().code(), kInvalid);
  EXPECT_EQ(gp->Predict(Eigen::MatrixXd::Constant(1, 1, -1)).status().code(), kInvalid);
  EXPECT_EQ(MostUncertain(*gp, Eigen::MatrixXd(0, 1)).status().code(), kInvalid);
  EXPECT_EQ(MaxRelativeStd(*gp, Eigen::MatrixXd(0, 1)).status().code(), kInvalid);
  Eigen::VectorXd grad;
  EXPECT_EQ(GpLogMarginalLikelihood(X, y, Eigen::VectorXd::Zero(2), &grad).status().code(),
            kInvalid);
}

// ---- the optimiser ----

TEST(Lbfgs, MinimisesRosenbrock) {
  LbfgsObjective rosenbrock = [](const Eigen::VectorXd& x, Eigen::VectorXd* g) {
    const double a = 1 - x(0), b = x(1) - x(0) * x(0);
    if (g != nullptr) {
      g->resize(2);
      (*g)(0) = -2 * a - 400 * x(0) * b;
      (*g)(1) = 200 * b;
    }
    return a * a + 100 * b * b;
  };
  Eigen::VectorXd x0(2);
  x0 << -1.2, 1.0;
  LbfgsOptions options;
  options.relative_tolerance = 0;
  options.gradient_tolerance = 1e-10;
  auto r = MinimizeLbfgs(rosenbrock, x0, options);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->x(0), 1.0, 1e-6);
  EXPECT_NEAR(r->x(1), 1.0, 1e-6);
  EXPECT_LT(r->iterations, 100);
  EXPECT_EQ(r->stop, LbfgsStop::kGradient) << LbfgsStopName(r->stop);
}

TEST(Lbfgs, BacktracksOutOfAnInfiniteRegionAndRefusesAnInfiniteStart) {
  // f = (x − 3)² on x < 3.5, +inf beyond: the first full steps land outside.
  LbfgsObjective walled = [](const Eigen::VectorXd& x, Eigen::VectorXd* g) {
    if (x(0) >= 3.5) return std::numeric_limits<double>::infinity();
    if (g != nullptr) *g = Eigen::VectorXd::Constant(1, 2 * (x(0) - 3));
    return (x(0) - 3) * (x(0) - 3);
  };
  auto r = MinimizeLbfgs(walled, Eigen::VectorXd::Constant(1, -20.0));
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->x(0), 3.0, 1e-4);
  EXPECT_EQ(MinimizeLbfgs(walled, Eigen::VectorXd::Constant(1, 4.0)).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace wattfleet
