// The human summary printed at the end of a campaign: figures per layer type and per model,
// including how well the sum of a model's layers predicts the measured whole model.
#pragma once

#include <string>
#include <vector>

#include "wattfleet/plan/planner.h"
#include "wattfleet/store/store.h"

namespace wattfleet {

std::string FormatSummary(const Plan& plan, const std::vector<ExportRow>& rows);

// How many of `rows` carry quality flags, per flag with what it means, and what to do: use
// them (--include-flagged) or measure them again. Empty when none does.
std::string FormatFlagged(const std::vector<ExportRow>& rows);

}  // namespace wattfleet
