// STEP: where a training run's per-iteration series becomes stable, and the projection of its
// total.
//
// Choices, and why:
// - Change points of the mean with a Gaussian cost: the warm-up of a training run (memory
//   allocation, kernel selection, caches, clocks settling) shows as iterations whose level
//   differs from the stable one; a shift of the mean is what matters to a projection of sums.
// - Binary segmentation rather than PELT: both minimise the same penalised cost, but PELT
//   prunes only where change points are dense, and a long stable phase has none, so on the
//   series STEP sees it degrades to O(n²); binary segmentation is O(n log n) and finds the
//   handful of changes of a warm-up as well.
// - The noise scale σ is the MAD of first differences: differencing removes level shifts, so
//   the transient does not inflate it, and the MAD ignores spikes (checkpoints, evaluation
//   steps, a data-loader stall).
// - Penalty 3 · ln n per change point (in units of σ²), a little above the BIC's 2 · ln n
//   (one location and one mean per change): per-iteration series are mildly autocorrelated
//   and heavy-tailed, which BIC would turn into spurious changes.
// - A significant change is not always a material one: going back from the last long
//   segment, earlier segments whose mean is within max(σ, 1 %) of its level, and short
//   bursts (at most max(2, n/100) iterations) between such segments, belong to the stable
//   phase. A level within one noise standard deviation barely moves a projection, and a
//   rare false change in a long stable phase sits just above the detection threshold, well
//   inside it. A spike in the middle of training recurs in the rest of the run, so it belongs in
//   the window's average rather than moving s past it.
#include "wattfleet/estimate/step_projection.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace wattfleet {
namespace {

constexpr double kMadToSigma = 1.0 / 0.6744897501960817;  // Φ⁻¹(0.75)

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

// Prefix sums of the centred series, for O(1) segment means and costs.
class Segments {
 public:
  explicit Segments(const std::vector<double>& x) : s1_(x.size() + 1, 0), s2_(x.size() + 1, 0) {
    double centre = 0;
    for (double v : x) centre += v;
    centre_ = x.empty() ? 0 : centre / static_cast<double>(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double v = x[i] - centre_;
      s1_[i + 1] = s1_[i] + v;
      s2_[i + 1] = s2_[i] + v * v;
    }
  }
  // Sum of squared deviations from the segment's mean over [a, b).
  double Cost(size_t a, size_t b) const {
    const double n = static_cast<double>(b - a);
    const double s = s1_[b] - s1_[a];
    return std::max(0.0, s2_[b] - s2_[a] - s * s / n);
  }
  double Mean(size_t a, size_t b) const {
    return centre_ + (s1_[b] - s1_[a]) / static_cast<double>(b - a);
  }

 private:
  double centre_ = 0;
  std::vector<double> s1_, s2_;
};

// The first iteration of the stable phase, from the segments the change points delimit.
int64_t StablePoint(const Segments& seg, const std::vector<int64_t>& change_points, size_t n,
                    double sigma) {
  std::vector<size_t> bounds{0};
  for (int64_t c : change_points) bounds.push_back(static_cast<size_t>(c));
  bounds.push_back(n);
  const size_t count = bounds.size() - 1;
  const size_t short_len = std::max<size_t>(2, n / 100);
  auto is_short = [&](size_t i) { return bounds[i + 1] - bounds[i] <= short_len; };
  auto mean = [&](size_t i) { return seg.Mean(bounds[i], bounds[i + 1]); };

  // The reference level: the last segment long enough not to be a burst.
  size_t ref = count - 1;
  while (ref > 0 && is_short(ref)) --ref;
  if (is_short(ref)) return 0;  // nothing but bursts: no phase stands out as a transient
  const double level = mean(ref);
  const double tol = std::max(sigma, 0.01 * std::fabs(level));
  auto at_level = [&](size_t i) { return std::fabs(mean(i) - level) <= tol; };

  size_t start = ref;
  while (start > 0) {
    const size_t j = start - 1;
    if (at_level(j)) {
      start = j;
      continue;
    }
    if (!is_short(j)) break;
    // A run of bursts counts as stable only between stable segments.
    size_t p = j;
    while (p > 0 && is_short(p)) --p;
    if (is_short(p) || !at_level(p)) break;
    start = p;
  }
  return static_cast<int64_t>(bounds[start]);
}

}  // namespace

double RobustNoiseSigma(const std::vector<double>& x) {
  if (x.size() < 3) return 0;
  std::vector<double> d;
  for (size_t i = 1; i < x.size(); ++i) d.push_back(x[i] - x[i - 1]);
  const double centre = Median(d);
  std::vector<double> dev;
  for (double v : d) dev.push_back(std::fabs(v - centre));
  double sigma = Median(dev) * kMadToSigma / std::sqrt(2.0);
  if (sigma > 0) return sigma;
  // Quantised series (an energy counter's steps) can have a zero MAD: the mean absolute
  // deviation, scaled for a normal distribution, is the fallback.
  double mean_abs = 0;
  for (double v : dev) mean_abs += v;
  mean_abs /= static_cast<double>(dev.size());
  constexpr double kMeanAbsToSigma = 1.2533141373155003;  // √(π/2)
  return mean_abs * kMeanAbsToSigma / std::sqrt(2.0);
}

std::vector<int64_t> MeanChangePoints(const std::vector<double>& x, double sigma,
                                      double penalty) {
  std::vector<int64_t> found;
  if (x.size() < 2 || !(sigma > 0)) return found;
  const Segments seg(x);
  const double inv_var = 1.0 / (sigma * sigma);
  std::vector<std::pair<size_t, size_t>> todo{{0, x.size()}};
  while (!todo.empty()) {
    const auto [a, b] = todo.back();
    todo.pop_back();
    if (b - a < 2) continue;
    const double whole = seg.Cost(a, b);
    double best_gain = 0;
    size_t best = 0;
    for (size_t k = a + 1; k < b; ++k) {
      const double gain = (whole - seg.Cost(a, k) - seg.Cost(k, b)) * inv_var;
      if (gain > best_gain) {
        best_gain = gain;
        best = k;
      }
    }
    if (best_gain <= penalty) continue;
    found.push_back(static_cast<int64_t>(best));
    todo.emplace_back(a, best);
    todo.emplace_back(best, b);
  }
  std::sort(found.begin(), found.end());
  return found;
}

Result<StepResult> ProjectStep(const std::vector<double>& series, int64_t total_iterations,
                               const StepOptions& options) {
  const int64_t n = static_cast<int64_t>(series.size());
  if (n < kStepMinIterations) {
    return Status::InvalidArgument("the series has " + std::to_string(n) +
                                   " iterations; STEP needs at least " +
                                   std::to_string(kStepMinIterations));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(series[static_cast<size_t>(i)])) {
      return Status::InvalidArgument("iteration " + std::to_string(i) + " is not finite");
    }
  }
  if (total_iterations < n) {
    return Status::InvalidArgument("the run's " + std::to_string(total_iterations) +
                                   " iterations are fewer than the series' " +
                                   std::to_string(n));
  }
  if (options.window < 0) return Status::InvalidArgument("the window must not be negative");

  StepResult r;
  r.iterations = total_iterations;
  r.series_length = n;
  double sigma = RobustNoiseSigma(series);
  if (!(sigma > 0)) {
    // A constant series (or one that is constant but for a few steps): any level shift is
    // certain, so the scale only has to be tiny next to the values.
    double largest = 0;
    for (double v : series) largest = std::max(largest, std::fabs(v));
    sigma = std::max(largest * 1e-9, 1e-300);
  }
  r.noise_sigma = sigma;
  const Segments seg(series);
  r.change_points =
      MeanChangePoints(series, sigma, options.penalty_factor * std::log(static_cast<double>(n)));
  r.change_point = StablePoint(seg, r.change_points, series.size(), sigma);

  const int64_t s = r.change_point;
  r.window = options.window > 0 ? std::min(options.window, n - s) : n - s;
  const size_t w0 = static_cast<size_t>(s), w1 = static_cast<size_t>(s + r.window);
  for (size_t i = 0; i < w0; ++i) r.energy_before += series[i];
  r.window_mean = seg.Mean(w0, w1);
  r.projected_total =
      r.energy_before + r.window_mean * static_cast<double>(total_iterations - s);

  // Uncertainty from the window's spread: the window mean's standard error, with the
  // effective sample size shrunk by the lag-1 autocorrelation (w (1 − ρ) / (1 + ρ)), scaled
  // by the N − s projected iterations; plus the spread of those iterations themselves
  // (√(N − s) · sd, independent iterations).
  const double w = static_cast<double>(r.window);
  r.window_std = r.window >= 2 ? std::sqrt(seg.Cost(w0, w1) / (w - 1)) : sigma;
  double rho = 0;
  if (r.window >= 3 && seg.Cost(w0, w1) > 0) {
    double num = 0;
    for (size_t i = w0 + 1; i < w1; ++i) {
      num += (series[i] - r.window_mean) * (series[i - 1] - r.window_mean);
    }
    rho = std::clamp(num / seg.Cost(w0, w1), 0.0, 0.95);
  }
  const double w_eff = std::max(1.0, w * (1 - rho) / (1 + rho));
  const double rest = static_cast<double>(total_iterations - s);
  r.projected_total_std = r.window_std * std::sqrt(rest * rest / w_eff + rest);
  return r;
}

}  // namespace wattfleet
