// Gaussian-process regression: the core of the THOR estimator (docs/design/estimators.md section 1).
//
// Model: y = f(x) + ε with f ~ GP(m, k), k the Matérn ν = 5/2 kernel with one length scale
// per input dimension (ARD),
//
//     k(x, x') = σ_f² (1 + √5 r + 5 r²/3) exp(−√5 r),   r² = Σ_d (x_d − x'_d)² / ℓ_d²,
//
// a constant mean m and Gaussian noise ε ~ N(0, σ_n²). The hyper-parameters (log ℓ_d,
// log σ_f², log σ_n², m) maximise the log marginal likelihood, with its analytic gradient,
// by L-BFGS from several deterministic starts; m is learned with the others rather than set
// to its closed-form GLS value, which keeps one objective for all of them.
//
// What THOR uses: inputs on a log scale (`log_inputs`, the default: widths of 8 and 16
// channels are as far apart as 512 and 1024) and, whenever every sample is positive, the
// target on a log scale too (`log_target`, set by thor_model.cc's FitRole): probe energies
// span decades and their errors are relative. Predictions are converted back with the
// log-normal moments, so a network's prediction still sums the moments of energy itself.
// The default here is the linear target (`log_target = false`).
//
// Internally the target is standardised (zero mean, unit variance) so that one set of
// starting points and bounds suits every unit; the accessors report the hyper-parameters in
// the modelled target's units (log units when `log_target`).
#pragma once

#include <Eigen/Core>
#include <Eigen/Cholesky>

#include <cstddef>
#include <cstdint>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct GpOptions {
  bool log_inputs = true;   // x -> log(x) before the kernel; inputs must then be > 0
  bool log_target = false;  // model log(y); targets must then be > 0
  int restarts = 4;         // optimiser starts: a data-driven one, then seeded perturbations
  int max_iterations = 200; // L-BFGS iterations per start
  uint64_t seed = 1;
  // False: every start runs max_iterations (unless its line search fails); for benchmarks.
  bool early_stop = true;
};

struct GpPrediction {
  Eigen::VectorXd mean;            // posterior mean of f, target units
  Eigen::VectorXd variance;        // posterior variance of f: what more data can reduce
  Eigen::VectorXd noisy_variance;  // variance of a new measurement: f's plus the noise
  // The posterior median of f, target units: the mean where the target is modelled as is;
  // exp of the modelled log's mean under log_target, where the mean, exp(μ + v/2), grows
  // without bound with the variance far from the data.
  Eigen::VectorXd median;
};

// What a quantity that never falls as its inputs grow is bound by at a point, from the
// measurements: the highest at inputs no larger in every dimension (`low`) and the lowest at
// inputs no smaller in every dimension (`high`), each widened by twice the fitted noise's
// deviation, target units; NaN where none is so placed.
struct GpEnvelope {
  double low, high;
};

// How the fit went; stored with the model.
struct GpFitInfo {
  double initial_log_marginal_likelihood = 0;  // at the data-driven start
  int starts = 0;                              // starts whose optimisation ran
  int iterations = 0;                          // L-BFGS iterations, all starts
  int evaluations = 0;                         // likelihood evaluations, all starts
};

// The Matérn 5/2 correlation at scaled distance r >= 0: (1 + √5 r + 5 r²/3) exp(−√5 r).
double Matern52(double r);

// Cross-covariance between the rows of A and B (already transformed: no log here).
Eigen::MatrixXd Matern52Kernel(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B,
                               const Eigen::VectorXd& length_scales, double signal_variance);

// Number of hyper-parameters for d input dimensions: θ = [log ℓ_1 … log ℓ_d, log σ_f²,
// log σ_n², m].
inline int GpParameterCount(int dims) { return dims + 3; }

// The fit's objective, exposed for tests: log marginal likelihood of y at θ, on X and y as
// given (no log, no standardisation), and its gradient with respect to θ when `grad` is
// non-null. The noise variance is exp(θ_n) plus a floor of 1e-9 (the fit standardises y, so
// the floor is relative to the data's spread). Cholesky failures are retried with growing
// jitter; Internal when even the largest fails.
Result<double> GpLogMarginalLikelihood(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                                       const Eigen::VectorXd& theta, Eigen::VectorXd* grad);

class GaussianProcess {
 public:
  // InvalidArgument for empty or mismatched inputs, non-finite values, non-positive values
  // under a log option, or options out of range; Internal when no start could be optimised.
  static Result<GaussianProcess> Fit(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                                     const GpOptions& options = {});

  // One row per candidate, in the same (untransformed) units as Fit's X. InvalidArgument for
  // a wrong column count or values the input transform cannot take.
  Result<GpPrediction> Predict(const Eigen::MatrixXd& Xstar) const;

  // Posterior covariance of the latent f between the rows of A and of B (untransformed
  // inputs), in the modelled target's units (of log y when log_target): what a design
  // criterion needs to know how much measuring at B would tell about A. Same errors as
  // Predict.
  Result<Eigen::MatrixXd> LatentCovariance(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B) const;

  // The training targets around one candidate (a row, untransformed inputs), GpEnvelope.
  // Same errors as Predict.
  Result<GpEnvelope> Envelope(const Eigen::RowVectorXd& x) const;

  // In the modelled target's units (of log y when log_target).
  double log_marginal_likelihood() const { return lml_; }
  Eigen::VectorXd length_scales() const;  // in transformed input units (log units by default)
  double signal_variance() const;
  double noise_variance() const;
  double mean() const;
  double jitter() const { return jitter_; }  // added to the diagonal; 0 unless needed
  const GpOptions& options() const { return options_; }
  const GpFitInfo& fit_info() const { return info_; }
  int dims() const { return static_cast<int>(X_.cols()); }
  size_t size() const { return static_cast<size_t>(X_.rows()); }

  // Everything needed to predict: training inputs (transformed), standardised targets,
  // hyper-parameters. FromJson refactorises and reproduces Predict bit for bit.
  std::string ToJson() const;
  // Corruption for malformed or inconsistent documents.
  static Result<GaussianProcess> FromJson(const std::string& json);

 private:
  GaussianProcess() = default;
  Status Factorize();  // llt_ and alpha_ from X_, z_, theta_, jitter_
  Result<Eigen::MatrixXd> Transform(const Eigen::MatrixXd& X, const char* what) const;

  GpOptions options_;
  Eigen::MatrixXd X_;        // transformed training inputs
  Eigen::VectorXd z_;        // standardised (and possibly logged) targets
  double y_shift_ = 0;       // modelled target = y_shift_ + y_scale_ * z
  double y_scale_ = 1;
  Eigen::VectorXd theta_;    // standardised units; layout of GpParameterCount
  double jitter_ = 0;
  double lml_ = 0;
  GpFitInfo info_;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  Eigen::VectorXd alpha_;    // K^{-1} (z - m)
};

// Active learning. Scores use the latent variance (measuring again cannot remove noise).
// relative: std / |mean| (THOR's rule: energies span decades); otherwise the absolute std.
// Returns the index of the highest score, the first on ties. InvalidArgument for no
// candidates or those Predict refuses.
Result<size_t> MostUncertain(const GaussianProcess& gp, const Eigen::MatrixXd& candidates,
                             bool relative = true);
// max over candidates of std / |mean|, to compare with a campaign's `target_rel_std`.
Result<double> MaxRelativeStd(const GaussianProcess& gp, const Eigen::MatrixXd& candidates);

}  // namespace wattfleet
