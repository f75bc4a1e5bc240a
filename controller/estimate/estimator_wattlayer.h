// WattLayer (docs/design/estimators.md section 2): one regression per layer type on the layer's features,
// the variant chosen per type by cross-validation, and a per-device calibration factor κ from
// whole-model measurements: E_model = κ · Σ Ê_layer.
#pragma once

#include <memory>

#include "wattfleet/estimate/estimator.h"

namespace wattfleet {

// "wattlayer-paper": the method as the WattLayer paper states it, kept to be compared with
// "wattlayer" (estimator_layerwise.h), which replaces its per-type regressions.
std::unique_ptr<Estimator> MakeWattLayerPaperEstimator();

}  // namespace wattfleet
