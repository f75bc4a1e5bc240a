// Evaluation the way a reviewer would do it: estimators are fitted without the architectures
// they are scored on (grouped k-fold by architecture, or leave-one-family-out), and scored on
// the held-out architectures' whole-model measurements.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "estimator.h"

namespace wattfleet {

enum class Split { kGroupedKFold, kLeaveOneFamilyOut };
std::string_view SplitName(Split s);  // "kfold" | "lofo"

// One held-out prediction: an architecture's measurement and what the estimator, fitted
// without it, predicted for it.
struct EvalPoint {
  std::string architecture;
  double measured = 0, predicted = 0;
};

struct EvalResult {
  std::string device;  // device class
  std::string mode;
  std::string estimator;
  std::string level = "architecture";
  std::string target;  // "energy" | "time"
  std::string split;
  double median_ape = 0, mape = 0, p90_ape = 0, r2 = 0;  // APEs as fractions
  int n = 0;                                            // held-out predictions scored
  std::vector<std::string> unmodelled;  // layer types without their own model (any fold)
  std::string error;                    // why nothing was scored, if n == 0
  std::vector<EvalPoint> points;        // the n scored predictions, fold by fold
};

// Called each time an estimator has been fitted and scored on one fold, with its name: what
// a progress display counts.
using FoldDone = std::function<void(const std::string& estimator)>;

// How many times Evaluate() with these arguments calls `fold_done`: estimators × folds of
// every device class and mode with at least two groups of architectures to hold out.
int64_t EvaluationFolds(const TrainingData& data, size_t estimators, Target target, Split split,
                        int folds = 5);

// Held-out layers: a layer whose key appears only in held-out architectures is not trained on
// (its features are still known, as they would be for an unmeasured architecture).
std::vector<EvalResult> Evaluate(const TrainingData& data,
                                 const std::vector<std::string>& estimators, Target target,
                                 Split split, int folds = 5, const FoldDone& fold_done = nullptr);

}  // namespace wattfleet
