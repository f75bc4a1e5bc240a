// The power-law hardware-efficiency estimator (docs/design/estimators.md section 3, Mayaki & Charpenay):
//
//   η(c) = η_max · (1 − exp(−k · c^α))     c in TFLOP, η in % of the device's peak
//   t̂    = c / (v_max · η(c))             predicted duration of one operation
//   E     ≈ h_0 + Σ_o h_o · t̂_o           energy as a linear combination of durations
//
// The curve is fitted per operation type and device by Levenberg–Marquardt (Eigen) from
// several starting points; the energy model by linear least squares. Pure computation: no
// I/O, no store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct PowerLawParams {
  double eta_max = 0;  // %, in (0, 100]
  double k = 0;        // > 0
  double alpha = 0;    // > 0
  // η in % at a cost of `c_tflop` TFLOP.
  double Eta(double c_tflop) const;
};

// One starting point of the curve fit and what Levenberg–Marquardt made of it.
struct CurveStart {
  std::string label;  // "grid a=0.5 k=1", "log-linear", "naive"
  PowerLawParams start;
  // LM's convergence test passed and the end is a proper curve (α > 0.001, η at the
  // smallest cost below 99 % of η_max), not a constant.
  bool converged = false;
  int lm_status = 0;  // Eigen::LevenbergMarquardtSpace::Status
  double sse = 0;     // sum of squared residuals (%²) at the end
  PowerLawParams end;
};

struct CurveFit {
  PowerLawParams params;  // of the best converged start
  bool converged = false;  // at least one start converged
  double rmse = 0;        // % points
  int64_t n = 0;
  std::vector<CurveStart> starts;  // every start tried, in order
};

// Fits η(c) to points (c_i in TFLOP, η_i in %). Bounds by reparametrisation: η_max = 100 ·
// sigmoid(u), k = exp(v), α = exp(w). Starts: a grid over α and k (k placed so that the
// curve bends inside the data's range of c), a start from a log-linear fit of the rising
// part, and the naive start (η_max = 1 %, k = 1, α = 1: every parameter 1). Points with c ≤ 0 or η ≤ 0 are left out; fewer
// than four remaining points is InvalidArgument.
Result<CurveFit> FitEfficiencyCurve(const std::vector<double>& c_tflop,
                                    const std::vector<double>& eta_percent);

// One start only (exposed so that tests and logs can show which starts converge).
CurveStart FitFromStart(const std::vector<double>& c_tflop,
                        const std::vector<double>& eta_percent, const std::string& label,
                        const PowerLawParams& start);

// Predicted seconds of an operation of `flops` FLOPs on a device of `peak_flops` FLOP/s;
// 0 for flops ≤ 0.
double PredictedSeconds(const PowerLawParams& curve, double flops, double peak_flops);

// E = h0 + Σ h_o · x_o, by least squares.
struct LinearEnergyModel {
  double h0 = 0;
  std::vector<double> h;
  double Predict(const std::vector<double>& x) const;
};
// Rows of `x` all have the same length; at least that length + 2 rows.
Result<LinearEnergyModel> FitLinearEnergy(const std::vector<std::vector<double>>& x,
                                          const std::vector<double>& y);

// Error figures of predictions (APE in %).
struct ErrorSummary {
  int64_t n = 0;
  double r2 = 0;
  double median_ape = 0;
  double mape = 0;
  double p90_ape = 0;
};
ErrorSummary Summarise(const std::vector<double>& actual, const std::vector<double>& predicted);

// Fold index (0 .. k-1) of each row, every row of a group in the same fold; groups are dealt
// to folds in a fixed pseudo-random order so that the split does not follow the file's order.
std::vector<int> GroupedFolds(const std::vector<std::string>& groups, int k);

}  // namespace wattfleet
