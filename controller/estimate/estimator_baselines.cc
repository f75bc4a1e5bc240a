// The two baselines of docs/design/estimators.md section 5: MACs-linear and TDP x time.
#include "estimator_baselines.h"


#include <algorithm>

#include "wattfleet/common/layer.h"
#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/numeric/least_squares.h"

namespace wattfleet {
namespace {

// E = a * MACs + b over the device's whole-model measurements: the FLOPs-based estimation
// that THOR and WattLayer compare against.
class MacsEstimator final : public Estimator {
 public:
  std::string name() const override { return "macs"; }
  Status Fit(const std::vector<LayerSample>&, const std::vector<ModelSample>& models,
             Target target) override {
    std::vector<std::vector<double>> rows;
    std::vector<double> y;
    for (const ModelSample& m : models) {
      const double value = TargetOf(m, target);
      // A sample without this target (a time-only import) is no evidence of it.
      if (m.kind != JobKind::kModel || m.macs <= 0 || !(value > 0) || !std::isfinite(value)) continue;
      rows.push_back({m.macs, 1.0});
      y.push_back(TargetOf(m, target));
    }
    coef_ = LeastSquares(rows, y);
    // A negative slope or intercept predicts energy falling with size, or below zero for
    // small models: refit with both constrained to be non-negative.
    if (!coef_.empty() && (coef_[0] < 0 || coef_[1] < 0)) {
      coef_ = NonNegativeRelativeLeastSquares(rows, y);
    }
    if (coef_.empty()) {
      return Status::Unavailable("macs: needs whole-model measurements of at least two "
                                        "architectures with different MACs");
    }
    return Status::OK();
  }
  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog&) const override {
    if (coef_.empty()) return Status::Unavailable("macs: not fitted");
    Estimate e;
    e.value = coef_[0] * m.macs + coef_[1];
    return e;
  }
  nlohmann::json ToJson() const override { return {{"estimator", name()}, {"coef", coef_}}; }
  Status FromJson(const nlohmann::json& j) override {
    WF_RETURN_IF_ERROR(CheckStateOf(j, name()));
    auto coef = j.find("coef");
    if (coef == j.end() || !coef->is_array() || coef->size() != 2) {
      return Status::Corruption("macs: stored state lacks its two coefficients");
    }
    coef_ = coef->get<std::vector<double>>();
    return Status::OK();
  }

 private:
  std::vector<double> coef_;
};

// TDP x utilisation x t̂: the device's average power under load (its measured energy over
// time on whole models, which is what TDP x utilisation approximates) times a MACs-linear
// prediction of the time. For the time target it is the MACs-linear time model itself.
class TdpEstimator final : public Estimator {
 public:
  std::string name() const override { return "tdp"; }
  Status Fit(const std::vector<LayerSample>& layers, const std::vector<ModelSample>& models,
             Target target) override {
    target_ = target;
    WF_RETURN_IF_ERROR(time_.Fit(layers, models, Target::kTime));
    double energy = 0, time = 0;
    for (const ModelSample& m : models) {
      if (m.kind != JobKind::kModel) continue;  // probes are THOR's, not architectures
      // Power is energy over time of the same samples: one without an energy (a time-only
      // import) would otherwise add its time and pull the power down.
      if (!(m.energy_j > 0) || !(m.time_s > 0) || !std::isfinite(m.energy_j) ||
          !std::isfinite(m.time_s)) {
        continue;
      }
      energy += m.energy_j;
      time += m.time_s;
    }
    if (time <= 0) return Status::Unavailable("tdp: no whole-model time measured");
    power_w_ = energy / time;
    return Status::OK();
  }
  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog& catalog) const override {
    WF_ASSIGN_OR_RETURN(Estimate t, time_.Predict(m, catalog));
    if (target_ == Target::kTime) return t;
    Estimate e;
    e.value = power_w_ * std::max(t.value, 0.0);
    return e;
  }
  nlohmann::json ToJson() const override {
    return {{"estimator", name()}, {"target", TargetName(target_)}, {"power_w", power_w_},
            {"time", time_.ToJson()}};
  }
  Status FromJson(const nlohmann::json& j) override {
    WF_RETURN_IF_ERROR(CheckStateOf(j, name()));
    auto power = j.find("power_w");
    auto target = j.find("target");
    auto time = j.find("time");
    if (power == j.end() || !power->is_number() || target == j.end() || time == j.end()) {
      return Status::Corruption("tdp: stored state lacks power_w, target or time");
    }
    power_w_ = power->get<double>();
    target_ = *target == "time" ? Target::kTime : Target::kEnergy;
    return time_.FromJson(*time);
  }

 private:
  MacsEstimator time_;
  Target target_ = Target::kEnergy;
  double power_w_ = 0;
};

}  // namespace

std::unique_ptr<Estimator> MakeMacsEstimator() { return std::make_unique<MacsEstimator>(); }
std::unique_ptr<Estimator> MakeTdpEstimator() { return std::make_unique<TdpEstimator>(); }

}  // namespace wattfleet
