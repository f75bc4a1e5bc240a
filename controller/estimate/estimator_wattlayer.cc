// WattLayer: per-type regressions chosen by cross-validation, calibrated by κ.
//
// Variants tried per type (features per iteration): linear on work (MACs, or FLOPs, or input
// elements for layers without MACs); multi-linear on MACs, parameters, input and output
// elements; and both again on log scales (log y on log(1 + feature)), which fit the
// multiplicative spread of layer costs better when sizes span decades. The variant with the
// lowest median absolute percentage error in K-fold cross-validation over distinct layers
// wins. Types with too few distinct layers for cross-validation get cost proportional to work
// (one ratio fitted through the origin on their own layers); types with no training layer at
// all use a global log-linear model on work and are reported as unmodelled.
#include "estimator_wattlayer.h"

#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/numeric/least_squares.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

namespace wattfleet {
namespace {

enum class Variant { kLinearWork, kMultiLinear, kLogWork, kLogMulti, kProportional };
constexpr Variant kVariants[] = {Variant::kLinearWork, Variant::kMultiLinear, Variant::kLogWork,
                                 Variant::kLogMulti};
constexpr size_t kMinDistinct = 4;  // distinct layers of a type needed for its own model

double Work(const LayerSample& s) {
  if (s.macs > 0) return s.macs;
  if (s.flops > 0) return s.flops;
  return s.input_elements;
}

bool IsLog(Variant v) { return v == Variant::kLogWork || v == Variant::kLogMulti; }

std::vector<double> Features(const LayerSample& s, Variant v) {
  switch (v) {
    case Variant::kLinearWork: return {Work(s), 1.0};
    case Variant::kMultiLinear:
      return {s.macs, s.params, s.input_elements, s.output_elements, 1.0};
    case Variant::kLogWork: return {std::log1p(Work(s)), 1.0};
    case Variant::kLogMulti:
      return {std::log1p(s.macs), std::log1p(s.params), std::log1p(s.input_elements),
              std::log1p(s.output_elements), 1.0};
    case Variant::kProportional: return {Work(s)};
  }
  return {};
}

struct Model {
  Variant variant = Variant::kLogWork;
  std::vector<double> coef;
  double Predict(const LayerSample& s) const {
    const std::vector<double> x = Features(s, variant);
    double y = 0;
    for (size_t i = 0; i < coef.size(); ++i) y += coef[i] * x[i];
    return IsLog(variant) ? std::exp(y) : y;
  }
};

// Drops feature columns that are constant zero in the sample set (e.g. params of ReLU), which
// would make the system rank-deficient, by fitting with them zeroed out of the coefficients.
std::vector<double> FitVariant(const std::vector<const LayerSample*>& samples, Variant v,
                               Target target) {
  std::vector<std::vector<double>> rows;
  std::vector<double> y;
  for (const LayerSample* s : samples) {
    const double value = TargetOf(*s, target);
    // A sample without this target (a time-only import) is no evidence of it.
    if (!(value > 0) || !std::isfinite(value)) continue;
    rows.push_back(Features(*s, v));
    y.push_back(IsLog(v) ? std::log(value) : value);
  }
  if (rows.empty()) return {};
  const size_t p = rows[0].size();
  std::vector<size_t> keep;
  for (size_t j = 0; j < p; ++j) {
    bool varies = j + 1 == p;  // the intercept stays
    for (const auto& r : rows) varies = varies || r[j] != rows[0][j];
    if (varies) keep.push_back(j);
  }
  if (rows.size() < keep.size()) return {};
  std::vector<std::vector<double>> reduced;
  for (const auto& r : rows) {
    std::vector<double> row;
    for (size_t j : keep) row.push_back(r[j]);
    reduced.push_back(std::move(row));
  }
  const std::vector<double> c = LeastSquares(reduced, y);
  if (c.empty()) return {};
  std::vector<double> coef(p, 0.0);
  for (size_t k = 0; k < keep.size(); ++k) coef[keep[k]] = c[k];
  return coef;
}

double MedianApe(std::vector<double> apes) {
  if (apes.empty()) return INFINITY;
  std::nth_element(apes.begin(), apes.begin() + static_cast<long>(apes.size() / 2), apes.end());
  return apes[apes.size() / 2];
}

// K-fold CV over distinct layer keys (repeats of one layer stay in one fold).
double CrossValidate(const std::vector<const LayerSample*>& samples, Variant v, Target target) {
  std::vector<std::string> keys;
  for (const LayerSample* s : samples) keys.push_back(s->key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  const size_t k = std::min<size_t>(5, keys.size());
  std::vector<double> apes;
  for (size_t fold = 0; fold < k; ++fold) {
    auto in_fold = [&](const LayerSample* s) {
      const size_t i = static_cast<size_t>(
          std::lower_bound(keys.begin(), keys.end(), s->key) - keys.begin());
      return i % k == fold;
    };
    std::vector<const LayerSample*> train;
    for (const LayerSample* s : samples) {
      if (!in_fold(s)) train.push_back(s);
    }
    Model m{v, FitVariant(train, v, target)};
    if (m.coef.empty()) return INFINITY;
    for (const LayerSample* s : samples) {
      if (!in_fold(s)) continue;
      const double truth = TargetOf(*s, target);
      if (truth <= 0) continue;
      apes.push_back(std::fabs(m.Predict(*s) - truth) / truth);
    }
  }
  return MedianApe(apes);
}

const char* VariantName(Variant v) {
  switch (v) {
    case Variant::kLinearWork: return "linear-work";
    case Variant::kMultiLinear: return "multi-linear";
    case Variant::kLogWork: return "log-work";
    case Variant::kLogMulti: return "log-multi";
    case Variant::kProportional: return "proportional";
  }
  return "";
}

Result<Variant> VariantFromName(const std::string& name) {
  for (Variant v : {Variant::kLinearWork, Variant::kMultiLinear, Variant::kLogWork,
                    Variant::kLogMulti, Variant::kProportional}) {
    if (name == VariantName(v)) return v;
  }
  return Status::Corruption("wattlayer-paper: unknown variant '" + name + "'");
}

nlohmann::json ModelToJson(const Model& m) {
  return {{"variant", VariantName(m.variant)}, {"coef", m.coef}};
}

Result<Model> ModelFromJson(const nlohmann::json& j) {
  Model m;
  WF_ASSIGN_OR_RETURN(m.variant, VariantFromName(j.at("variant").get<std::string>()));
  m.coef = j.at("coef").get<std::vector<double>>();
  if (m.coef.size() != Features(LayerSample{}, m.variant).size()) {
    return Status::Corruption("wattlayer-paper: coefficient count does not match its variant");
  }
  return m;
}

class WattLayerEstimator final : public Estimator {
 public:
  std::string name() const override { return "wattlayer-paper"; }

  Status Fit(const std::vector<LayerSample>& layers, const std::vector<ModelSample>& models,
             Target target) override {
    by_type_.clear();
    unmodelled_.clear();
    unseen_.clear();
    std::map<std::string, std::vector<const LayerSample*>> groups;
    std::vector<const LayerSample*> all;
    ratio_range_.clear();
    for (const LayerSample& s : layers) {
      groups[s.type].push_back(&s);
      all.push_back(&s);
      // The range of cost per unit of work, per kind of work: what bounds a type without a
      // model of its own.
      const double v = TargetOf(s, target), w = Work(s);
      if (v > 0 && w > 0) {
        auto [it, fresh] = ratio_range_.try_emplace(std::string(WorkKind(s)), v / w, v / w);
        it->second.first = std::min(it->second.first, v / w);
        it->second.second = std::max(it->second.second, v / w);
      }
    }
    fallback_ = Model{Variant::kLogWork, FitVariant(all, Variant::kLogWork, target)};
    if (fallback_.coef.empty()) {
      return Status::Unavailable(name() + ": needs layer measurements of at least two "
                                        "different sizes");
    }
    for (const auto& [type, samples] : groups) {
      std::set<std::string> distinct;
      for (const LayerSample* s : samples) distinct.insert(s->key);
      if (distinct.size() < kMinDistinct) {
        Model ratio{Variant::kProportional, FitVariant(samples, Variant::kProportional, target)};
        if (ratio.coef.empty()) {
          unmodelled_.push_back(type);
        } else {
          by_type_[type] = std::move(ratio);
        }
        continue;
      }
      double best = INFINITY;
      for (Variant v : kVariants) {
        const double score = CrossValidate(samples, v, target);
        if (score < best) {
          best = score;
          by_type_[type] = Model{v, FitVariant(samples, v, target)};
        }
      }
      if (!std::isfinite(best) || by_type_[type].coef.empty()) {
        by_type_.erase(type);
        unmodelled_.push_back(type);
      }
    }
    // κ by least squares through the origin over the device's whole-model measurements, on
    // relative errors (minimising Σ ((E − κ·S) / E)²): absolute residuals would let the few
    // largest models decide κ for all. The layer samples give the features of every layer
    // the training models contain.
    LayerCatalog catalog;
    for (const LayerSample& s : layers) catalog.emplace(s.key, s);
    double num = 0, den = 0;
    for (const ModelSample& m : models) {
      const double measured = TargetOf(m, target);
      if (m.layer_keys.empty() || measured <= 0) continue;
      Result<std::vector<double>> parts = LayerValues(m, catalog);
      if (!parts.ok()) continue;
      double sum = 0;
      for (double v : *parts) sum += v;
      const double ratio = sum / measured;
      num += ratio;
      den += ratio * ratio;
    }
    kappa_ = den > 0 ? num / den : 1.0;
    return Status::OK();
  }

  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog& catalog) const override {
    if (m.layer_keys.empty()) {
      return Status::Unavailable(name() + ": '" + m.name + "' has no layer list");
    }
    WF_ASSIGN_OR_RETURN(std::vector<double> parts, LayerValues(m, catalog));
    Estimate e;
    for (double& v : parts) {
      v *= kappa_;
      e.value += v;
    }
    e.layers = std::move(parts);
    std::set<std::string> unseen;
    for (const std::string& key : m.layer_keys) {
      auto it = catalog.find(key);
      if (it != catalog.end() && !by_type_.count(it->second.type)) unseen.insert(it->second.type);
    }
    for (const std::string& type : unseen) {
      e.warnings.push_back(type + " has no model of its own: the global fallback, clamped to "
                                  "the cost per unit of work measured");
    }
    return e;
  }

  nlohmann::json ToJson() const override {
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [type, m] : by_type_) types[type] = ModelToJson(m);
    return {{"estimator", name()},   {"kappa", kappa_},
            {"types", types},        {"fallback", ModelToJson(fallback_)},
            {"unmodelled", unmodelled_}, {"ratio_range", ratio_range_}};
  }

  Status FromJson(const nlohmann::json& j) override {
    try {
      if (j.at("estimator").get<std::string>() != name()) {
        return Status::Corruption(name() + ": the stored state belongs to '" +
                                  j.at("estimator").get<std::string>() + "'");
      }
      by_type_.clear();
      for (const auto& [type, m] : j.at("types").items()) {
        WF_ASSIGN_OR_RETURN(by_type_[type], ModelFromJson(m));
      }
      WF_ASSIGN_OR_RETURN(fallback_, ModelFromJson(j.at("fallback")));
      unmodelled_ = j.at("unmodelled").get<std::vector<std::string>>();
      ratio_range_ = j.at("ratio_range").get<std::map<std::string, std::pair<double, double>>>();
      for (const auto& [kind, range] : ratio_range_) {
        if (!(range.first > 0) || !(range.first <= range.second) || !std::isfinite(range.second)) {
          return Status::Corruption(name() + ": stored cost range of " + kind + " is not a range");
        }
      }
      kappa_ = j.at("kappa").get<double>();
      unseen_.clear();
      return Status::OK();
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(name() + ": malformed stored state: " + e.what());
    }
  }

  // Types fitted without a model of their own, and types met only at prediction time (both
  // predicted by the global fallback).
  std::vector<std::string> UnmodelledTypes() const override {
    std::set<std::string> all(unmodelled_.begin(), unmodelled_.end());
    all.insert(unseen_.begin(), unseen_.end());
    return {all.begin(), all.end()};
  }

 private:
  // Each layer's uncalibrated estimate, in the model's node order.
  Result<std::vector<double>> LayerValues(const ModelSample& m,
                                          const LayerCatalog& catalog) const {
    std::vector<double> out;
    out.reserve(m.layer_keys.size());
    for (const std::string& key : m.layer_keys) {
      auto it = catalog.find(key);
      if (it == catalog.end()) {
        return Status::NotFound(name() + ": no features for layer " + key);
      }
      const LayerSample s = AtBatch(it->second, m.batch);
      auto model = by_type_.find(s.type);
      if (model != by_type_.end()) {
        out.push_back(std::max(0.0, model->second.Predict(s)));
        continue;
      }
      unseen_.insert(s.type);
      // The paper has no answer for a type it has no model of; the global fallback is
      // clamped to the cost per unit of work seen for that kind of work, so it cannot price
      // a pooling layer above every layer measured.
      double v = std::max(0.0, fallback_.Predict(s));
      auto range = ratio_range_.find(std::string(WorkKind(s)));
      if (range != ratio_range_.end()) {
        v = std::clamp(v, range->second.first * Work(s), range->second.second * Work(s));
      }
      out.push_back(v);
    }
    return out;
  }

  std::map<std::string, Model> by_type_;
  std::map<std::string, std::pair<double, double>> ratio_range_;  // kind → min, max cost/work
  Model fallback_;
  std::vector<std::string> unmodelled_;
  mutable std::set<std::string> unseen_;  // a record of what Predict met, not model state
  double kappa_ = 1.0;
};

}  // namespace

std::unique_ptr<Estimator> MakeWattLayerPaperEstimator() {
  return std::make_unique<WattLayerEstimator>();
}

}  // namespace wattfleet
