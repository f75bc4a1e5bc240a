// The estimator names, in one list for every place that takes one: a campaign's `estimators:`
// is checked against it when the file is parsed, and `fit`/`predict` build from it. It sits
// here, below the estimators, so that parsing a campaign needs none of them; a unit test
// (estimator_test) holds MakeEstimator to exactly the measured ones.
#pragma once

#include <array>
#include <string_view>

namespace wattfleet {

// Fitted on a dataset's measurements by `fit` and used by `predict` (MakeEstimator).
inline constexpr std::array<std::string_view, 7> kMeasuredEstimatorNames = {
    "macs", "tdp", "wattlayer", "wattlayer-paper", "measured-layers", "thor", "pre"};

// Every name a campaign may list: the measured ones, plus the power law (fitted on imported
// operations, `fit --estimator powerlaw`) and STEP (`wattfleet project`).
inline constexpr std::array<std::string_view, 9> kCampaignEstimatorNames = {
    "macs", "tdp", "wattlayer", "wattlayer-paper", "measured-layers", "thor", "pre",
    "powerlaw", "step"};

}  // namespace wattfleet
