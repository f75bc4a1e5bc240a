// STEP, stable training epoch projection (del Rey et al., docs/design/estimators.md section 4): from the
// per-iteration energies (or times) of the start of a training run, find the iteration s
// where the series becomes stable, average w iterations after it, and project the total of
// the whole run of N iterations:
//
//   Ê_total = E_before_s + (E_window / w) · (N − s)
//
// The stable point comes from a change-point test on the mean (binary segmentation with a
// penalised Gaussian cost, noise scale estimated robustly); step_projection.cc says why.
#pragma once

#include <cstdint>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

// Fewer iterations than this cannot show a transient and a stable phase apart.
constexpr int64_t kStepMinIterations = 10;

struct StepOptions {
  int64_t window = 0;  // w: iterations averaged after s; 0 = all measured after s
  // Penalty per change point, in units of the noise variance, is penalty_factor · ln n.
  double penalty_factor = 3.0;
};

struct StepResult {
  int64_t change_point = 0;  // s: the first iteration of the stable phase (0-based)
  int64_t window = 0;        // w actually used (at most the iterations measured after s)
  int64_t iterations = 0;    // N
  int64_t series_length = 0;
  double energy_before = 0;  // E_before_s: sum of the iterations before s
  double window_mean = 0;    // E_window / w
  double window_std = 0;     // per-iteration standard deviation in the window
  double projected_total = 0;
  double projected_total_std = 0;
  double noise_sigma = 0;              // robust per-iteration noise scale of the series
  std::vector<int64_t> change_points;  // every change point the test found, ascending
};

// Robust noise scale: the median absolute deviation of first differences, / (0.6745 · √2).
// Differencing removes the level, so the transient and level shifts barely move it.
double RobustNoiseSigma(const std::vector<double>& x);

// Change points of the mean of `x` by binary segmentation with the Gaussian cost
// Σ (x − mean)² / sigma² per segment: a segment is split where the cost drops most, when it
// drops by more than `penalty`. The start indices of every segment but the first, ascending.
std::vector<int64_t> MeanChangePoints(const std::vector<double>& x, double sigma,
                                      double penalty);

// The projection. InvalidArgument for fewer than kStepMinIterations values, a non-finite
// value, N smaller than the series, or a negative window.
Result<StepResult> ProjectStep(const std::vector<double>& series, int64_t total_iterations,
                               const StepOptions& options = {});

}  // namespace wattfleet
