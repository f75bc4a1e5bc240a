// Every estimator by name, in one table that everything listing or checking a name reads: a
// campaign's `estimators:` is checked against it when the file is parsed, `fit`'s and
// `predict`'s help texts list it, and the estimate library builds the measured ones from it
// (estimator_registry.cc, a test holds the two to each other). It sits here, below the
// estimators, so that parsing a campaign needs none of them.
#pragma once

#include <array>
#include <string_view>

namespace wattfleet {

enum class EstimatorKind {
  kMeasured,    // fitted on a dataset's measurements by `fit`, used by `predict`
  kOperations,  // fitted on imported operation measurements (`fit --estimator powerlaw`)
  kProjection,  // projects a training run from its first epochs (`wattfleet project`)
};

struct EstimatorInfo {
  std::string_view name;
  EstimatorKind kind;
  std::string_view help;  // one line, for help texts and listings
};

inline constexpr std::array<EstimatorInfo, 9> kEstimatorCatalog = {{
    {"macs", EstimatorKind::kMeasured, "energy and time linear in the network's MACs"},
    {"tdp", EstimatorKind::kMeasured, "the device's power times the MACs model's time"},
    {"wattlayer", EstimatorKind::kMeasured,
     "per layer type, cost curves over each layer's work, summed (WattLayer, refitted)"},
    {"wattlayer-paper", EstimatorKind::kMeasured,
     "WattLayer's per-type linear regressions as published"},
    {"measured-layers", EstimatorKind::kMeasured,
     "each layer's own measurement where the dataset has it, wattlayer otherwise"},
    {"thor", EstimatorKind::kMeasured,
     "THOR's Gaussian processes over 1/2/3-layer probes of a chain"},
    {"pre", EstimatorKind::kMeasured, "PRE: whole-model regression on network features"},
    {"powerlaw", EstimatorKind::kOperations,
     "the power-law efficiency model, on imported operation measurements"},
    {"step", EstimatorKind::kProjection, "STEP: a training run projected from its first epochs"},
}};

}  // namespace wattfleet
