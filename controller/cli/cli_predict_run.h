// `wattfleet predict --mode training`: the step's optimiser and loss, and the energy and time
// of a whole training run (`--samples M --epochs N`) from the energy and time of one step.
#pragma once

#include <nlohmann/json.hpp>

#include "cli_predict.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct TrainingStep {
  Optimizer optimizer = Optimizer::kSgd;
  Loss loss = Loss::kCrossEntropy;
};

// The step the options name. InvalidArgument naming the flag: an unknown optimiser or loss,
// --optimizer, --loss, --samples or --epochs outside training, --epochs without --samples,
// and counts outside their ranges.
Result<TrainingStep> CheckTrainingStep(const PredictOptions& options);

// Sets p->run from its per-step figures and intervals when --samples was given.
void AddRunTotal(const PredictOptions& options, Prediction* p);

// The --json "run" object (null without --samples), and its lines of the table.
nlohmann::json RunTotalJson(const Prediction& p);
void PrintRunTotal(const Prediction& p);

}  // namespace wattfleet
