// WattLayer (ESTIMATORS.md section 2): one regression per layer type on the layer's features,
// the variant chosen per type by cross-validation, and a per-device calibration factor κ from
// whole-model measurements: E_model = κ · Σ Ê_layer.
#pragma once

#include <memory>

#include "estimator.h"

namespace wattfleet {

std::unique_ptr<Estimator> MakeWattLayerEstimator();
// WattLayer with the measurements of layers the training set holds used as measured, and
// only the others regressed ("measured-layers").
std::unique_ptr<Estimator> MakeMeasuredLayersEstimator();

}  // namespace wattfleet
