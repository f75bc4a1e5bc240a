#include "wattfleet/numeric/conformal.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace wattfleet {

double ConformalQuantile(std::vector<double> residuals, double level) {
  if (residuals.empty()) return -1;
  std::sort(residuals.begin(), residuals.end());
  const size_t n = residuals.size();
  const size_t rank = static_cast<size_t>(std::ceil(level * static_cast<double>(n + 1)));
  if (rank > n) return INFINITY;
  return residuals[rank - 1];
}

}  // namespace wattfleet
