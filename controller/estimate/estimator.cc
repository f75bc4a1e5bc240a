// The estimator interface's shared pieces and the two baselines of docs/design/estimators.md section 5:
// MACs-linear and TDP x time.
#include "wattfleet/estimate/estimator.h"

#include <Eigen/Dense>

#include <algorithm>

#include "wattfleet/campaign/estimator_names.h"
#include "wattfleet/common/layer.h"
#include "wattfleet/estimate/bounded_estimator.h"
#include "estimator_pre.h"
#include "estimator_layerwise.h"
#include "estimator_thor.h"
#include "wattfleet/estimate/layer_cost.h"
#include "estimator_wattlayer.h"

namespace wattfleet {

std::string_view TargetName(Target t) { return t == Target::kEnergy ? "energy" : "time"; }
double TargetOf(const LayerSample& s, Target t) {
  return t == Target::kEnergy ? s.energy_j : s.time_s;
}
double TargetOf(const ModelSample& s, Target t) {
  return t == Target::kEnergy ? s.energy_j : s.time_s;
}

namespace {

// The factor per-iteration features scale by from batch `from` to `to`; 1 where either is not
// a batch (the sample is then returned as it is).
double BatchFactor(int64_t from, int64_t to) {
  if (from == to || from <= 0 || to <= 0) return 1.0;
  return static_cast<double>(to) / static_cast<double>(from);
}

}  // namespace

LayerSample AtBatch(const LayerSample& s, int64_t batch) {
  const double f = BatchFactor(s.batch, batch);
  if (f == 1.0) return s;
  LayerSample out = s;
  // An optimiser's step is the same at every batch.
  if (const std::optional<LayerType> type = ParseLayerType(s.type);
      type && IsOptimizerStep(*type)) {
    out.batch = batch;
    return out;
  }
  out.macs *= f;
  out.flops *= f;
  out.input_elements *= f;
  out.output_elements *= f;
  out.batch = batch;
  return out;
}

ModelSample AtBatch(const ModelSample& m, int64_t batch) {
  const double f = BatchFactor(m.batch, batch);
  if (f == 1.0) return m;
  ModelSample out = m;
  out.macs *= f;
  out.flops *= f;
  out.batch = batch;
  return out;
}

Result<Estimate> PredictMonotoneInBatch(const Estimator& estimator, const ModelSample& model,
                                        const LayerCatalog& catalog) {
  WF_ASSIGN_OR_RETURN(Estimate e, estimator.Predict(model, catalog));
  std::vector<int64_t> smaller;
  for (int64_t b = 1; b < model.batch && b <= kMonotoneExact; ++b) smaller.push_back(b);
  for (int64_t p = kMonotoneExact; p < model.batch && p < (int64_t{1} << 40); p *= 2) {
    if (p > kMonotoneExact) smaller.push_back(p);
    if (3 * p / 2 < model.batch) smaller.push_back(3 * p / 2);
  }
  int64_t raised_from = 0;
  double best = e.value;
  for (int64_t b : smaller) {
    auto lower = estimator.Predict(AtBatch(model, b), catalog);
    if (lower.ok() && lower->value > best) {
      best = lower->value;
      raised_from = b;
    }
  }
  if (raised_from > 0) {
    const double f = e.value > 0 ? best / e.value : 0;
    for (double& v : e.layers) v *= f;
    if (e.value <= 0) {
      e.layers.clear();
      e.std = -1;  // nothing to scale from: no stated uncertainty
    }
    if (e.std >= 0) e.std *= f;
    if (e.interval && f > 0) {
      e.interval->first *= f;
      e.interval->second *= f;
    } else {
      e.interval.reset();
    }
    e.value = best;
    e.warnings.push_back("raised to the estimate at batch " + std::to_string(raised_from) +
                         " (the method predicted less at batch " + std::to_string(model.batch) +
                         "; more samples never cost less)");
  }
  return e;
}

std::vector<double> LeastSquares(const std::vector<std::vector<double>>& rows,
                                 const std::vector<double>& y) {
  if (rows.empty() || rows.size() != y.size()) return {};
  const Eigen::Index n = static_cast<Eigen::Index>(rows.size());
  const Eigen::Index p = static_cast<Eigen::Index>(rows[0].size());
  Eigen::MatrixXd X(n, p);
  Eigen::VectorXd b(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < p; ++j) X(i, j) = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
    b(i) = y[static_cast<size_t>(i)];
  }
  // Column scaling keeps MACs (1e9) and intercepts (1) in one well-conditioned system.
  Eigen::VectorXd scale = X.colwise().norm().transpose();
  for (Eigen::Index j = 0; j < p; ++j) {
    if (scale(j) == 0) return {};
    X.col(j) /= scale(j);
  }
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(X);
  if (qr.rank() < p) return {};
  Eigen::VectorXd coef = qr.solve(b);
  std::vector<double> out(static_cast<size_t>(p));
  for (Eigen::Index j = 0; j < p; ++j) out[static_cast<size_t>(j)] = coef(j) / scale(j);
  return out;
}

Status CheckStateOf(const nlohmann::json& state, const std::string& estimator) {
  if (!state.is_object()) return Status::Corruption(estimator + ": stored state is not an object");
  auto it = state.find("estimator");
  if (it == state.end() || !it->is_string()) {
    return Status::Corruption(estimator + ": stored state names no estimator");
  }
  if (*it != estimator) {
    return Status::Corruption(estimator + ": the stored state belongs to '" +
                              it->get<std::string>() + "'");
  }
  return Status::OK();
}

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

std::vector<std::string> EstimatorNames() {
  return {kMeasuredEstimatorNames.begin(), kMeasuredEstimatorNames.end()};
}

namespace {

// The method alone, without its physical bounds.
EstimatorFactory MethodFactory(const std::string& name) {
  if (name == "macs") return [] { return std::unique_ptr<Estimator>(std::make_unique<MacsEstimator>()); };
  if (name == "tdp") return [] { return std::unique_ptr<Estimator>(std::make_unique<TdpEstimator>()); };
  if (name == "wattlayer") return MakeLayerwiseEstimator;
  if (name == "wattlayer-paper") return MakeWattLayerPaperEstimator;
  if (name == "measured-layers") return MakeMeasuredLayersEstimator;
  if (name == "thor") return MakeThorEstimator;
  if (name == "pre") return MakePreEstimator;
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<Estimator>> MakeEstimator(const std::string& name) {
  // Every method is held to the device's physical bounds (bounded_estimator.h).
  if (EstimatorFactory make = MethodFactory(name)) return WithPhysicalBounds(std::move(make));
  std::string known;
  for (const auto& n : EstimatorNames()) known += (known.empty() ? "" : ", ") + n;
  return Status::NotFound("unknown estimator '" + name + "'; known: " + known);
}

}  // namespace wattfleet
