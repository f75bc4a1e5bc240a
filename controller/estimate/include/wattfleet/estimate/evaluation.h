// Evaluation the way a reviewer would do it: estimators are fitted without the architectures
// they are scored on (grouped k-fold by architecture, or leave-one-family-out), and scored on
// the held-out architectures' whole-model measurements.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "wattfleet/estimate/estimator.h"

namespace wattfleet {

enum class Split { kGroupedKFold, kLeaveOneFamilyOut, kHeldOutCampaigns };
std::string_view SplitName(Split s);  // "kfold" | "lofo" | "campaign"

// One held-out prediction: an architecture's measurement and what the estimator, fitted
// without it, predicted for it.
struct EvalPoint {
  std::string architecture;
  double measured = 0, predicted = 0;
  int fold = 0;  // the fold it was held out in
  int64_t batch = 1;
  // The estimate's own interval (Estimate::interval, the small-data interval) where it had
  // one.
  std::optional<std::pair<double, double>> own;
};

// How often the points' own intervals held their measurement, over the points that had one:
// {fraction, count}; count 0 when none had one.
struct OwnCoverageFigure {
  double fraction = -1;
  int n = 0;
};
OwnCoverageFigure OwnCoverage(const std::vector<EvalPoint>& points);

// A split-conformal prediction interval of nominal coverage 90 %: [p·e^−q, p·e^q] around a
// prediction p, with q the ⌈0.9 (n + 1)⌉-th smallest of n held-out |ln(predicted/measured)|
// (architecture-level errors, so the interval is as wide as the estimator's errors on
// architectures it was not fitted on). `coverage` is how often such intervals, each
// computed without the fold it is checked on, held the measurement (< 0: not computed).
inline constexpr double kIntervalLevel = 0.9;
struct Interval {
  double log_q = -1;  // < 0: no interval (too few held-out points)
  int n = 0;          // held-out points it rests on
  double coverage = -1;
  // Its nominal coverage: kIntervalLevel from 9 points on; with 2 to 8 points the largest
  // error, whose coverage is n / (n + 1) (the conformal guarantee for the maximum of n
  // exchangeable errors): an interval always, at the level the data can state.
  double level = kIntervalLevel;
  bool ok() const { return log_q >= 0 && std::isfinite(log_q); }
  double Low(double p) const { return p * std::exp(-log_q); }
  double High(double p) const { return p * std::exp(log_q); }
};
// The interval from held-out points; a point whose measurement or prediction is not positive
// counts as an unbounded error (so it widens, never narrows, the interval).
Interval ConformalInterval(const std::vector<EvalPoint>& points);
// The fraction of `points` inside `interval` around their predictions.
double Coverage(const Interval& interval, const std::vector<EvalPoint>& points);

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
  Interval interval;                    // from `points`, with its cross-fitted coverage
  OwnCoverageFigure own_coverage;       // of the estimates' own (small-data) intervals
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

// Layer-level evaluation, for a dataset of layer measurements alone (an imported lab's
// per-layer CSVs): grouped k-fold over distinct layers (a layer's repeats and batches stay in
// one fold), each held-out layer predicted as a model of that one layer. Results have level
// "layer" and split "kfold". Only methods that price layers can be scored; the others say why
// in `error`.
std::vector<EvalResult> EvaluateLayers(const TrainingData& data,
                                       const std::vector<std::string>& estimators,
                                       Target target, int folds = 5,
                                       const FoldDone& fold_done = nullptr);
// How many times EvaluateLayers calls `fold_done`.
int64_t LayerEvaluationFolds(const TrainingData& data, size_t estimators, Target target,
                             int folds = 5);

// Fits on all of `train` and scores on `test`'s whole models (split "campaign": held-out
// campaigns, e.g. architectures at sizes or batches the training set never measured).
// Coverage is that of `intervals` (by estimator, the k-fold intervals of the training set)
// where given.
std::vector<EvalResult> EvaluateHeldOut(const TrainingData& train, const TrainingData& test,
                                        const std::vector<std::string>& estimators,
                                        Target target,
                                        const std::map<std::string, Interval>& intervals = {},
                                        const FoldDone& fold_done = nullptr);

}  // namespace wattfleet
