#include "wattfleet/numeric/gaussian_process.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/numeric/lbfgs.h"

namespace wattfleet {

namespace {

constexpr double kSqrt5 = 2.23606797749978969641;
constexpr double kTwoPi = 6.28318530717958647693;
constexpr double kLog2Pi = 1.83787706640934548356;
// Keeps K positive definite however small the learned noise: relative to the standardised
// target's unit variance, far below any measurement noise.
constexpr double kNoiseFloor = 1e-9;
// Prediction works through the candidates in blocks so that the cross-covariance of 10^4
// candidates against 4·10^3 points is not held at once.
constexpr Eigen::Index kPredictBlock = 1024;

// Cholesky of K = Kf + (σ_n² + jitter) I at one θ, with what the likelihood and its
// gradient need.
struct Factor {
  Eigen::LLT<Eigen::MatrixXd> llt;
  Eigen::VectorXd alpha;  // K^{-1} (y - m)
  double jitter = 0;
  double lml = 0;
};

double NoiseVariance(const Eigen::VectorXd& theta) {
  return std::exp(theta(theta.size() - 2)) + kNoiseFloor;
}

// Rows of X divided by the length scales, transposed so that a point is a contiguous column.
Eigen::MatrixXd ScaledColumns(const Eigen::MatrixXd& X, const Eigen::VectorXd& length_scales) {
  Eigen::MatrixXd S = X.transpose();
  for (Eigen::Index d = 0; d < S.rows(); ++d) S.row(d) /= length_scales(d);
  return S;
}

double SquaredDistance(const double* a, const double* b, Eigen::Index dims) {
  double s = 0;
  for (Eigen::Index d = 0; d < dims; ++d) {
    const double t = a[d] - b[d];
    s += t * t;
  }
  return s;
}

// Factorises K at θ with the given jitter; an error means "not positive definite (or not
// finite) at this jitter".
Result<Factor> FactorizeWithJitter(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                                   const Eigen::VectorXd& theta, double jitter) {
  const Eigen::Index n = X.rows(), dims = X.cols();
  const Eigen::VectorXd ls = theta.head(dims).array().exp();
  const double sf2 = std::exp(theta(dims));
  const double mean = theta(dims + 2);
  const Eigen::MatrixXd S = ScaledColumns(X, ls);
  Eigen::MatrixXd K(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    K(j, j) = sf2 + NoiseVariance(theta) + jitter;
    for (Eigen::Index i = j + 1; i < n; ++i) {
      K(i, j) = sf2 * Matern52(std::sqrt(SquaredDistance(&S(0, i), &S(0, j), dims)));
    }
  }
  Factor f;
  f.jitter = jitter;
  f.llt.compute(K);  // reads the lower triangle only
  if (f.llt.info() != Eigen::Success) return Status::Internal("gp: K is not positive definite");
  const Eigen::VectorXd r = y.array() - mean;
  f.alpha = f.llt.solve(r);
  const auto diag = f.llt.matrixLLT().diagonal();
  if (!f.alpha.allFinite() || !(diag.minCoeff() > 0)) {
    return Status::Internal("gp: K is numerically singular");
  }
  f.lml = -0.5 * r.dot(f.alpha) - diag.array().log().sum() - 0.5 * double(n) * kLog2Pi;
  if (!std::isfinite(f.lml)) return Status::Internal("gp: likelihood is not finite");
  return f;
}

// Jitter escalation: none first, then 1e-10 … 1e-2 of the kernel's diagonal.
Result<Factor> FactorizeEscalating(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                                   const Eigen::VectorXd& theta) {
  if (!theta.allFinite()) return Status::Internal("gp: hyper-parameters are not finite");
  const double scale = std::exp(theta(X.cols())) + NoiseVariance(theta);
  Status last;
  for (int k = 0; k <= 9; ++k) {
    const double jitter = k == 0 ? 0.0 : scale * std::pow(10.0, -11 + k);
    auto f = FactorizeWithJitter(X, y, theta, jitter);
    if (f.ok()) return f;
    last = f.status();
  }
  return last.WithContext("even with jitter 1e-2 of the diagonal");
}

// The lower triangle of K⁻¹ = L⁻ᵀ L⁻¹ (the upper is left zero), in blocks of columns that
// skip the known zeros of L⁻¹: n³/3 flops for L⁻¹ and n³/3 for the product, against 2n³ for
// llt.solve(I). This is the gradient's dominant cost.
Eigen::MatrixXd LowerInverse(const Eigen::LLT<Eigen::MatrixXd>& llt) {
  const Eigen::MatrixXd& LL = llt.matrixLLT();
  const Eigen::Index n = LL.rows();
  constexpr Eigen::Index kBlock = 128;
  Eigen::MatrixXd Linv = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index j = 0; j < n; j += kBlock) {
    const Eigen::Index b = std::min(kBlock, n - j), m = n - j;
    auto cols = Linv.block(j, j, m, b);  // rows above j are zero in these columns
    cols.topRows(b).setIdentity();
    LL.block(j, j, m, m).triangularView<Eigen::Lower>().solveInPlace(cols);
  }
  Eigen::MatrixXd Kinv = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index j = 0; j < n; j += kBlock) {
    const Eigen::Index b = std::min(kBlock, n - j), m = n - j;
    // Rows i >= j of these columns: Σ_{k >= j} Linv(k, i) Linv(k, j').
    Kinv.block(j, j, m, b).noalias() =
        Linv.block(j, j, m, m).triangularView<Eigen::Lower>().transpose() *
        Linv.block(j, j, m, b);
  }
  return Kinv;
}

// ∂ log p(y | θ) / ∂θ = ½ tr((α αᵀ − K⁻¹) ∂K/∂θ), summed over pairs directly so that no
// n × n derivative matrix is formed. For the Matérn 5/2 kernel,
// ∂k/∂log ℓ_d = σ_f² (5/3)(1 + √5 r) exp(−√5 r) (x_d − x'_d)² / ℓ_d², finite at r = 0.
Eigen::VectorXd Gradient(const Eigen::MatrixXd& X, const Eigen::VectorXd& theta,
                         const Factor& f) {
  const Eigen::Index n = X.rows(), dims = X.cols();
  const Eigen::VectorXd ls = theta.head(dims).array().exp();
  const double sf2 = std::exp(theta(dims));
  const Eigen::MatrixXd S = ScaledColumns(X, ls);
  const Eigen::MatrixXd Kinv = LowerInverse(f.llt);  // lower triangle: i >= j below
  const Eigen::VectorXd& a = f.alpha;

  Eigen::VectorXd grad = Eigen::VectorXd::Zero(GpParameterCount(static_cast<int>(dims)));
  double g_sf2 = 0, g_noise = 0;
  std::vector<double> g_ls(static_cast<size_t>(dims), 0.0);
  for (Eigen::Index j = 0; j < n; ++j) {
    const double wjj = a(j) * a(j) - Kinv(j, j);
    g_sf2 += 0.5 * wjj * sf2;
    g_noise += 0.5 * wjj;
    const double* sj = &S(0, j);
    for (Eigen::Index i = j + 1; i < n; ++i) {
      const double* si = &S(0, i);
      const double w = a(i) * a(j) - Kinv(i, j);  // off-diagonal pairs count twice: no ½
      const double r2 = SquaredDistance(si, sj, dims);
      const double r = std::sqrt(r2);
      const double e = std::exp(-kSqrt5 * r);
      g_sf2 += w * sf2 * (1.0 + kSqrt5 * r + (5.0 / 3.0) * r2) * e;
      const double c = w * sf2 * (5.0 / 3.0) * (1.0 + kSqrt5 * r) * e;
      for (Eigen::Index d = 0; d < dims; ++d) {
        const double t = si[d] - sj[d];
        g_ls[static_cast<size_t>(d)] += c * t * t;
      }
    }
  }
  for (Eigen::Index d = 0; d < dims; ++d) grad(d) = g_ls[static_cast<size_t>(d)];
  grad(dims) = g_sf2;
  grad(dims + 1) = g_noise * std::exp(theta(dims + 1));  // floor is constant in θ
  grad(dims + 2) = a.sum();
  return grad;
}

// Deterministic across standard libraries (std::normal_distribution is not specified).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

Status CheckFinite(const Eigen::MatrixXd& M, const char* what) {
  if (!M.allFinite()) return Status::InvalidArgument(std::string("gp: ") + what + " has NaN or inf");
  return Status::OK();
}

}  // namespace

double Matern52(double r) {
  return (1.0 + kSqrt5 * r + (5.0 / 3.0) * r * r) * std::exp(-kSqrt5 * r);
}

Eigen::MatrixXd Matern52Kernel(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B,
                               const Eigen::VectorXd& length_scales, double signal_variance) {
  const Eigen::MatrixXd SA = ScaledColumns(A, length_scales);
  const Eigen::MatrixXd SB = ScaledColumns(B, length_scales);
  const Eigen::Index dims = A.cols();
  Eigen::MatrixXd K(A.rows(), B.rows());
  for (Eigen::Index j = 0; j < B.rows(); ++j) {
    for (Eigen::Index i = 0; i < A.rows(); ++i) {
      K(i, j) = signal_variance * Matern52(std::sqrt(SquaredDistance(&SA(0, i), &SB(0, j), dims)));
    }
  }
  return K;
}

Result<double> GpLogMarginalLikelihood(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                                       const Eigen::VectorXd& theta, Eigen::VectorXd* grad) {
  if (X.rows() == 0 || X.cols() == 0 || X.rows() != y.size() ||
      theta.size() != GpParameterCount(static_cast<int>(X.cols()))) {
    return Status::InvalidArgument("gp: shapes of X, y and theta do not agree");
  }
  WF_ASSIGN_OR_RETURN(Factor f, FactorizeEscalating(X, y, theta));
  if (grad != nullptr) *grad = Gradient(X, theta, f);
  return f.lml;
}

Result<Eigen::MatrixXd> GaussianProcess::Transform(const Eigen::MatrixXd& X,
                                                   const char* what) const {
  WF_RETURN_IF_ERROR(CheckFinite(X, what));
  if (!options_.log_inputs) return X;
  if (X.size() > 0 && !(X.minCoeff() > 0)) {
    return Status::InvalidArgument(std::string("gp: ") + what +
                                   " must be > 0 with log_inputs (it is log-transformed)");
  }
  return Eigen::MatrixXd(X.array().log());
}

namespace {

// The data-driven start of the hyper-parameters and the box they are searched in: length
// scales at each input's spread, signal at the target's unit variance, noise at 1 % of it,
// mean at the sample mean. The bounds keep the search where the likelihood is informative (a
// length scale e^10 times the spread is a constant).
struct HyperBox {
  Eigen::VectorXd start, lo, hi;
};

HyperBox StartAndBounds(const Eigen::MatrixXd& X) {
  const Eigen::Index dims = X.cols();
  const int P = GpParameterCount(static_cast<int>(dims));
  HyperBox b{Eigen::VectorXd(P), Eigen::VectorXd(P), Eigen::VectorXd(P)};
  for (Eigen::Index d = 0; d < dims; ++d) {
    const auto col = X.col(d).array();
    const double spread = std::sqrt((col - col.mean()).square().mean());
    b.start(d) = std::log(spread > 0 ? spread : 1.0);
    b.lo(d) = b.start(d) - 10;
    b.hi(d) = b.start(d) + 10;
  }
  b.start(dims) = 0;
  b.lo(dims) = -12;
  b.hi(dims) = 12;
  b.start(dims + 1) = std::log(1e-2);
  b.lo(dims + 1) = -30;
  b.hi(dims + 1) = 3;
  b.start(dims + 2) = 0;
  b.lo(dims + 2) = -20;
  b.hi(dims + 2) = 20;
  return b;
}

// The modelled target (log y with log_target), standardised to zero mean and unit variance.
struct Standardised {
  double shift = 0, scale = 1;
  Eigen::VectorXd z;
};

Result<Standardised> Standardise(const Eigen::VectorXd& y, bool log_target) {
  Eigen::VectorXd t = y;
  if (log_target) {
    if (!(y.minCoeff() > 0)) {
      return Status::InvalidArgument("gp: y must be > 0 with log_target (it is log-transformed)");
    }
    t = y.array().log();
  }
  Standardised out;
  out.shift = t.mean();
  const double sd = std::sqrt((t.array() - out.shift).square().mean());
  // A constant target has no spread to standardise by; unit scale keeps z = 0 well defined.
  out.scale = sd > 1e-12 * std::max(1.0, std::abs(out.shift)) ? sd : 1.0;
  out.z = (t.array() - out.shift) / out.scale;
  return out;
}

LbfgsOptions SearchOptions(const GpOptions& options) {
  LbfgsOptions lbfgs;
  lbfgs.max_iterations = options.max_iterations;
  lbfgs.early_stop = options.early_stop;
  // The factorisation's rounding makes the likelihood noisy at the last digits; asking for
  // less decrease than 1e-9 per point spends line searches on that noise, not on the fit.
  lbfgs.relative_tolerance = 1e-9;
  lbfgs.max_line_search = 20;
  return lbfgs;
}

}  // namespace

Result<GaussianProcess> GaussianProcess::Fit(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                                             const GpOptions& options) {
  if (options.restarts < 1 || options.max_iterations < 0) {
    return Status::InvalidArgument("gp: restarts must be >= 1 and max_iterations >= 0");
  }
  if (X.rows() == 0 || X.cols() == 0) return Status::InvalidArgument("gp: no training points");
  if (X.rows() != y.size()) {
    return Status::InvalidArgument("gp: X has " + std::to_string(X.rows()) + " rows but y has " +
                                   std::to_string(y.size()) + " values");
  }
  WF_RETURN_IF_ERROR(CheckFinite(y, "y"));
  GaussianProcess gp;
  gp.options_ = options;
  WF_ASSIGN_OR_RETURN(gp.X_, gp.Transform(X, "X"));
  WF_ASSIGN_OR_RETURN(const Standardised target, Standardise(y, options.log_target));
  gp.y_shift_ = target.shift;
  gp.y_scale_ = target.scale;
  gp.z_ = target.z;
  const Eigen::Index n = gp.X_.rows(), dims = gp.X_.cols();

  const HyperBox box = StartAndBounds(gp.X_);
  const Eigen::VectorXd& theta0 = box.start;
  const Eigen::VectorXd& lo = box.lo;
  const Eigen::VectorXd& hi = box.hi;

  // The optimiser minimises −LML / n (per-point scale makes its tolerances independent of
  // n) over unconstrained u with θ = lo + (hi − lo) · logistic(u). The bounds are needed:
  // a smooth trend (energy rising as a power of the widths) pulls the signal variance and
  // the length scales towards infinity. Mapping them into the box, rather than walling it
  // off with an infinite objective, keeps the line search from backtracking at every step
  // once a parameter reaches a bound. The line search asks for values, then the gradient
  // at the accepted point: the last factorisation is kept for that second call.
  const Eigen::ArrayXd width = hi - lo;
  auto to_theta = [&](const Eigen::VectorXd& u) -> Eigen::VectorXd {
    return lo.array() + width / (1.0 + (-u.array()).exp());
  };
  auto to_u = [&](const Eigen::VectorXd& theta) -> Eigen::VectorXd {
    const Eigen::ArrayXd q = ((theta - lo).array() / width).max(1e-6).min(1 - 1e-6);
    return (q / (1 - q)).log();
  };
  const Eigen::MatrixXd& Xt = gp.X_;
  const Eigen::VectorXd& z = gp.z_;
  Eigen::VectorXd cached_u;
  Result<Factor> cached = Status::Internal("gp: nothing cached");
  LbfgsObjective objective = [&](const Eigen::VectorXd& u, Eigen::VectorXd* grad) {
    const Eigen::VectorXd theta = to_theta(u);
    if (!(cached.ok() && cached_u.size() == u.size() && cached_u == u)) {
      cached = FactorizeEscalating(Xt, z, theta);
      cached_u = u;
    }
    if (!cached.ok()) return std::numeric_limits<double>::infinity();
    if (grad != nullptr) {
      const Eigen::ArrayXd sig = 1.0 / (1.0 + (-u.array()).exp());
      *grad = (-Gradient(Xt, theta, *cached).array() / double(n) * width * sig * (1 - sig))
                  .matrix();
    }
    return -cached->lml / double(n);
  };

  const LbfgsOptions lbfgs = SearchOptions(options);
  Rng rng(options.seed);
  Eigen::VectorXd best;
  double best_f = std::numeric_limits<double>::infinity();
  for (int s = 0; s < options.restarts; ++s) {
    Eigen::VectorXd start = theta0;
    if (s > 0) {
      for (Eigen::Index d = 0; d < dims; ++d) start(d) += rng.Normal();
      start(dims) = rng.Normal();
      start(dims + 1) = std::log(1e-6) + rng.Uniform() * (std::log(0.5) - std::log(1e-6));
      start(dims + 2) = 0.5 * rng.Normal();
    }
    const Eigen::VectorXd u0 = to_u(start);
    if (s == 0) {
      // Evaluated before the run so that the run's first call finds it cached.
      gp.info_.initial_log_marginal_likelihood =
          -objective(u0, nullptr) * double(n) - double(n) * std::log(gp.y_scale_);
    }
    auto run = MinimizeLbfgs(objective, u0, lbfgs);
    if (!run.ok()) continue;  // no finite likelihood at this start
    ++gp.info_.starts;
    gp.info_.iterations += run->iterations;
    gp.info_.evaluations += run->evaluations;
    if (run->f < best_f) {
      best_f = run->f;
      best = to_theta(run->x);
    }
  }
  if (gp.info_.starts == 0) {
    return Status::Internal("gp: the likelihood could not be evaluated at any start");
  }

  gp.theta_ = best;
  WF_ASSIGN_OR_RETURN(Factor f, FactorizeEscalating(gp.X_, gp.z_, gp.theta_));
  gp.jitter_ = f.jitter;
  gp.llt_ = std::move(f.llt);
  gp.alpha_ = std::move(f.alpha);
  // Standardising divided the density of y by y_scale^n.
  gp.lml_ = f.lml - double(n) * std::log(gp.y_scale_);
  return gp;
}

Status GaussianProcess::Factorize() {
  WF_ASSIGN_OR_RETURN(Factor f, FactorizeWithJitter(X_, z_, theta_, jitter_));
  llt_ = std::move(f.llt);
  alpha_ = std::move(f.alpha);
  return Status::OK();
}

Eigen::VectorXd GaussianProcess::length_scales() const {
  return theta_.head(X_.cols()).array().exp();
}
double GaussianProcess::signal_variance() const {
  return std::exp(theta_(X_.cols())) * y_scale_ * y_scale_;
}
double GaussianProcess::noise_variance() const {
  return NoiseVariance(theta_) * y_scale_ * y_scale_;
}
double GaussianProcess::mean() const { return y_shift_ + y_scale_ * theta_(X_.cols() + 2); }

Result<GpEnvelope> GaussianProcess::Envelope(const Eigen::RowVectorXd& x) const {
  if (x.cols() != X_.cols()) {
    return Status::InvalidArgument("gp: a candidate has " + std::to_string(x.cols()) +
                                   " columns, the model " + std::to_string(X_.cols()));
  }
  WF_ASSIGN_OR_RETURN(Eigen::MatrixXd t, Transform(Eigen::MatrixXd(x), "candidate"));
  GpEnvelope e{std::numeric_limits<double>::quiet_NaN(),
               std::numeric_limits<double>::quiet_NaN()};
  // A measurement's own noise bounds nothing: each is taken two fitted noise deviations
  // towards the candidate's side.
  const double margin = 2 * std::sqrt(noise_variance());
  auto target = [&](double modelled) {
    return options_.log_target ? std::exp(modelled) : modelled;
  };
  // The transforms are increasing, so comparing transformed inputs compares the inputs.
  for (Eigen::Index i = 0; i < X_.rows(); ++i) {
    const bool below = (X_.row(i).array() <= t.row(0).array()).all();
    const bool above = (X_.row(i).array() >= t.row(0).array()).all();
    const double modelled = y_shift_ + y_scale_ * z_(i);
    if (const double y = target(modelled - margin); below && !(e.low >= y)) e.low = y;
    if (const double y = target(modelled + margin); above && !(e.high <= y)) e.high = y;
  }
  return e;
}

Result<GpPrediction> GaussianProcess::Predict(const Eigen::MatrixXd& Xstar) const {
  if (Xstar.cols() != X_.cols()) {
    return Status::InvalidArgument("gp: candidates have " + std::to_string(Xstar.cols()) +
                                   " columns, the model " + std::to_string(X_.cols()));
  }
  WF_ASSIGN_OR_RETURN(Eigen::MatrixXd T, Transform(Xstar, "candidates"));
  const Eigen::Index m = T.rows(), dims = X_.cols();
  const Eigen::VectorXd ls = length_scales();
  const double sf2 = std::exp(theta_(dims));
  const double mu0 = theta_(dims + 2);
  const double noise = NoiseVariance(theta_);
  GpPrediction p;
  p.mean.resize(m);
  p.variance.resize(m);
  p.noisy_variance.resize(m);
  p.median.resize(m);
  for (Eigen::Index start = 0; start < m; start += kPredictBlock) {
    const Eigen::Index c = std::min(kPredictBlock, m - start);
    Eigen::MatrixXd Ks = Matern52Kernel(X_, T.middleRows(start, c), ls, sf2);  // n × c
    const Eigen::VectorXd mz = (Ks.transpose() * alpha_).array() + mu0;
    llt_.matrixL().solveInPlace(Ks);  // V = L⁻¹ k*, var = σ_f² − ‖V‖²
    const Eigen::VectorXd vz =
        (sf2 - Ks.colwise().squaredNorm().transpose().array()).cwiseMax(0.0);
    const double s2 = y_scale_ * y_scale_;
    for (Eigen::Index i = 0; i < c; ++i) {
      const double mu = y_shift_ + y_scale_ * mz(i);
      const double v = s2 * vz(i);
      const double vn = s2 * (vz(i) + noise);
      const Eigen::Index k = start + i;
      if (options_.log_target) {
        // Log-normal moments of exp(f) and of a new measurement exp(f + ε).
        p.mean(k) = std::exp(mu + 0.5 * v);
        p.variance(k) = std::expm1(v) * std::exp(2 * mu + v);
        p.noisy_variance(k) = std::expm1(vn) * std::exp(2 * mu + vn);
        p.median(k) = std::exp(mu);
      } else {
        p.mean(k) = mu;
        p.median(k) = mu;
        p.variance(k) = v;
        p.noisy_variance(k) = vn;
      }
    }
  }
  return p;
}

Result<Eigen::MatrixXd> GaussianProcess::LatentCovariance(const Eigen::MatrixXd& A,
                                                          const Eigen::MatrixXd& B) const {
  if (A.cols() != X_.cols() || B.cols() != X_.cols()) {
    return Status::InvalidArgument("gp: covariance inputs need " + std::to_string(X_.cols()) +
                                   " columns");
  }
  WF_ASSIGN_OR_RETURN(Eigen::MatrixXd TA, Transform(A, "covariance inputs"));
  WF_ASSIGN_OR_RETURN(Eigen::MatrixXd TB, Transform(B, "covariance inputs"));
  const Eigen::Index dims = X_.cols();
  const Eigen::VectorXd ls = length_scales();
  const double sf2 = std::exp(theta_(dims));
  // k(a, b) − v_aᵀ v_b with v = L⁻¹ k(X, ·): the prior covariance less what the training
  // points already explain, in standardised units, then scaled back.
  Eigen::MatrixXd VA = Matern52Kernel(X_, TA, ls, sf2);
  Eigen::MatrixXd VB = Matern52Kernel(X_, TB, ls, sf2);
  llt_.matrixL().solveInPlace(VA);
  llt_.matrixL().solveInPlace(VB);
  const Eigen::MatrixXd cov = Matern52Kernel(TA, TB, ls, sf2) - VA.transpose() * VB;
  return Eigen::MatrixXd(cov * (y_scale_ * y_scale_));
}

Result<size_t> MostUncertain(const GaussianProcess& gp, const Eigen::MatrixXd& candidates,
                             bool relative) {
  if (candidates.rows() == 0) return Status::InvalidArgument("gp: no candidates");
  WF_ASSIGN_OR_RETURN(GpPrediction p, gp.Predict(candidates));
  size_t best = 0;
  double best_score = -1;
  for (Eigen::Index i = 0; i < candidates.rows(); ++i) {
    const double sd = std::sqrt(p.variance(i));
    // A zero mean makes the relative std infinite: the model knows nothing relative to it.
    const double score = relative ? sd / std::abs(p.mean(i)) : sd;
    const double s = std::isnan(score) ? 0.0 : score;
    if (s > best_score) {
      best_score = s;
      best = static_cast<size_t>(i);
    }
  }
  return best;
}

Result<double> MaxRelativeStd(const GaussianProcess& gp, const Eigen::MatrixXd& candidates) {
  if (candidates.rows() == 0) return Status::InvalidArgument("gp: no candidates");
  WF_ASSIGN_OR_RETURN(GpPrediction p, gp.Predict(candidates));
  double worst = 0;
  for (Eigen::Index i = 0; i < candidates.rows(); ++i) {
    const double r = std::sqrt(p.variance(i)) / std::abs(p.mean(i));
    if (!std::isnan(r)) worst = std::max(worst, r);
  }
  return worst;
}

namespace {
constexpr const char* kJsonFormat = "wattfleet-gaussian-process";
constexpr int kJsonVersion = 1;

// Doubles are written by nlohmann-json in their shortest round-trip form, so the stored
// numbers are the model's bits; non-finite ones (only a failed initial likelihood) as null.
nlohmann::json Number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }
double NumberOr(const nlohmann::json& j, double if_null) {
  return j.is_null() ? if_null : j.get<double>();
}
}  // namespace

std::string GaussianProcess::ToJson() const {
  nlohmann::json j;
  j["format"] = kJsonFormat;
  j["version"] = kJsonVersion;
  j["options"] = {{"log_inputs", options_.log_inputs},   {"log_target", options_.log_target},
                  {"restarts", options_.restarts},       {"max_iterations", options_.max_iterations},
                  {"seed", options_.seed},               {"early_stop", options_.early_stop}};
  nlohmann::json rows = nlohmann::json::array();
  for (Eigen::Index i = 0; i < X_.rows(); ++i) {
    std::vector<double> row(static_cast<size_t>(X_.cols()));
    for (Eigen::Index d = 0; d < X_.cols(); ++d) row[static_cast<size_t>(d)] = X_(i, d);
    rows.push_back(std::move(row));
  }
  j["x"] = std::move(rows);
  j["z"] = std::vector<double>(z_.data(), z_.data() + z_.size());
  j["y_shift"] = y_shift_;
  j["y_scale"] = y_scale_;
  j["theta"] = std::vector<double>(theta_.data(), theta_.data() + theta_.size());
  j["jitter"] = jitter_;
  j["log_marginal_likelihood"] = lml_;
  j["fit"] = {{"initial_log_marginal_likelihood", Number(info_.initial_log_marginal_likelihood)},
              {"starts", info_.starts},
              {"iterations", info_.iterations},
              {"evaluations", info_.evaluations}};
  return j.dump();
}

Result<GaussianProcess> GaussianProcess::FromJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("gp json: not JSON");
  GaussianProcess gp;
  try {
    if (j.at("format").get<std::string>() != kJsonFormat) {
      return Status::Corruption("gp json: format is not " + std::string(kJsonFormat));
    }
    if (j.at("version").get<int>() != kJsonVersion) {
      return Status::Corruption("gp json: unsupported version " + j.at("version").dump());
    }
    const auto& o = j.at("options");
    gp.options_.log_inputs = o.at("log_inputs").get<bool>();
    gp.options_.log_target = o.at("log_target").get<bool>();
    gp.options_.restarts = o.at("restarts").get<int>();
    gp.options_.max_iterations = o.at("max_iterations").get<int>();
    gp.options_.seed = o.at("seed").get<uint64_t>();
    gp.options_.early_stop = o.at("early_stop").get<bool>();
    const auto& rows = j.at("x");
    if (!rows.is_array() || rows.empty() || !rows[0].is_array() || rows[0].empty()) {
      return Status::Corruption("gp json: x must be a non-empty array of non-empty rows");
    }
    const size_t n = rows.size(), dims = rows[0].size();
    gp.X_.resize(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dims));
    for (size_t i = 0; i < n; ++i) {
      const auto row = rows[i].get<std::vector<double>>();
      if (row.size() != dims) return Status::Corruption("gp json: ragged x");
      for (size_t d = 0; d < dims; ++d) {
        gp.X_(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(d)) = row[d];
      }
    }
    const auto z = j.at("z").get<std::vector<double>>();
    const auto theta = j.at("theta").get<std::vector<double>>();
    if (z.size() != n || theta.size() != static_cast<size_t>(GpParameterCount(int(dims)))) {
      return Status::Corruption("gp json: sizes of x, z and theta do not agree");
    }
    gp.z_ = Eigen::Map<const Eigen::VectorXd>(z.data(), static_cast<Eigen::Index>(n));
    gp.theta_ = Eigen::Map<const Eigen::VectorXd>(theta.data(),
                                                  static_cast<Eigen::Index>(theta.size()));
    gp.y_shift_ = j.at("y_shift").get<double>();
    gp.y_scale_ = j.at("y_scale").get<double>();
    gp.jitter_ = j.at("jitter").get<double>();
    gp.lml_ = j.at("log_marginal_likelihood").get<double>();
    const auto& fit = j.at("fit");
    gp.info_.initial_log_marginal_likelihood =
        NumberOr(fit.at("initial_log_marginal_likelihood"),
                 -std::numeric_limits<double>::infinity());
    gp.info_.starts = fit.at("starts").get<int>();
    gp.info_.iterations = fit.at("iterations").get<int>();
    gp.info_.evaluations = fit.at("evaluations").get<int>();
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("gp json: ") + e.what());
  }
  if (!gp.X_.allFinite() || !gp.z_.allFinite() || !gp.theta_.allFinite() ||
      !std::isfinite(gp.y_shift_) || !(gp.y_scale_ > 0) || !std::isfinite(gp.y_scale_) ||
      !(gp.jitter_ >= 0)) {
    return Status::Corruption("gp json: non-finite or out-of-range values");
  }
  Status s = gp.Factorize();
  if (!s.ok()) return Status::Corruption("gp json: " + s.message());
  return gp;
}

}  // namespace wattfleet
