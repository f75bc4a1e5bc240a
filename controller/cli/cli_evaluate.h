// `wattfleet fit` on the dataset's own measurements: every estimator fitted per device class
// and scored on held-out architectures (docs/estimators.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct EvaluateOptions {
  std::string db;
  std::optional<std::string> device;    // only this device class
  std::vector<std::string> estimators;  // empty: all of EstimatorNames()
  std::string target = "both";          // energy | time | both
  std::string split = "kfold";          // kfold | lofo | both
  int folds = 5;
  // Campaigns never trained on; their whole models are scored (split "campaign").
  std::vector<std::string> holdout_campaigns;
  // Train and score on measurements with quality flags too (left out by default).
  bool include_flagged = false;
  bool json = false;
};

// Evaluates and stores the fits; the --json document (results[], models[], models_note,
// flagged_left_out, layer_sum_left_out; docs/design/cli.md). InvalidArgument for bad options
// or a dataset that cannot be read. Progress goes to stdout as a bar, or to stderr as plain
// lines with `json`.
Result<nlohmann::json> EvaluateDataset(const EvaluateOptions& options);

// Exit code: 0, or 2 for bad options or a dataset that cannot be read.
int CmdEvaluate(const EvaluateOptions& options);

// Whether `db` holds layer or whole-model measurements the estimators train on (its own or
// imported ones); false for a dataset of imported operations only (the power law's), or one
// that cannot be read.
bool HasEstimatorSamples(const std::string& db);

}  // namespace wattfleet
