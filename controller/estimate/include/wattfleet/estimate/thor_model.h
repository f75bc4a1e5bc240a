// THOR's model of one layer kind on one device (docs/design/estimators.md section 1): E_out(C),
// E_in(C_1) and E_hid(C_{i-1}, C_i) from the kind's probe measurements, and the sum that
// predicts a network of the kind.
//
// docs/design/estimators.md differences the samples (E_in = y_in − Ê_out, E_hid = y_hid − Ê_in − Ê_out)
// and fits a GP to each difference. Here one GP is fitted to each probe's own measured
// energy (P_out(C), P_in(C_1), P_hid(C_1, C_2)) and the differencing is done on the GPs'
// predictions:
//
//   E_out(C) = P_out(C),  E_in(C) = P_in(C) − P_out(C),
//   E_hid(a, b) = P_hid(a, b) − P_in(a) + P_out(a) − P_out(b).
//
// Both give the same components where the probes are dense; they differ where they are
// sparse, which is where active profiling works. A differenced E_hid sample is a small
// difference of large probe energies (at narrow hidden layers the input layer dominates), so
// its GP is fitted to noise amplified by the subtraction and moves from fit to fit; measured
// probe energies are positive and smooth in the widths. On the CPU campaigns this form
// matched the differencing form on a uniform grid and let active profiling reach the grid's
// error with a third of its probes, which the differencing form did not (bench/RESULTS.md).
//
// Each GP is Matérn 5/2 with one length scale per input, widths on a log scale and log energy
// as its target (costs grow as products of widths: a smooth stationary surface in log-log
// space), falling back to energy itself if a sample is not positive. A prediction sums the
// parts' means; its variance sums the terms' variances.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/numeric/gaussian_process.h"
#include "wattfleet/common/probe.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ThorProbe {
  ProbeRole role = ProbeRole::kOutput;
  std::vector<int64_t> widths;  // {C} for output and input probes, {C1, C2} for hidden ones
  double value = 0;             // measured energy (or time) per iteration
};

struct ThorPrediction {
  double mean = 0;
  double variance = 0;
  // E_in(C_1), E_hid(C_1, C_2), …, E_out(C_{n-1}): one part per layer of the chain.
  std::vector<double> parts;
};

// What measuring one more probe would tell: the predicted value of the probe itself and the
// posterior std of its GP there.
struct ProbeUncertainty {
  double predicted = 0;
  double component_std = 0;
  double Relative() const;  // component_std / |predicted|; infinite for a zero prediction
};

// One probe value in a chain's prediction. Predict's parts telescope: a chain's total is
// Σ coef · P_role(widths) over a few probe values (a constant-width chain of depth d is
// (d − 1)·P_hid(C, C) − (d − 2)·P_in(C)).
struct ThorTerm {
  ProbeRole role = ProbeRole::kOutput;
  std::vector<int64_t> widths;
  double coef = 0;
};
// The chain C_1 … C_{n-1} (at least one width) as probe values, like terms merged and zero
// coefficients dropped, in ProbeRole then widths order.
std::vector<ThorTerm> ThorTerms(const std::vector<int64_t>& widths);

class ThorKindModel {
 public:
  // Unavailable when a role has too few distinct widths (output and input: 2, hidden: 3)
  // or a GP cannot be fitted; the message says which.
  static Result<ThorKindModel> Fit(const std::vector<ThorProbe>& probes,
                                   const GpOptions& options = {});

  // A network of the kind with widths C_1 … C_{n-1} (at least one).
  Result<ThorPrediction> Predict(const std::vector<int64_t>& widths) const;
  Result<ProbeUncertainty> Uncertainty(ProbeRole role, const std::vector<int64_t>& widths) const;

  // Active profiling aimed at the networks a campaign wants predicted:
  // the relative posterior std of a chain's total, with the covariance within each GP;
  Result<double> ChainRelativeStd(const std::vector<int64_t>& chain) const;
  // and, for each row x of `probes` (widths of probes of one role), the expected fall of that
  // relative variance if the probe were measured: (Σ_t c_t s_t cov(t, x))² / (var(x) + noise)
  // / total², over the chain's terms t of the probe's role, with s_t the term's value where
  // the GP models log energy (so that covariances are absolute) and 1 where it models energy
  // itself.
  Result<Eigen::VectorXd> ChainVarianceReduction(const std::vector<int64_t>& chain,
                                                 ProbeRole role,
                                                 const Eigen::MatrixXd& probes) const;

  nlohmann::json ToJson() const;
  static Result<ThorKindModel> FromJson(const nlohmann::json& j);

 private:
  ThorKindModel() = default;
  const GaussianProcess& Gp(ProbeRole role) const;
  std::optional<GaussianProcess> out_, in_, hidden_;
};

}  // namespace wattfleet
