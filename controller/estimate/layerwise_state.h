// What the layer-wise estimators (estimator_layerwise.cc) learn in a fit, and how it is
// stored and read back: every table a prediction reads, checked on reading so that a
// tampered or truncated model file is refused rather than priced from.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/common/status.h"
#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/estimate/physical_bounds.h"

namespace wattfleet::layerwise {

// Beyond the data, cost per unit of work falls as a power of the reach (η(W) ∝ W^α while far
// from saturation): the trend of the group's own largest layers (UpperTrend), at most this,
// the middle of the exponents the cost curves choose from, which is also the prior where a
// group shows no trend.
constexpr double kBeyondAlpha = 0.5;
// κ's spread where too few whole models fit it: layer sums of whole models were measured at
// 0.74-1.26 of the whole step (ln 1.3).
constexpr double kDefaultKappaLogQ = 0.262;
// An update whose weights the allocator maps on its own, priced from updates that had none,
// may cost this many times more per such parameter: Adam's update of VGG-11's classifier
// matrices was measured at 3.5 to 5 times the same parameters cut into small tensors
// (bench/RESULTS.md, "Training"). The interval's upper end takes it in.
constexpr double kMappedUpdateFactor = 5.0;

// The fitted tables; members keep the estimator's naming, as its base.
struct FittedState {
  std::map<std::string, LayerCostModel> curves_;  // by cost group and by type
  std::map<std::string, double> log_q_;     // curve key → held-out 90 % |ln error|
  std::map<std::string, double> top_cost_;  // curve key → cost per work of its largest layer
  std::map<std::string, double> trend_;     // curve key → α beyond its largest layer
  double kappa_log_q_ = kDefaultKappaLogQ;
  PhysicalBounds bounds_;                   // of the target: the floor, the best rates
  std::map<std::string, double> type_cost_;  // type without a curve → its median cost per work
  std::map<std::string, double> view_cost_;  // view without a curve → its median cost per call
  std::map<std::string, double> type_top_work_;  // type without a curve → most work measured
  std::map<std::string, std::string> work_kind_;  // type → WorkKind of its layers
  // WorkKind → the least and most cost per unit of work measured.
  std::map<std::string, std::pair<double, double>> ratio_range_;
  // "kin|WorkKind" → the same, over the layers of one kin.
  std::map<std::string, std::pair<double, double>> kin_range_;
  std::map<std::string, std::map<int64_t, double>> measured_;  // key → batch → mean
  std::vector<std::string> unmodelled_;
  std::map<int64_t, double> kappa_;  // by batch; 0: every batch together
  bool mapped_update_seen_ = false;  // a fitted update held mapped weights (mapped_params)

  // Everything above, under the estimator's `name`.
  nlohmann::json StateJson(const std::string& name) const;
  // Replaces everything above with `j`'s tables; Corruption naming `name` and the table
  // where one is malformed or out of range.
  Status ReadState(const nlohmann::json& j, const std::string& name);
  bool HasPricing() const { return !curves_.empty() || !type_cost_.empty() || !view_cost_.empty(); }
};

}  // namespace wattfleet::layerwise
