// The baselines every method is compared against (docs/estimators.md): `macs`, energy and
// time linear in the network's MACs, and `tdp`, the device's power under load times the MACs
// model's time.
#pragma once

#include <memory>

#include "wattfleet/estimate/estimator.h"

namespace wattfleet {

std::unique_ptr<Estimator> MakeMacsEstimator();
std::unique_ptr<Estimator> MakeTdpEstimator();

}  // namespace wattfleet
