// THOR's model of one layer kind on one device (ESTIMATORS.md section 1): three Gaussian
// processes, E_out(C), E_in(C_1) and E_hid(C_{i-1}, C_i), fitted from the kind's probe
// measurements by differencing, and the sum that predicts a network of the kind.
//
//   output probes (the output layer alone, reading C)      -> samples of E_out(C)
//   input probes (input C0 -> C_1, then the output layer)  -> E_in(C_1) = y - Ê_out(C_1)
//   hidden probes (input, hidden C_1 -> C_2, output)       -> E_hid(C_1, C_2)
//                                                             = y - Ê_in(C_1) - Ê_out(C_2)
//
// Each GP is Matérn 5/2 with one length scale per input, inputs (widths) on a log scale
// (gaussian_process.h), and log energy as its target when every sample of the role is
// positive (else energy itself): costs grow as products of widths, which in log-log space is
// a smooth stationary surface. Prediction sums the GP means and their latent variances (the
// log-normal moments, for log targets); the variance of the subtracted Ê terms is not propagated into the differenced
// samples (THOR does the same): the GPs' learned noise absorbs it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "gaussian_process.h"
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
// posterior std of the component it samples (E_out, E_in or E_hid at its widths).
struct ProbeUncertainty {
  double predicted = 0;
  double component_std = 0;
  double Relative() const;  // component_std / |predicted|; infinite for a zero prediction
};

class ThorKindModel {
 public:
  // Unavailable when a role has too few distinct widths (output and input: 2, hidden: 3)
  // or a GP cannot be fitted; the message says which.
  static Result<ThorKindModel> Fit(const std::vector<ThorProbe>& probes,
                                   const GpOptions& options = {});

  // A network of the kind with widths C_1 … C_{n-1} (at least one).
  Result<ThorPrediction> Predict(const std::vector<int64_t>& widths) const;
  Result<ProbeUncertainty> Uncertainty(ProbeRole role, const std::vector<int64_t>& widths) const;

  nlohmann::json ToJson() const;
  static Result<ThorKindModel> FromJson(const nlohmann::json& j);

 private:
  ThorKindModel() = default;
  std::optional<GaussianProcess> out_, in_, hidden_;
};

}  // namespace wattfleet
