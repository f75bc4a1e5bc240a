// Least squares, plain and non-negative on relative residuals: the regressions under the
// baselines, WattLayer's per-type fits and the layer cost curves.
#pragma once

#include <vector>

namespace wattfleet {

// Ordinary least squares y ~ X (columns of X as given; add a column of ones for an
// intercept). Empty when the system is rank-deficient.
std::vector<double> LeastSquares(const std::vector<std::vector<double>>& rows,
                                 const std::vector<double>& y);

// Non-negative least squares of y ~ X on relative residuals (each row divided by its y), by
// enumeration of the active set: exact for the few columns used here (at most 6). Empty when
// no subset of columns can be fitted.
std::vector<double> NonNegativeRelativeLeastSquares(const std::vector<std::vector<double>>& x,
                                                    const std::vector<double>& y);

}  // namespace wattfleet
