// The layer-sum check (docs/measurement.md, "Quality flags"): a whole model's measured time
// against the sum of its layers' measured times on the same device class, mode and batch.
// Per-layer overheads and fusion move the ratio a little (0.8-1.1 on the quickstart); far
// outside [kLayerSumMin, kLayerSumMax], one of the two was disturbed (a ResNet-18 whose layers
// summed to 7.4x its whole-model time on a busy machine) and neither should teach an
// estimator. A property of several measurements, not of one: it is derived where they meet
// (fit, the run summary), not stored with a measurement.
#pragma once

#include <optional>
#include <vector>

#include "wattfleet/estimate/training_data.h"

namespace wattfleet {

inline constexpr double kLayerSumMin = 1.0 / 3.0;
inline constexpr double kLayerSumMax = 3.0;

inline bool LayerSumOutOfRange(double ratio) {
  return ratio < kLayerSumMin || ratio > kLayerSumMax;
}

// Σ time of `model`'s layers / its own time, from the layer samples of its device class, mode
// and batch (of its own campaign when that measured them, else of any); nullopt when one of
// its layers was not measured so, or it has none (probes).
std::optional<double> LayerSumRatio(const ModelSample& model,
                                    const std::vector<LayerSample>& layers);

// Leaves out of `data` the whole-model samples whose ratio is out of range; returns how many.
int64_t DropLayerSumOutliers(TrainingData* data);

}  // namespace wattfleet
