// Every estimator as MakeEstimator hands it out: the method itself, held to the device's
// physical bounds (physical_bounds.h).
//
// - Time: no layer is predicted below its lower bound (its work at the device's best rate,
//   its bytes at the best memory rate, the per-call floor, each with kBoundMargin), and a
//   whole model not below the sum of its layers' bounds.
// - Energy comes from the same method's time: the energy estimator fits a time twin of its
//   method on the same samples, and keeps every layer's (or the model's) energy between the
//   idle power and the highest power of the device times that time. So energy over time, the
//   power a prediction implies, is always one a physicist would accept.
// - A non-finite or negative prediction is refused (Internal), never printed.
// - The reach: how far beyond the work measured the estimate goes (Estimate::reach).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "wattfleet/estimate/estimator.h"

namespace wattfleet {

// Makes a fresh, unbounded estimator of the same method (the time twin of an energy one).
using EstimatorFactory = std::function<std::unique_ptr<Estimator>()>;

std::unique_ptr<Estimator> WithPhysicalBounds(EstimatorFactory make);

}  // namespace wattfleet
