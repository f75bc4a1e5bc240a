// Pieces of the layer-wise estimators that are not the estimator (layerwise_support.h).
#include "layerwise_support.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "wattfleet/estimate/layer_cost.h"

namespace wattfleet::layerwise {
namespace {

std::string FormatFactor(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", f);
  return buf;
}

}  // namespace

std::optional<int64_t> BatchOf(const std::string& text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::string> Flags::Warnings(int64_t batch) const {
  std::vector<std::string> out;
  for (const std::string& type : unseen) {
    out.push_back(type + " has no cost model of its own: priced as the fitted types of the "
                         "same kind of work at its size, within the cost per unit of work "
                         "measured");
  }
  for (const auto& [group, factor] : beyond) {
    out.push_back(group + ": work up to " + FormatFactor(factor) +
                  "x the largest the fit has seen (extrapolated)");
  }
  if (mapped_update) {
    out.push_back("the optimiser's update holds weights of 8 Mi elements or more, and the fit "
                  "saw no update that did: priced as if its tensors were small, which such an "
                  "update was measured to cost 3.5 to 5 times (interval widened)");
  }
  for (int64_t from : scaled_from) {
    out.push_back("layers measured at batch " + std::to_string(from) + " only near batch " +
                  std::to_string(batch) + ": scaled by their cost curves (extrapolated)");
  }
  return out;
}

std::vector<LayerSample> MeansOfRepeats(const std::vector<LayerSample>& layers, Target target) {
  std::vector<LayerSample> means;
  std::map<std::pair<std::string, int64_t>, std::pair<size_t, int>> index;
  for (const LayerSample& s : layers) {
    const double v = TargetOf(s, target);
    if (!(v > 0) || !std::isfinite(v)) continue;
    auto [it, fresh] = index.try_emplace({s.key, s.batch}, means.size(), 0);
    if (fresh) {
      means.push_back(s);
      means.back().energy_j = means.back().time_s = 0;
    }
    LayerSample& m = means[it->second.first];
    ++it->second.second;
    (target == Target::kTime ? m.time_s : m.energy_j) += v;
  }
  for (const auto& [where, at] : index) {
    LayerSample& m = means[at.first];
    (target == Target::kTime ? m.time_s : m.energy_j) /= at.second;
  }
  return means;
}

std::optional<double> SeenTrend(const std::vector<const LayerSample*>& samples, Target target,
                                double cap, size_t min_works) {
  // One point per distinct layer and batch: (ln W, ln cost / W), repeats averaged.
  std::map<std::pair<std::string, int64_t>, std::pair<double, std::pair<double, int>>> by_layer;
  for (const LayerSample* s : samples) {
    const double w = LayerWork(*s), y = TargetOf(*s, target);
    if (!(w > 0) || !(y > 0)) continue;
    auto& [work, sum] = by_layer[{s->key, s->batch}];
    work = w;
    sum.first += y;
    ++sum.second;
  }
  std::vector<std::pair<double, double>> points;
  for (const auto& [key, v] : by_layer) {
    const double w = v.first, mean = v.second.first / v.second.second;
    points.emplace_back(std::log(w), std::log(mean / w));
  }
  if (points.size() < std::max<size_t>(min_works, 2)) return std::nullopt;
  std::sort(points.begin(), points.end());
  // The last decade of work: below it other kernels may run (libtorch's CPU convolutions
  // change kernel as their inputs grow), and their rise says nothing of the top's.
  const double from = points.back().first - std::log(10.0);
  std::vector<std::pair<double, double>> upper;
  for (const auto& p : points) {
    if (p.first >= from) upper.push_back(p);
  }
  std::set<double> works;
  for (const auto& p : upper) works.insert(p.first);
  if (works.size() < std::max<size_t>(min_works, 2) ||
      upper.back().first - upper.front().first < std::log(2.0)) {
    return std::nullopt;
  }
  double mx = 0, my = 0;
  for (const auto& [x, y] : upper) {
    mx += x;
    my += y;
  }
  mx /= static_cast<double>(upper.size());
  my /= static_cast<double>(upper.size());
  double sxy = 0, sxx = 0;
  for (const auto& [x, y] : upper) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) * (x - mx);
  }
  if (!(sxx > 0)) return std::nullopt;
  const double alpha = -sxy / sxx;
  if (!std::isfinite(alpha)) return std::nullopt;
  return std::clamp(alpha, 0.0, cap);
}

double UpperTrend(const std::vector<const LayerSample*>& samples, Target target, double prior) {
  return SeenTrend(samples, target, prior, 3).value_or(prior);
}

bool IsRecurrent(const LayerSample& s) { return CallUnitOf(s.type) == CallUnit::kStep; }

bool IsPointwise(const LayerSample& s) {
  const std::string group = CostGroup(s);
  return group.size() > 4 && group.compare(group.size() - 4, 4, "/1x1") == 0;
}

double PointwiseWeight(const PhysicalBounds& bounds) {
  const auto conv = bounds.kin_peak.find("conv"), matmul = bounds.kin_peak.find("matmul");
  if (conv == bounds.kin_peak.end() || matmul == bounds.kin_peak.end() ||
      !(bounds.pointwise_rate > 0)) {
    return 0.5;
  }
  const double span = std::log(conv->second / matmul->second);
  if (!(std::abs(span) > std::log(2.0))) return 0.5;  // the two kernels alike: no side
  return std::clamp(std::log(conv->second / bounds.pointwise_rate) / span, 0.0, 1.0);
}

}  // namespace wattfleet::layerwise
