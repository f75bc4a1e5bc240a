#include "layerwise_state.h"

#include <cmath>
#include <exception>
#include <optional>

#include "wattfleet/estimate/estimator.h"
#include "layerwise_support.h"

namespace wattfleet::layerwise {
namespace {

using Json = nlohmann::json;

// A stored table keyed by batch, its keys written as whole numbers.
template <typename T>
Json ByBatch(const std::map<int64_t, T>& m) {
  Json out = Json::object();
  for (const auto& [batch, v] : m) out[std::to_string(batch)] = v;
  return out;
}

// Every value of `table` a positive finite figure; else names the first that is not.
std::optional<std::string> FirstNotAFigure(const std::map<std::string, double>& table) {
  for (const auto& [key, v] : table) {
    if (!(v > 0) || !std::isfinite(v)) return key;
  }
  return std::nullopt;
}

std::optional<std::string> FirstNotARange(
    const std::map<std::string, std::pair<double, double>>& table) {
  for (const auto& [key, r] : table) {
    if (!(r.first > 0) || !(r.first <= r.second) || !std::isfinite(r.second)) return key;
  }
  return std::nullopt;
}

}  // namespace

Json FittedState::StateJson(const std::string& name) const {
  Json curves = Json::object();
  for (const auto& [group, c] : curves_) curves[group] = c.ToJson();
  Json measured = Json::object();
  for (const auto& [key, batches] : measured_) measured[key] = ByBatch(batches);
  return {{"estimator", name},         {"kappa", ByBatch(kappa_)}, {"curves", curves},
          {"work_kinds", work_kind_},  {"measured", measured},
          {"ratio_range", ratio_range_}, {"kin_range", kin_range_},
          {"unmodelled", unmodelled_}, {"log_q", log_q_},
          {"top_cost", top_cost_},     {"kappa_log_q", kappa_log_q_},
          {"type_cost", type_cost_},   {"view_cost", view_cost_},
          {"type_top_work", type_top_work_}, {"trend", trend_},
          {"bounds", bounds_.ToJson()}, {"mapped_update_seen", mapped_update_seen_}};
}

Status FittedState::ReadState(const Json& j, const std::string& name) {
  WF_RETURN_IF_ERROR(CheckStateOf(j, name));
  auto corrupt = [&name](const std::string& what) {
    return Status::Corruption(name + ": " + what);
  };
  try {
    curves_.clear();
    for (const auto& [group, c] : j.at("curves").items()) {
      WF_ASSIGN_OR_RETURN(LayerCostModel curve, LayerCostModel::FromJson(c));
      curves_.emplace(group, std::move(curve));
    }
    work_kind_ = j.at("work_kinds").get<std::map<std::string, std::string>>();
    ratio_range_ = j.at("ratio_range").get<std::map<std::string, std::pair<double, double>>>();
    kin_range_ = j.at("kin_range").get<std::map<std::string, std::pair<double, double>>>();
    for (const auto* ranges : {&ratio_range_, &kin_range_}) {
      if (auto bad = FirstNotARange(*ranges)) {
        return corrupt("stored cost range of " + *bad + " is not a range");
      }
    }
    measured_.clear();
    for (const auto& [key, batches] : j.at("measured").items()) {
      for (const auto& [batch, v] : batches.items()) {
        const std::optional<int64_t> b = BatchOf(batch);
        const double value = v.get<double>();
        if (!b || !(value > 0) || !std::isfinite(value)) {
          return corrupt("stored measurement of " + key + " at batch '" + batch +
                         "' is not a positive value");
        }
        measured_[key][*b] = value;
      }
    }
    unmodelled_ = j.at("unmodelled").get<std::vector<std::string>>();
    log_q_ = j.at("log_q").get<std::map<std::string, double>>();
    top_cost_ = j.at("top_cost").get<std::map<std::string, double>>();
    type_cost_ = j.at("type_cost").get<std::map<std::string, double>>();
    view_cost_ = j.at("view_cost").get<std::map<std::string, double>>();
    type_top_work_ = j.at("type_top_work").get<std::map<std::string, double>>();
    trend_ = j.at("trend").get<std::map<std::string, double>>();
    for (const auto& [group, a] : trend_) {
      if (!(a >= 0 && a <= kBeyondAlpha)) {
        return corrupt("stored trend of " + group + " is out of range");
      }
    }
    for (const auto* costs : {&view_cost_, &type_cost_}) {
      if (auto bad = FirstNotAFigure(*costs)) {
        return corrupt("stored cost of " + *bad + " is not a figure");
      }
    }
    kappa_log_q_ = j.at("kappa_log_q").get<double>();
    mapped_update_seen_ = j.at("mapped_update_seen").get<bool>();
    WF_ASSIGN_OR_RETURN(bounds_, PhysicalBounds::FromJson(j.at("bounds")));
    bool spreads_ok = kappa_log_q_ >= 0 && std::isfinite(kappa_log_q_);
    for (const auto& [group, q] : log_q_) spreads_ok = spreads_ok && q >= 0 && std::isfinite(q);
    if (!spreads_ok || FirstNotAFigure(top_cost_)) {
      return corrupt("stored interval spreads are not figures");
    }
    kappa_.clear();
    for (const auto& [batch, k] : j.at("kappa").items()) {
      const std::optional<int64_t> b = BatchOf(batch);
      if (!b) return corrupt("stored κ of batch '" + batch + "'");
      kappa_[*b] = k.get<double>();
    }
    bool kappa_ok = !kappa_.empty();
    for (const auto& [batch, k] : kappa_) kappa_ok = kappa_ok && batch >= 0 && k > 0;
    if (!HasPricing() || !kappa_ok) return corrupt("stored state has no curve or no κ");
    return Status::OK();
  } catch (const std::exception& e) {
    return corrupt(std::string("malformed stored state: ") + e.what());
  }
}

}  // namespace wattfleet::layerwise
