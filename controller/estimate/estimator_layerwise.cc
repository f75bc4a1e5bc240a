// WattLayer with saturating per-group cost curves (estimator_layerwise.h).
//
// Why not the paper's regressions (estimator_wattlayer.cc, "wattlayer-paper"): on a campaign
// of modern architectures (bench/RESULTS.md) they lose to a MACs-linear baseline. A cost
// linear in MACs fitted on small layers over-predicts large ones (hardware efficiency rises
// with size until it saturates); the log-space variants extrapolate as powers and let a
// layer's cost fall with the batch; per-call overhead dominates the small layers of a CPU; a
// depthwise convolution and a dense one of equal MACs differ several-fold; and a type the fit
// never saw went to a global log-linear model that can price a pooling layer at 1 000 J.
//
// Here:
// - each cost group (type, convolutions split into 1x1 / kxk / grouped) gets the curve of
//   layer_cost.h whose shape wins a 5-fold cross-validation over its distinct layers, the
//   saturating shape when it has too few for one; a group with fewer than 3 distinct layers
//   falls back to its type's curve;
// - a type measured too little for a curve is priced from its own layers (median cost per
//   unit of work, per call for a view); a type never measured by the curves of its kin
//   (CostKin: a Transformer block as matrix products), else of the types that count work the
//   same way, clamped to the cost per unit of work measured for them; it is named in a
//   warning; views without measurements cost the per-call floor;
// - a group priced by its type's curve takes the geometric mean with what it is equivalent
//   to (a 1x1 convolution is a matrix product, a depthwise one streams its tensor);
// - beyond the most work its curve saw, a layer's cost per unit of work falls as the square
//   root of its reach, down to its kin's best (measured, or the agents' declared peak);
// - each prediction carries a small-data interval from the groups' held-out errors and κ's
//   spread (docs/estimators.md);
// - κ is fitted on relative errors over whole models, as in WattLayer, from every whole model
//   whose layers can be priced (measured alone or known by their features);
// - "measured-layers" uses a layer's own measurement at the asked batch, interpolates
//   log-log between the batches it was measured at, and scales by its curve outside them, so
//   a prediction is non-decreasing in the batch throughout.
#include "estimator_layerwise.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/estimate/physical_bounds.h"
#include "layerwise_state.h"
#include "layerwise_support.h"

namespace wattfleet {
namespace {

using layerwise::BatchOf;
using layerwise::Flags;
using layerwise::IsPointwise;
using layerwise::IsRecurrent;
using layerwise::kBeyondAlpha;
using layerwise::kDefaultKappaLogQ;
using layerwise::kMappedUpdateFactor;
using layerwise::MeansOfRepeats;
using layerwise::PointwiseWeight;
using layerwise::SeenTrend;
using layerwise::UpperTrend;

constexpr size_t kMinDistinct = 3;   // distinct layers for a curve of its own
constexpr size_t kMinForChoice = 8;  // distinct layers for choosing the shape by CV
constexpr int kMinModelsForKappa = 3;  // whole models of one batch for a κ of its own
// A prediction at more than this many times the largest work its curve saw is flagged.
constexpr double kExtrapolationFactor = 2.0;
// The small-data interval (docs/estimators.md): a measured layer's own spread and a floor
// under a group's cross-validated error (κ's default spread: layerwise_state.h).
constexpr double kMeasuredLogQ = 0.1;
constexpr double kMinGroupLogQ = 0.05;
constexpr double kUnseenLogQ = 0.693;  // ln 2: a type priced by other types' curves
constexpr CostShape kShapes[] = {CostShape::kSaturating, CostShape::kSaturatingMemory,
                                 CostShape::kLinear, CostShape::kRegimes};


// The median of a non-empty list.
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

class LayerwiseEstimator final : public Estimator, private layerwise::FittedState {
 public:
  explicit LayerwiseEstimator(bool use_measured) : use_measured_(use_measured) {}
  std::string name() const override { return use_measured_ ? "measured-layers" : "wattlayer"; }

  Status Fit(const std::vector<LayerSample>& layers, const std::vector<ModelSample>& models,
             Target target) override {
    curves_.clear();
    log_q_.clear();
    top_cost_.clear();
    trend_.clear();
    bounds_ = FitPhysicalBounds(layers, models, target);
    work_kind_.clear();
    measured_.clear();
    unmodelled_.clear();
    unseen_.clear();
    const std::vector<LayerSample> means = MeansOfRepeats(layers, target);
    std::map<std::string, std::vector<const LayerSample*>> by_group, by_type;
    ratio_range_.clear();
    kin_range_.clear();
    for (const LayerSample& s : means) {
      by_group[CostGroup(s)].push_back(&s);
      by_type[s.type].push_back(&s);
      work_kind_[s.type] = std::string(WorkKind(s));
      const double v = TargetOf(s, target);
      if (v > 0) {
        const double r = v / LayerWork(s);
        for (auto* ranges : {&ratio_range_, &kin_range_}) {
          if (ranges == &ratio_range_ && PricedByOwnKinOnly(s.type)) continue;
          const std::string key = ranges == &ratio_range_
                                      ? std::string(WorkKind(s))
                                      : std::string(CostKin(s.type)) + "|" + std::string(WorkKind(s));
          auto [it, fresh] = ranges->try_emplace(key, r, r);
          it->second.first = std::min(it->second.first, r);
          it->second.second = std::max(it->second.second, r);
        }
      }
    }
    if (use_measured_) {
      for (const LayerSample& s : means) measured_[s.key][s.batch] = TargetOf(s, target);
    }
    for (const auto& [type, samples] : by_type) FitGroup(type, samples, target);
    for (const auto& [group, samples] : by_group) {
      if (group != CostGroupType(group)) FitGroup(group, samples, target);
    }
    FitTypeCosts(by_type, target);
    if (!HasPricing()) {
      return Status::Unavailable(name() + ": needs measured layers");
    }

    mapped_update_seen_ = std::any_of(means.begin(), means.end(), [](const LayerSample& s) {
      return s.mapped_params > 0;
    });
    FitKappa(layers, models, target);
    unseen_.clear();  // what pricing the fit's own whole models met is no prediction's record
    return Status::OK();
  }

  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog& catalog) const override {
    if (m.layer_keys.empty()) {
      return Status::Unavailable(name() + ": '" + m.name + "' has no layer list");
    }
    Estimate e;
    Flags flags;
    WF_ASSIGN_OR_RETURN(std::vector<double> parts, LayerValues(m, catalog, &flags));
    e.warnings = flags.Warnings(m.batch);
    const double kappa = KappaAt(m.batch);
    for (double& v : parts) {
      v *= kappa;
      e.value += v;
    }
    e.layers = std::move(parts);
    if (flags.high > 0) {
      e.interval = std::make_pair(kappa * flags.low * std::exp(-kappa_log_q_),
                                  kappa * flags.high * std::exp(kappa_log_q_));
    }
    return e;
  }

  std::vector<std::string> UnmodelledTypes() const override {
    std::set<std::string> all(unmodelled_.begin(), unmodelled_.end());
    all.insert(unseen_.begin(), unseen_.end());
    return {all.begin(), all.end()};
  }

  nlohmann::json ToJson() const override { return StateJson(name()); }

  Status FromJson(const nlohmann::json& j) override {
    unseen_.clear();
    return ReadState(j, name());
  }

 private:
  // A curve of its own for a cost group (or type) with enough distinct layers: its shape by
  // cross-validation, its held-out error for the small-data interval, its top.
  void FitGroup(const std::string& group, const std::vector<const LayerSample*>& samples,
                Target target) {
    std::set<std::string> distinct;
    for (const LayerSample* s : samples) distinct.insert(s->key);
    if (distinct.size() < kMinDistinct) return;
    CostShape shape = CostShape::kSaturating;
    if (distinct.size() >= kMinForChoice) {
      double best = INFINITY;
      for (CostShape candidate : kShapes) {
        const double score = CrossValidateCost(samples, candidate, target);
        if (score < best) {
          best = score;
          shape = candidate;
        }
      }
    }
    auto curve = LayerCostModel::Fit(samples, shape, target);
    if (!curve.ok() && shape != CostShape::kSaturating) {
      shape = CostShape::kSaturating;
      curve = LayerCostModel::Fit(samples, shape, target);
    }
    if (!curve.ok()) return;
    curves_.emplace(group, std::move(curve).value());
    // The group's held-out error (90th percentile of |ln(predicted / measured)|) for the
    // small-data interval, and its cost per unit of work at the top of its range.
    std::vector<double> errors = CrossValidatedLogErrors(samples, shape, target);
    if (!errors.empty()) {
      std::sort(errors.begin(), errors.end());
      const size_t at = std::min(errors.size() - 1,
                                 static_cast<size_t>(std::ceil(kOwnIntervalLevel *
                                                               static_cast<double>(errors.size()))) - 1);
      if (std::isfinite(errors[at])) log_q_[group] = std::max(errors[at], kMinGroupLogQ);
    }
    const LayerSample* top = *std::max_element(
        samples.begin(), samples.end(),
        [](const LayerSample* a, const LayerSample* b) { return LayerWork(*a) < LayerWork(*b); });
    top_cost_[group] = TargetOf(*top, target) / LayerWork(*top);
    trend_[group] = UpperTrend(samples, target, kBeyondAlpha);
    }

  void FitTypeCosts(const std::map<std::string, std::vector<const LayerSample*>>& by_type,
                    Target target) {
  // A type measured too little for a curve (1 or 2 distinct layers) is priced roofline-style
  // from its own layers: its median cost per unit of work, never a flat cost and never
  // another type's curve.
  // A view (which does no work of its own) the same way, by its median cost per call.
  type_cost_.clear();
  view_cost_.clear();
  type_top_work_.clear();
  for (const auto& [type, samples] : by_type) {
    if (curves_.count(type)) continue;
    const bool view = IsViewLayer(*samples.front());
    std::vector<double> cost;
    // Per batch too ("LSTM@8"): a kernel's cost per unit of work falls as the batch grows (a
    // GRU's per sample at batch 2 was 1.8 times its cost at batch 8), so a layer is priced
    // from its type's layers at the batch nearest its own.
    std::map<int64_t, std::vector<double>> by_batch;
    for (const LayerSample* s : samples) {
      cost.push_back(TargetOf(*s, target) / (view ? 1.0 : LayerWork(*s)));
      by_batch[s->batch].push_back(cost.back());
    }
    auto& costs = view ? view_cost_ : type_cost_;
    if (const double all = cost.empty() ? 0.0 : Median(cost); all > 0) costs[type] = all;
    for (const auto& [batch, at] : by_batch) {
      if (const double m = Median(at); m > 0) costs[type + "@" + std::to_string(batch)] = m;
    }
    for (const LayerSample* s : samples) {
      type_top_work_[type] = std::max(type_top_work_[type], LayerWork(*s));
    }
    // How its cost per unit of work moves with its work, as its own layers show it where
    // they span enough (one layer at two batches does: a Transformer block's stays flat from
    // batch 2 to 8, and so from 128 to 256 wide), else as its kin's curves do: never the
    // prior's steep rise a type's own layers could have shown and did not.
    if (!view) {
      trend_[type] = SeenTrend(samples, target, kBeyondAlpha, 2).value_or(KinTrend(type));
    }
    unmodelled_.push_back(type);
  }
  }

  // The median trend of the fitted curves of a type's kin (CostKin) that count work as it
  // does, recurrent ones left out (their steps run in sequence, Beyond); the prior without.
  double KinTrend(const std::string& type) const {
    const std::string_view kin = CostKin(type);
    auto kind = work_kind_.find(type);
    std::vector<double> trends;
    for (const auto& [group, alpha] : trend_) {
      if (kin.empty() || group != CostGroupType(group) || !curves_.count(group)) continue;
      auto k = work_kind_.find(group);
      if (CostKin(group) != kin || k == work_kind_.end() || kind == work_kind_.end() ||
          k->second != kind->second || CallUnitOf(group) == CallUnit::kStep) {
        continue;
      }
      trends.push_back(alpha);
    }
    return trends.empty() ? kBeyondAlpha : Median(std::move(trends));
  }

  void FitKappa(const std::vector<LayerSample>& layers, const std::vector<ModelSample>& models,
                Target target) {
  // κ by least squares through the origin on relative errors over the whole models
  // (Σ ((E − κ·S) / E)²), so that the few largest models do not decide it for all.
  // Every whole model whose layers the fit can price: its layers measured here, or known
  // by their features (imported whole models, whole-model-only campaigns).
  LayerCatalog catalog;
  for (const LayerSample& s : layers) catalog.emplace(s.key, s);
  if (const LayerCatalog* known = layer_features()) {
    for (const auto& [key, s] : *known) catalog.emplace(key, s);
  }
  // One κ per measured batch: how a whole model differs from its layers run alone (caches,
  // the framework's per-call work) changes with the batch.
  std::map<int64_t, std::pair<double, double>> sums;  // batch → Σ ratio, Σ ratio²
  std::map<int64_t, int> counts;
  std::vector<double> log_ratios;
  for (const ModelSample& m : models) {
    const double measured = TargetOf(m, target);
    if (m.layer_keys.empty() || !(measured > 0)) continue;
    Result<std::vector<double>> parts = LayerValues(m, catalog, nullptr);
    if (!parts.ok()) continue;
    double sum = 0;
    for (double v : *parts) sum += v;
    if (!(sum > 0)) continue;
    const double ratio = sum / measured;
    log_ratios.push_back(std::log(ratio));
    for (int64_t b : {int64_t{0}, m.batch}) {  // 0: every batch together
      sums[b].first += ratio;
      sums[b].second += ratio * ratio;
      ++counts[b];
    }
  }
  kappa_.clear();
  for (const auto& [batch, s] : sums) {
    // A batch's own κ needs a few whole models; otherwise the all-batch κ serves it.
    if (batch != 0 && counts[batch] < kMinModelsForKappa) continue;
    kappa_[batch] = s.second > 0 ? s.first / s.second : 1.0;
  }
  if (kappa_.empty()) kappa_[0] = 1.0;
  // κ's own spread: 1.645 standard deviations of ln(Σ layers / whole) where enough whole
  // models rest it, the spread layer sums were seen to have otherwise.
  kappa_log_q_ = kDefaultKappaLogQ;
  if (log_ratios.size() >= static_cast<size_t>(kMinModelsForKappa)) {
    double mean = 0, var = 0;
    for (double r : log_ratios) mean += r;
    mean /= static_cast<double>(log_ratios.size());
    for (double r : log_ratios) var += (r - mean) * (r - mean);
    var /= static_cast<double>(log_ratios.size() - 1);
    kappa_log_q_ = std::max(1.645 * std::sqrt(var), kMinGroupLogQ);
  }
  }

  // κ at `batch`: the measured batch's; between two, interpolated log-log in the batch;
  // outside them the nearest; the all-batch κ when no batch had a whole model.
  double KappaAt(int64_t batch) const {
    std::map<int64_t, double> by_batch(kappa_.upper_bound(0), kappa_.end());
    if (by_batch.empty()) return kappa_.count(0) ? kappa_.at(0) : 1.0;
    if (auto exact = by_batch.find(batch); exact != by_batch.end()) return exact->second;
    auto hi = by_batch.upper_bound(batch);
    if (hi == by_batch.begin()) return hi->second;
    if (hi == by_batch.end()) return by_batch.rbegin()->second;
    auto lo = std::prev(hi);
    const double f = std::log(static_cast<double>(batch) / static_cast<double>(lo->first)) /
                     std::log(static_cast<double>(hi->first) / static_cast<double>(lo->first));
    return lo->second * std::pow(hi->second / lo->second, f);
  }

  // The key of a layer's curve: its group's, else its type's; empty when neither was fitted.
  std::string CurveKeyOf(const LayerSample& s) const {
    if (std::string group = CostGroup(s); curves_.count(group)) return group;
    if (curves_.count(s.type)) return s.type;
    return {};
  }
  const LayerCostModel* CurveOf(const LayerSample& s) const {
    const std::string key = CurveKeyOf(s);
    return key.empty() ? nullptr : &curves_.at(key);
  }

  // The held-out error of a layer's curve (its group's, else its type's), the widest of the
  // fitted ones where its curve has none, and at least ln 2 for a type without a curve.
  double LogQOf(const std::string& curve_key) const {
    double widest = 0;
    for (const auto& [group, q] : log_q_) widest = std::max(widest, q);
    if (curve_key.empty()) return std::max(widest, kUnseenLogQ);
    if (auto it = log_q_.find(curve_key); it != log_q_.end()) return it->second;
    if (auto it = log_q_.find(CostGroupType(curve_key)); it != log_q_.end()) return it->second;
    return std::max(widest, kUnseenLogQ);
  }

  // A layer's share of the small-data interval: its estimate ± its curve's held-out error;
  // beyond the work its curve saw, down to the device's best rate and up to the cost per unit
  // of work at the top of its curve's range (efficiency does not fall as layers grow).
  void AddToInterval(const LayerSample& s, double v, bool measured, Flags* flags) const {
    if (flags == nullptr) return;
    const std::string key = CurveKeyOf(s);
    if (IsViewLayer(s) && key.empty() && !measured) {
      flags->low += v / kBoundMargin;
      flags->high += v * kBoundMargin;
      return;
    }
    const double q = measured ? kMeasuredLogQ : LogQOf(key);
    double low = v * std::exp(-q), high = v * std::exp(q);
    if (!measured && !key.empty()) {
      const LayerCostModel& curve = curves_.at(key);
      const double w = LayerWork(s);
      if (w > curve.work_max()) {
        const double least = w * bounds_.LeastCostPerWork(std::string(WorkKind(s)));
        if (least > 0) low = std::min(low, least);
        if (auto top = top_cost_.find(key); top != top_cost_.end()) {
          high = std::max(high, w * top->second * std::exp(q));
        }
      }
    }
    flags->low += low;
    flags->high += high;
  }

  // A type without a curve: the geometric mean of the curves of its kin (CostKin) at this
  // layer's size, clamped to the cost per unit of work its kin was measured at; without a
  // fitted kin, of the types that count work the same way, clamped to that kind's range.
  double Unmodelled(const LayerSample& s) const {
    const std::string kind(WorkKind(s));
    const std::string_view kin = CostKin(s.type);
    double log_sum = 0;
    int n = 0;
    int pass = kin.empty() ? 1 : 0;
    for (; pass < 3 && n == 0; ++pass) {
      for (const auto& [group, curve] : curves_) {
        if (group != CostGroupType(group)) continue;  // types only, not their subgroups
        auto k = work_kind_.find(group);
        const bool same_kind = k != work_kind_.end() && k->second == kind;
        if (pass == 0 && (CostKin(group) != kin || !same_kind)) continue;
        if (pass > 0 && PricedByOwnKinOnly(group)) continue;  // prices no other type
        if (pass == 1 && !same_kind) continue;
        // Another type's per-call term prices this layer's calls only where both count the
        // same thing: a Transformer block's, fitted per block, is no recurrent step's.
        LayerSample as_kin = s;
        if (CallUnitOf(group) != CallUnitOf(s.type)) as_kin.calls = 1;
        const double v = curve.Predict(as_kin);
        if (v > 0) {
          log_sum += std::log(v);
          ++n;
        }
      }
      if (n > 0) break;
    }
    double v = n > 0 ? std::exp(log_sum / n) : 0.0;
    // Within the cost per unit of work that layers of its kin (else of its kind of work) were
    // measured at. Costs per unit of work compare only within one kind of work: without a
    // measured layer of this kind, the geometric mean stands alone.
    const std::pair<double, double>* range = nullptr;
    if (auto it = kin_range_.find(std::string(kin) + "|" + kind); pass == 0 && it != kin_range_.end()) {
      range = &it->second;
    } else if (auto all = ratio_range_.find(kind); all != ratio_range_.end()) {
      range = &all->second;
    }
    if (range != nullptr) {
      const double w = LayerWork(s);
      v = std::clamp(v, range->first * w, range->second * w);
    }
    return v;
  }

  double Regressed(const LayerSample& s, Flags* flags) const {
    const LayerCostModel* curve = CurveOf(s);
    // A view without measurements of its own costs a call, not element-wise work.
    if (curve == nullptr && IsViewLayer(s)) {
      if (const double own = AtNearestBatch(view_cost_, s); own > 0) return own;
      if (bounds_.floor > 0) return bounds_.floor;
    }
    if (curve == nullptr) {
      if (const double own = AtNearestBatch(type_cost_, s); own > 0) {
        const double top = type_top_work_.count(s.type) ? type_top_work_.at(s.type) : 0.0;
        const double v =
            std::max(bounds_.floor, Beyond(s, s.type, top, own, LayerWork(s) * own, nullptr));
        return WithEquivalent(s, v);
      }
      unseen_.insert(s.type);
      if (flags != nullptr) flags->unseen.insert(s.type);
      return Unmodelled(s);
    }
    const double factor = LayerWork(s) / curve->work_max();
    if (flags != nullptr && factor > kExtrapolationFactor) {
      double& worst = flags->beyond[CostGroup(s)];
      worst = std::max(worst, factor);
    }
    const std::string key = CurveKeyOf(s);
    const double own = Beyond(s, key, curve->work_max(), 0.0, curve->Predict(s), curve);
    return key != CostGroup(s) ? WithEquivalent(s, own) : own;
  }

  // A type's own cost (type_cost_, view_cost_) at the batch nearest `s`'s (in ratio), else
  // over every batch; 0 where the type has none.
  static double AtNearestBatch(const std::map<std::string, double>& costs,
                               const LayerSample& s) {
    const std::string prefix = s.type + "@";
    double best = 0, distance = 0;
    for (auto it = costs.lower_bound(prefix); it != costs.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      const double batch = std::strtod(it->first.c_str() + prefix.size(), nullptr);
      if (!(batch > 0)) continue;
      const double own = static_cast<double>(std::max<int64_t>(1, s.batch));
      const double d = std::abs(std::log(batch / own));
      if (best == 0 || d < distance) {
        best = it->second;
        distance = d;
      }
    }
    if (best > 0) return best;
    auto all = costs.find(s.type);
    return all != costs.end() ? all->second : 0.0;
  }

  // A group priced by its type (no curve of its own) runs a kernel that type's measured
  // layers may not: the geometric mean with what it is equivalent to, where that is known.
  // A batch-1 1x1 convolution leans to the side the device's own probe of one fell on.
  double WithEquivalent(const LayerSample& s, double v) const {
    const double same = Equivalent(s);
    if (!(same > 0 && v > 0)) return v;
    const double w = s.batch == 1 && IsPointwise(s) ? PointwiseWeight(bounds_) : 0.5;
    return std::pow(v, 1.0 - w) * std::pow(same, w);
  }

  // A layer beyond the most work measured of its curve (or its type): a curve fitted on
  // smaller layers says nothing of it (a flat one prices a 1 GMAC convolution like a 1 MMAC
  // one; a linear one keeps the small layers' inefficiency). Physically, efficiency rises
  // with size and saturates (the power-law paper's η(W) grows as W^α far from saturation):
  // its cost per unit of work falls from c_top, the cost per unit of work at the top of the
  // measured range (the curve's there, so the price is continuous at W_top), as a power of
  // its reach ρ = W / W_top, down to the best its kin reaches (measured, or the kin's
  // declared peak): c = max(c_best, c_top · ρ^−α), non-decreasing in W, with α the trend of
  // `group`'s largest measured layers (0 where their cost per unit of work is already flat:
  // a saturated kernel stays saturated), 0.5 where too few show one, 0 for recurrent layers.
  // Within the data, `v` as it is. `curve`: the curve that priced `v` (null: c_top is
  // `top_cost`, the type's own cost per unit of work). `as_kin`: the kin whose kernels run it
  // (its type's by default; a 1x1 convolution priced as the matrix product it is runs at a
  // matrix product's).
  double Beyond(const LayerSample& s, const std::string& group, double top_work,
                double top_cost, double v, const LayerCostModel* curve,
                std::string_view as_kin = {}) const {
    const double w = LayerWork(s);
    if (IsViewLayer(s) || !(top_work > 0) || w <= top_work) return v;
    const double reach = w / top_work;
    if (curve != nullptr) {
      // The same layer shrunk to the top of the range: its per-iteration features / ρ, its
      // parameters too, so that it reuses each weight as often (a Linear's MACs are its
      // parameters times its batch).
      LayerSample at_top = s;
      at_top.macs /= reach;
      at_top.flops /= reach;
      at_top.input_elements /= reach;
      at_top.output_elements /= reach;
      at_top.params /= reach;
      top_cost = curve->Predict(at_top) / top_work;
    }
    if (!(top_cost > 0)) return v;
    double best = top_cost;
    const std::string kin_name(as_kin.empty() ? CostKin(s.type) : as_kin);
    auto kin = kin_range_.find(kin_name + "|" + std::string(WorkKind(s)));
    if (kin != kin_range_.end() && kin->second.first > 0) best = std::min(best, kin->second.first);
    // A loss streams its logits: its small calls' cost per logit is their call's, and a loss
    // over a vocabulary reaches at least what streaming layers reach per element (a GPT's
    // over 32 x 8 000 logits was priced at 35 times its measured 0.87 ms from losses over 10).
    if (kin_name == "loss") {
      auto streaming = kin_range_.find("elementwise|" + std::string(WorkKind(s)));
      if (streaming != kin_range_.end() && streaming->second.first > 0) {
        best = std::min(best, streaming->second.first);
      }
    }
    // The kin's declared peak, where the agents measured one (time): small layers never show
    // what the device's kernels reach on large ones.
    if (auto peak = bounds_.kin_peak.find(kin_name);
        peak != bounds_.kin_peak.end() && s.macs > 0) {
      best = std::min(best, 1.0 / peak->second);
    }
    // A recurrent layer's time steps run one after another, each as large as the widths
    // make it: a longer sequence (the way such layers grow) costs in proportion, however
    // efficient the smaller ones were at their top.
    const auto trend = trend_.find(group);
    const double alpha = IsRecurrent(s)        ? 0.0
                         : trend != trend_.end() ? trend->second
                                                 : kBeyondAlpha;
    return w * std::max(best, top_cost * std::pow(reach, -alpha));
  }

  // What a convolution without a curve of its group costs as the work it is equivalent to: a
  // 1x1 convolution is a matrix product (a Linear of the same MACs, the GEMM frameworks often
  // run it as); a grouped (depthwise) one streams its tensor with a few MACs per element, as
  // element-wise layers do. 0 where no such curve was fitted.
  double Equivalent(const LayerSample& s) const {
    const std::string group = CostGroup(s);
    auto ends_with = [&](const char* tail) {
      const std::string t(tail);
      return group.size() > t.size() && group.compare(group.size() - t.size(), t.size(), t) == 0;
    };
    if (ends_with("/1x1")) {
      auto it = curves_.find("Linear");
      if (it == curves_.end()) return 0.0;
      return Beyond(s, "Linear", it->second.work_max(), 0.0, it->second.Predict(s), &it->second,
                    "matmul");
    }
    if (!ends_with("/grouped")) return 0.0;
    LayerSample streamed = s;  // work counted in elements, as element-wise layers count it
    streamed.macs = streamed.flops = 0;
    double log_sum = 0;
    int n = 0;
    for (const auto& [key, curve] : curves_) {
      if (key != CostGroupType(key) || CostKin(key) != "elementwise") continue;
      auto kind = work_kind_.find(key);
      if (kind == work_kind_.end() || kind->second != "elements") continue;
      if (const double v = curve.Predict(streamed); v > 0) {
        log_sum += std::log(v);
        ++n;
      }
    }
    return n > 0 ? std::exp(log_sum / n) : 0.0;
  }

  // A measured layer at `batch`: its measurement there; between two measured batches, the
  // log-log interpolation (the larger batch's value at least the smaller's); outside them,
  // the nearest measurement scaled by the curve's ratio, which is ≥ 1 upward and ≤ 1
  // downward since curves never fall as sizes grow.
  std::optional<double> Measured(const LayerSample& s, int64_t batch, Flags* flags) const {
    auto it = measured_.find(s.key);
    if (it == measured_.end() || it->second.empty()) return std::nullopt;
    const std::map<int64_t, double>& at = it->second;
    if (auto exact = at.find(batch); exact != at.end()) return exact->second;
    auto hi = at.upper_bound(batch);
    if (hi != at.begin() && hi != at.end()) {
      auto lo = std::prev(hi);
      const double v_lo = lo->second, v_hi = std::max(hi->second, lo->second);
      const double f = (std::log(static_cast<double>(batch)) - std::log(static_cast<double>(lo->first))) /
                       (std::log(static_cast<double>(hi->first)) - std::log(static_cast<double>(lo->first)));
      return v_lo * std::pow(v_hi / v_lo, f);
    }
    const auto& [near_batch, near_value] = hi == at.end() ? *at.rbegin() : *at.begin();
    const double r_here = Regressed(AtBatch(s, batch), nullptr);
    const double r_there = Regressed(AtBatch(s, near_batch), nullptr);
    double ratio = r_there > 0 && r_here > 0
                       ? r_here / r_there
                       : static_cast<double>(batch) / static_cast<double>(near_batch);
    // Guard the direction whatever the curve: more samples never cost less.
    ratio = batch > near_batch ? std::max(ratio, 1.0) : std::min(ratio, 1.0);
    if (flags != nullptr) flags->scaled_from.insert(near_batch);
    return near_value * ratio;
  }

  // Each layer's uncalibrated estimate, in the model's node order.
  Result<std::vector<double>> LayerValues(const ModelSample& m, const LayerCatalog& catalog,
                                          Flags* flags) const {
    std::vector<double> out;
    out.reserve(m.layer_keys.size());
    for (const std::string& key : m.layer_keys) {
      auto it = catalog.find(key);
      if (it == catalog.end()) return Status::NotFound(name() + ": no features for layer " + key);
      // Catalog entries carry the features at the batch they were made for; the model's
      // batch and mode decide.
      LayerSample s = AtBatch(it->second, m.batch);
      s.mode = m.mode;
      std::optional<double> measured;
      if (use_measured_) measured = Measured(s, m.batch, flags);
      const double v = measured ? *measured : Regressed(s, flags);
      AddToInterval(s, v, measured.has_value(), flags);
      // An update with mapped weights and none like it fitted: said, and its cost up to
      // kMappedUpdateFactor times its price for the mapped share of its parameters.
      if (!measured && s.mapped_params > 0 && s.params > 0 && !mapped_update_seen_ &&
          flags != nullptr) {
        flags->mapped_update = true;
        flags->high += v * (kMappedUpdateFactor - 1) * std::min(1.0, s.mapped_params / s.params);
      }
      out.push_back(v);
    }
    return out;
  }

  mutable std::set<std::string> unseen_;  // a record of what Predict met, not model state
  bool use_measured_ = false;
};

}  // namespace

std::unique_ptr<Estimator> MakeLayerwiseEstimator() {
  return std::make_unique<LayerwiseEstimator>(false);
}

std::unique_ptr<Estimator> MakeMeasuredLayersEstimator() {
  return std::make_unique<LayerwiseEstimator>(true);
}

}  // namespace wattfleet
