// The layer-wise estimators "wattlayer" and "measured-layers" (docs/estimators.md):
// WattLayer's decomposition E_model = κ · Σ Ê_layer with per-group cost curves that saturate
// (layer_cost.h) in place of the paper's per-type regressions, and bounds on what a type the
// fit never saw may cost. The paper's own method is "wattlayer-paper"
// (estimator_wattlayer.h).
#pragma once

#include <memory>

#include "wattfleet/estimate/estimator.h"

namespace wattfleet {

std::unique_ptr<Estimator> MakeLayerwiseEstimator();
// The same, with the layers the training set measured used as measured (interpolated between
// measured batches) and only the others regressed.
std::unique_ptr<Estimator> MakeMeasuredLayersEstimator();

}  // namespace wattfleet
