// The estimators `fit` and `predict` build, by name: the measured kind of the catalog
// (wattfleet/campaign/estimator_catalog.h), each with its factory. Adding one is its own
// files, its row in the catalog and its line here; estimator_test holds the two lists to each
// other.
#include <algorithm>
#include <utility>

#include "estimator_baselines.h"
#include "estimator_layerwise.h"
#include "estimator_pre.h"
#include "estimator_thor.h"
#include "estimator_wattlayer.h"
#include "wattfleet/campaign/estimator_catalog.h"
#include "wattfleet/estimate/bounded_estimator.h"
#include "wattfleet/estimate/estimator.h"

namespace wattfleet {
namespace {

// The method alone, without its physical bounds.
using MethodFactory = std::unique_ptr<Estimator> (*)();

constexpr std::pair<std::string_view, MethodFactory> kFactories[] = {
    {"macs", MakeMacsEstimator},
    {"tdp", MakeTdpEstimator},
    {"wattlayer", MakeLayerwiseEstimator},
    {"wattlayer-paper", MakeWattLayerPaperEstimator},
    {"measured-layers", MakeMeasuredLayersEstimator},
    {"thor", MakeThorEstimator},
    {"pre", MakePreEstimator},
};

MethodFactory FactoryOf(std::string_view name) {
  for (const auto& [n, make] : kFactories) {
    if (n == name) return make;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> EstimatorNames() {
  std::vector<std::string> names;
  for (const EstimatorInfo& e : kEstimatorCatalog) {
    if (e.kind == EstimatorKind::kMeasured) names.emplace_back(e.name);
  }
  return names;
}

Result<std::unique_ptr<Estimator>> MakeEstimator(const std::string& name) {
  const auto info = std::find_if(kEstimatorCatalog.begin(), kEstimatorCatalog.end(),
                                 [&](const EstimatorInfo& e) { return e.name == name; });
  const MethodFactory make = info != kEstimatorCatalog.end() &&
                                     info->kind == EstimatorKind::kMeasured
                                 ? FactoryOf(name)
                                 : nullptr;
  // Every method is held to the device's physical bounds (bounded_estimator.h).
  if (make != nullptr) return WithPhysicalBounds(make);
  std::string known;
  for (const auto& n : EstimatorNames()) known += (known.empty() ? "" : ", ") + n;
  return Status::NotFound("unknown estimator '" + name + "'; known: " + known);
}

}  // namespace wattfleet
