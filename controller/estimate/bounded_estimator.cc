// Estimators held to the device's physical bounds (bounded_estimator.h).
#include "wattfleet/estimate/bounded_estimator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/estimate/measured_floor.h"
#include "wattfleet/estimate/physical_bounds.h"

namespace wattfleet {
namespace {

bool FiniteNonNegative(double v) { return std::isfinite(v) && v >= 0; }

// The most work measured, by cost group and by kind of work, and the largest whole model: what
// an estimate's reach is measured against.
struct WorkSeen {
  std::map<std::string, double> by_group, by_kind;
  double model_macs = 0;

  void Fit(const std::vector<LayerSample>& layers, const std::vector<ModelSample>& models,
           Target target) {
    by_group.clear();
    by_kind.clear();
    model_macs = 0;
    for (const LayerSample& s : layers) {
      if (!(TargetOf(s, target) > 0)) continue;
      const double w = LayerWork(s);
      // By group and by type: a convolution of a group never measured is placed by its type.
      for (const std::string& where : {CostGroup(s), s.type}) {
        double& g = by_group[where];
        g = std::max(g, w);
      }
      double& k = by_kind[std::string(WorkKind(s))];
      k = std::max(k, w);
    }
    for (const ModelSample& m : models) {
      if (m.kind == JobKind::kModel && TargetOf(m, target) > 0) {
        model_macs = std::max(model_macs, m.macs);
      }
    }
  }

  // A layer's work against the most measured of its group (else its type, else its kind of
  // work); 0 where none of them was measured.
  double LayerReach(const LayerSample& s) const {
    if (IsViewLayer(s)) return 0;
    double seen = 0;
    for (const std::string& where : {CostGroup(s), s.type}) {
      if (auto it = by_group.find(where); it != by_group.end() && seen == 0) seen = it->second;
    }
    if (seen == 0) {
      if (auto it = by_kind.find(std::string(WorkKind(s))); it != by_kind.end()) seen = it->second;
    }
    return seen > 0 ? LayerWork(s) / seen : 0.0;
  }

  nlohmann::json ToJson() const {
    return {{"by_group", by_group}, {"by_kind", by_kind}, {"model_macs", model_macs}};
  }
  void FromJson(const nlohmann::json& j) {
    by_group = j.at("by_group").get<std::map<std::string, double>>();
    by_kind = j.at("by_kind").get<std::map<std::string, double>>();
    model_macs = j.at("model_macs").get<double>();
  }
};

std::string Figure(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

class BoundedEstimator final : public Estimator {
 public:
  explicit BoundedEstimator(EstimatorFactory make) : make_(std::move(make)), inner_(make_()) {}

  std::string name() const override { return inner_->name(); }

  Status Fit(const std::vector<LayerSample>& layers, const std::vector<ModelSample>& models,
             Target target) override {
    target_ = target;
    time_.reset();
    inner_ = make_();
    inner_->UseLayerFeatures(layer_features());
    WF_RETURN_IF_ERROR(inner_->Fit(layers, models, target));
    bounds_ = FitPhysicalBounds(layers, models, target);
    seen_.Fit(layers, models, target);
    floor_.Fit(layers, target);
    if (target == Target::kEnergy) {
      // The time twin: the same method on the same samples, itself bounded. Without it (a
      // dataset of energy only) the energy stands on its own bounds.
      auto twin = std::make_unique<BoundedEstimator>(make_);
      twin->UseLayerFeatures(layer_features());
      if (twin->Fit(layers, models, Target::kTime).ok()) time_ = std::move(twin);
    }
    return Status::OK();
  }

  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog& catalog) const override {
    WF_ASSIGN_OR_RETURN(Estimate e, inner_->Predict(m, catalog));
    if (!FiniteNonNegative(e.value)) {
      return Status::Internal(name() + ": a non-finite or negative estimate (" +
                              Figure(e.value) + ") for " + m.name + " was refused");
    }
    // A method may attribute a negative share to a layer (THOR's parts are differences of
    // curves) as long as its total is a figure; a non-finite share is refused.
    for (double v : e.layers) {
      if (!std::isfinite(v)) {
        return Status::Internal(name() + ": a non-finite layer estimate for " + m.name +
                                " was refused");
      }
    }
    // Each distinct layer once: a model repeats its blocks.
    std::vector<double> bound, ceiling;
    bool placed = false;
    NodeBounds(m, catalog, &bound, &ceiling, &e.reach, &placed);
    if (!placed && seen_.model_macs > 0) e.reach = std::max(1.0, m.macs / seen_.model_macs);
    RaiseToLowerBounds(m, bound, &e);
    HoldBelowCeiling(ceiling, &e);
    if (time_ != nullptr) {
      WF_ASSIGN_OR_RETURN(Estimate t, time_->Predict(m, catalog));
      HoldPower(t, &e);
    }
    if (e.interval) {
      e.interval->first = std::min(e.interval->first, e.value);
      e.interval->second = std::max(e.interval->second, e.value);
    }
    return e;
  }

  std::vector<std::string> UnmodelledTypes() const override { return inner_->UnmodelledTypes(); }

  nlohmann::json ToJson() const override {
    nlohmann::json j = {{"estimator", name()},
                        {"inner", inner_->ToJson()},
                        {"target", TargetName(target_)},
                        {"bounds", bounds_.ToJson()},
                        {"seen", seen_.ToJson()},
                        {"floor", floor_.ToJson()}};
    if (time_ != nullptr) j["time"] = time_->ToJson();
    return j;
  }

  Status FromJson(const nlohmann::json& j) override {
    WF_RETURN_IF_ERROR(CheckStateOf(j, name()));
    if (!j.contains("inner") || !j.contains("bounds") || !j.contains("seen") ||
        !j.contains("floor") || !j.contains("target")) {
      return Status::Corruption(name() + ": stored state has no physical bounds");
    }
    auto inner = make_();
    WF_RETURN_IF_ERROR(inner->FromJson(j.at("inner")));
    WF_ASSIGN_OR_RETURN(PhysicalBounds bounds, PhysicalBounds::FromJson(j.at("bounds")));
    MeasuredFloor floor;
    WF_RETURN_IF_ERROR(floor.FromJson(j.at("floor")));
    WorkSeen seen;
    try {
      seen.FromJson(j.at("seen"));
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(name() + ": malformed reach state: " + e.what());
    }
    std::unique_ptr<BoundedEstimator> twin;
    if (auto t = j.find("time"); t != j.end()) {
      twin = std::make_unique<BoundedEstimator>(make_);
      WF_RETURN_IF_ERROR(twin->FromJson(*t));
    }
    target_ = j.at("target") == "time" ? Target::kTime : Target::kEnergy;
    inner_ = std::move(inner);
    bounds_ = std::move(bounds);
    seen_ = std::move(seen);
    floor_ = std::move(floor);
    time_ = std::move(twin);
    return Status::OK();
  }

 private:
  // Each node's lower bound (the device's physical one, or a smaller layer's measured cost,
  // measured_floor.h) and ceiling, and the model's reach (the largest of its layers', at least
  // 1), its layers taken at the model's batch and in its mode; no bounds where the catalog
  // lacks a layer. `placed`: some layer's reach could be measured.
  void NodeBounds(const ModelSample& m, const LayerCatalog& catalog, std::vector<double>* bound,
                  std::vector<double>* ceiling, double* reach, bool* placed) const {
    struct Known {
      double lower, ceiling, reach;
    };
    std::unordered_map<std::string_view, Known> seen;
    bound->reserve(m.layer_keys.size());
    ceiling->reserve(m.layer_keys.size());
    *reach = 1.0;
    for (const std::string& key : m.layer_keys) {
      auto known = seen.find(key);
      if (known == seen.end()) {
        auto it = catalog.find(key);
        if (it == catalog.end()) {
          bound->clear();
          ceiling->clear();
          *placed = false;
          *reach = 1.0;
          return;
        }
        LayerSample s = AtBatch(it->second, m.batch);
        s.mode = m.mode;
        const double lower = std::max(bounds_.LayerLowerBound(s), floor_.Of(s));
        known = seen.emplace(key, Known{lower, bounds_.LayerCeiling(s), seen_.LayerReach(s)})
                    .first;
      }
      bound->push_back(known->second.lower);
      ceiling->push_back(known->second.ceiling);
      if (known->second.reach > 0) {
        *placed = true;
        *reach = std::max(*reach, known->second.reach);
      }
    }
  }

  // No model above its layers' ceilings together: a method's curve extrapolated far out of
  // its range (a log-linear one can reach 1e100 s) is held there, its shares scaled along,
  // and says so. Nothing is held where some layer's kind of work was never measured.
  static void HoldBelowCeiling(const std::vector<double>& ceiling, Estimate* e) {
    if (ceiling.empty()) return;
    double total = 0;
    for (double c : ceiling) total += c;
    if (!std::isfinite(total) || e->value <= total) return;
    for (double& v : e->layers) v *= total / e->value;
    e->value = total;
    if (e->interval) {
      e->interval->second = total;
      e->interval->first = std::min(e->interval->first, total);
    }
    e->warnings.push_back(
        "held at the device's ceiling: the method priced the model above " +
        std::to_string(static_cast<int>(kCeilingFactor)) +
        " times its layers' work at the least efficient rate measured on this device (it "
        "extrapolates far outside its data)");
  }

  // No layer below its lower bound where the method prices each layer on its own (every share
  // positive, as the layer-wise estimators do); otherwise (a model-level method, or one whose
  // shares are differences or fold a layer into its neighbour's: THOR) the total not below
  // its layers' bounds together, or its MACs at the best rate without a layer list, its shares
  // scaled along. The interval moves with the estimate.
  void RaiseToLowerBounds(const ModelSample& m, const std::vector<double>& bound,
                          Estimate* e) const {
    if (bounds_.empty()) return;
    const double before = e->value;
    double total_bound = 0;
    for (double b : bound) total_bound += b;
    const bool per_layer =
        !e->layers.empty() && e->layers.size() == bound.size() &&
        std::all_of(e->layers.begin(), e->layers.end(), [](double v) { return v > 0; });
    bool raised = false;
    if (per_layer) {
      double sum = 0;
      for (size_t i = 0; i < bound.size(); ++i) {
        if (e->layers[i] < bound[i]) {
          e->layers[i] = bound[i];
          raised = true;
        }
        sum += e->layers[i];
      }
      e->value = sum;
    } else {
      // A model the catalog cannot place is bound by its MACs at the best MAC rate.
      if (bound.empty()) total_bound = m.macs * bounds_.LeastCostPerWork("macs");
      if (e->value < total_bound) {
        for (double& v : e->layers) v *= e->value > 0 ? total_bound / e->value : 0.0;
        e->value = total_bound;
        raised = true;
      }
    }
    if (!raised) return;
    if (e->interval) {
      if (before > 0) e->interval->second *= e->value / before;
      e->interval->first = std::max(e->interval->first, std::min(total_bound, e->value));
    }
    e->warnings.push_back(
        "raised to the device's physical bounds: the method priced " +
        std::string(per_layer ? "some layers" : "the model") +
        " faster than the device's best measured or declared rate allows, or below a layer "
        "measured with no more work in any dimension");
  }

  // Energy between idle and the highest power times the time twin's estimate, layer by layer
  // where both attribute to the same layers, else for the whole model.
  void HoldPower(const Estimate& t, Estimate* e) const {
    const double idle = bounds_.idle_w, high = bounds_.max_w;
    if (!bounds_.HasPowerBand()) return;
    int held = 0;
    auto hold = [&](double* energy, double time) {
      if (!(time > 0)) return;
      const double v = std::clamp(*energy, idle * time, high * time);
      if (v != *energy) ++held;
      *energy = v;
    };
    auto positive = [](const std::vector<double>& v) {
      return std::all_of(v.begin(), v.end(), [](double x) { return x > 0; });
    };
    if (!e->layers.empty() && e->layers.size() == t.layers.size() && positive(e->layers) &&
        positive(t.layers)) {
      double sum = 0;
      for (size_t i = 0; i < e->layers.size(); ++i) {
        hold(&e->layers[i], t.layers[i]);
        sum += e->layers[i];
      }
      const double scale = e->value > 0 ? sum / e->value : 1.0;
      e->value = sum;
      if (e->interval) {
        e->interval->first *= scale;
        e->interval->second *= scale;
      }
    } else {
      const double before = e->value;
      hold(&e->value, t.value);
      if (before > 0 && e->value != before) {
        for (double& v : e->layers) v *= e->value / before;
        if (e->interval) {
          e->interval->first *= e->value / before;
          e->interval->second *= e->value / before;
        }
      }
    }
    if (e->interval && t.value > 0) {
      e->interval->first =
          std::max(e->interval->first, idle * (t.interval ? t.interval->first : t.value));
      if (t.interval) e->interval->second = std::min(e->interval->second, high * t.interval->second);
    }
    if (held > 0) {
      e->warnings.push_back("energy held between the device's idle power (" + Figure(idle) +
                            " W) and its highest power (" + Figure(high) +
                            " W) over the estimated time");
    }
  }

  EstimatorFactory make_;
  std::unique_ptr<Estimator> inner_;
  Target target_ = Target::kEnergy;
  PhysicalBounds bounds_;
  WorkSeen seen_;
  MeasuredFloor floor_;
  std::unique_ptr<BoundedEstimator> time_;  // energy only: the same method for time
};

}  // namespace

std::unique_ptr<Estimator> WithPhysicalBounds(EstimatorFactory make) {
  return std::make_unique<BoundedEstimator>(std::move(make));
}

}  // namespace wattfleet
