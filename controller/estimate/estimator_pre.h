// PRE, pre-training regression estimation (del Rey et al., docs/design/estimators.md section 4): kernel
// ridge regression from an architecture's features (FLOPs per iteration, parameters, batch
// size, input size) and its device's features (cores, memory, peak throughput, maximum
// power) to energy (or time) per iteration. A model-level method: it attributes nothing to
// layers. Because the device enters only through its features, it predicts for a device
// that has no measurement at all.
#pragma once

#include <array>
#include <memory>

#include "wattfleet/estimate/estimator.h"

namespace wattfleet {

std::unique_ptr<Estimator> MakePreEstimator();

// PRE's raw features of a sample, before log-scaling and standardisation, in the order
// flops, params, batch, input size, cores, memory, peak FLOP/s, max power; 0 means unknown
// (the fit treats it as the training mean).
constexpr size_t kPreFeatures = 8;
std::array<double, kPreFeatures> PreFeatures(const ModelSample& m);

}  // namespace wattfleet
