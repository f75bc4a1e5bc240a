// The estimator interface's shared pieces: targets, batch scaling, least squares, the stored
// state's check.
#include "wattfleet/estimate/estimator.h"


#include <algorithm>

#include "wattfleet/common/layer.h"
#include "wattfleet/estimate/layer_cost.h"

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

}  // namespace wattfleet
