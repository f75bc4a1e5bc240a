// THOR as an Estimator (docs/design/estimators.md section 1): one ThorKindModel per probed layer kind
// and batch size, fitted from the probe measurements among the model samples; it predicts
// the architectures whose THOR signature (thor_signature.h) names a fitted kind.
#pragma once

#include <memory>

#include "wattfleet/estimate/estimator.h"

namespace wattfleet {

std::unique_ptr<Estimator> MakeThorEstimator();

}  // namespace wattfleet
