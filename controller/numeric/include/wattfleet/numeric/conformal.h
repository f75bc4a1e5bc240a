// Split-conformal intervals: from the absolute residuals of held-out predictions, the
// residual a new prediction stays within at a stated level, whatever the residuals'
// distribution (the points only need to be exchangeable).
#pragma once

#include <vector>

namespace wattfleet {

// The ceil(level · (n + 1))-th smallest residual; +∞ when n points are too few to state
// `level` (fewer than 9 for 90 %), -1 for no point at all.
double ConformalQuantile(std::vector<double> residuals, double level);

}  // namespace wattfleet
