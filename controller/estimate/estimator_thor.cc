// THOR estimator: probes grouped by kind and batch, a ThorKindModel each.
#include "estimator_thor.h"

#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "wattfleet/common/layer.h"
#include "wattfleet/estimate/thor_model.h"

namespace wattfleet {
namespace {

// Probe measurements of one kind hold their batch fixed: a kind measured at batch 16 says
// nothing about batch 64.
std::string KindKey(const std::string& kind, int64_t batch) {
  return kind + "@b" + std::to_string(batch);
}

Result<ProbeRole> RoleFromName(const std::string& name) {
  if (name == "output") return ProbeRole::kOutput;
  if (name == "input") return ProbeRole::kInput;
  if (name == "hidden") return ProbeRole::kHidden;
  return Status::InvalidArgument("thor: unknown probe role '" + name + "'");
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class ThorEstimator final : public Estimator {
 public:
  std::string name() const override { return "thor"; }

  Status Fit(const std::vector<LayerSample>&, const std::vector<ModelSample>& models,
             Target target) override {
    kinds_.clear();
    std::map<std::string, std::vector<ThorProbe>> probes;
    for (const ModelSample& m : models) {
      if (m.kind != JobKind::kProbe || m.thor_kind.empty()) continue;
      Result<ProbeRole> role = RoleFromName(m.probe_role);
      if (!role.ok()) continue;
      probes[KindKey(m.thor_kind, m.batch)].push_back({*role, m.thor_widths, TargetOf(m, target)});
    }
    if (probes.empty()) {
      return Status::Unavailable("thor: no probe measurements (set plan.thor_probes in the "
                                 "campaign)");
    }
    std::string reasons;
    for (auto& [key, list] : probes) {
      // Repeats of one probe (the same campaign run again) are averaged: the GPs' cost grows
      // with the cube of their points, and a dataset of thirty repeated campaigns holds no
      // more configurations than one.
      std::map<std::pair<int, std::vector<int64_t>>, std::pair<double, int>> sums;
      for (const ThorProbe& p : list) {
        auto& [sum, n] = sums[{static_cast<int>(p.role), p.widths}];
        sum += p.value;
        ++n;
      }
      list.clear();
      for (const auto& [where, sn] : sums) {
        list.push_back({static_cast<ProbeRole>(where.first), where.second, sn.first / sn.second});
      }
      Result<ThorKindModel> model = ThorKindModel::Fit(list);
      if (!model.ok()) {
        reasons += (reasons.empty() ? "" : "; ") + key + ": " + model.status().message();
        continue;
      }
      kinds_.emplace(key, std::move(model).value());
    }
    if (kinds_.empty()) return Status::Unavailable("thor: no kind could be fitted (" + reasons + ")");
    return Status::OK();
  }

  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog& catalog) const override {
    if (m.thor_kind.empty()) {
      return Status::Unavailable("thor: '" + m.name + "' is not a chain of a probed layer kind");
    }
    auto it = kinds_.find(KindKey(m.thor_kind, m.batch));
    if (it == kinds_.end()) {
      return Status::Unavailable("thor: kind " + m.thor_kind + " was not probed at batch " +
                                 std::to_string(m.batch));
    }
    WF_ASSIGN_OR_RETURN(ThorPrediction p, it->second.Predict(m.thor_widths));
    Estimate e;
    e.value = p.mean;
    e.std = std::sqrt(p.variance);
    e.layers = Attribute(m, catalog, p.parts);
    return e;
  }

  nlohmann::json ToJson() const override {
    nlohmann::json kinds = nlohmann::json::object();
    for (const auto& [key, model] : kinds_) kinds[key] = model.ToJson();
    return {{"estimator", name()}, {"kinds", kinds}};
  }

  Status FromJson(const nlohmann::json& j) override {
    WF_RETURN_IF_ERROR(CheckStateOf(j, name()));
    auto kinds = j.find("kinds");
    if (kinds == j.end() || !kinds->is_object()) {
      return Status::Corruption("thor: stored state lacks its kinds");
    }
    std::map<std::string, ThorKindModel> restored;
    for (const auto& [key, model] : kinds->items()) {
      WF_ASSIGN_OR_RETURN(ThorKindModel m, ThorKindModel::FromJson(model));
      restored.emplace(key, std::move(m));
    }
    kinds_ = std::move(restored);
    return Status::OK();
  }

 private:
  // THOR's parts onto the architecture's nodes: each part to the node of the kind's type it
  // models (its activation and pooling ride along), the output part to the network's last
  // node. Empty
  // when the nodes do not line up one to one (a stacked LSTM is one node of several parts).
  static std::vector<double> Attribute(const ModelSample& m, const LayerCatalog& catalog,
                                       const std::vector<double>& parts) {
    const std::string type = m.thor_kind.substr(0, m.thor_kind.find('-'));
    std::vector<size_t> of_type;
    for (size_t i = 0; i < m.layer_keys.size(); ++i) {
      auto it = catalog.find(m.layer_keys[i]);
      if (it == catalog.end()) return {};
      if (Lower(it->second.type) == type) of_type.push_back(i);
    }
    // A Linear kind's output layer is one of the Linears; other kinds end in a Linear.
    const size_t chain = parts.size() - 1;
    if (type == "linear" ? of_type.size() != chain + 1 : of_type.size() != chain) return {};
    if (m.layer_keys.empty()) return {};
    std::vector<double> out(m.layer_keys.size(), 0.0);
    for (size_t i = 0; i < chain; ++i) out[of_type[i]] = parts[i];
    // The network's last node, before a training step's loss and update (THOR's probes are
    // trained whole: their curves hold those two already).
    size_t last = m.layer_keys.size() - 1;
    while (last > 0) {
      const std::optional<LayerType> t = ParseLayerType(catalog.at(m.layer_keys[last]).type);
      if (!t || !IsTrainingStepPart(*t)) break;
      --last;
    }
    out[last] += parts.back();
    return out;
  }

  std::map<std::string, ThorKindModel> kinds_;
};

}  // namespace

std::unique_ptr<Estimator> MakeThorEstimator() { return std::make_unique<ThorEstimator>(); }

}  // namespace wattfleet
