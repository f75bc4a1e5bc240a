// `wattfleet fit` on the dataset's own measurements: every estimator fitted per device class
// and scored on held-out architectures (docs/estimators.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

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

// Exit code: 0, or 2 for bad options or a dataset that cannot be read.
int CmdEvaluate(const EvaluateOptions& options);

// Whether `db` holds whole-model measurements of its own (false for a dataset of imported
// measurements only, or one that cannot be read).
bool HasOwnModelMeasurements(const std::string& db);

}  // namespace wattfleet
