// The cost of one layer as a function of its size, for the layer-wise estimators.
//
// A layer's time (or energy) per iteration is modelled as a non-negative combination of
// basis functions of its work W (MACs, else FLOPs, else input elements, per iteration) and
// its memory traffic M (input + output elements + parameters):
//
//   saturating:  t = t0 + b · W / η(W)            η(W) = 1 − exp(−k · W^α),  0 < α ≤ 1
//   saturating+memory:  t = t0 + b · W / η(W) + c · M
//   linear:      t = t0 + b · W + c · M
//   regimes:     t = W · exp(r(x))      r: a regression tree over the layer's features
//
// η is the power-law paper's hardware efficiency (Mayaki & Charpenay) with η_max folded into
// b: small operations run far below the hardware's throughput and large ones approach it, so
// a cost fitted on small layers grows sub-linearly at first and linearly once η saturates.
// t0 is the per-call overhead that dominates small layers on a CPU. (α, k) are chosen on a
// grid and the coefficients by non-negative least squares on relative residuals (so that a
// 10 µs ReLU counts as much as a 10 ms convolution). Every basis is non-decreasing in W and M
// and every coefficient is ≥ 0, so a curve's prediction never falls as the batch (or any size)
// grows.
//
// Regimes: a framework does not run every layer of a type with one kernel. libtorch on a CPU,
// for one, runs a convolution through oneDNN or through its own im2col path depending on its
// kernel, stride, batch and input size, at rates 10-16x apart (bench/RESULTS.md). No smooth
// curve in W fits that; a regression tree of depth ≤ 6 on log(t / W) over the layer's
// features (log work, input, output and parameter counts, kernel, stride, grouping, batch,
// work per parameter) finds the regimes from the measurements themselves. Within a leaf the
// cost is linear in W. A tree is not monotone across its splits (nor is the framework: a
// batch-2 convolution can run faster than a batch-1 one), so the estimators guard monotonicity
// in the batch at the architecture level (estimator.h, PredictMonotoneInBatch).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/common/status.h"
#include "wattfleet/numeric/regression_tree.h"

namespace wattfleet {

enum class CostShape { kSaturating, kSaturatingMemory, kLinear, kRegimes };
// "saturating" | "saturating+memory" | "linear" | "regimes"
std::string_view CostShapeName(CostShape s);

// W and M of a layer sample, per iteration.
double LayerWork(const LayerSample& s);
// What W counts: "macs", "flops" or "elements" (LayerWork's choice), so that costs per unit of
// work are only compared between layers that count work the same way.
std::string_view WorkKind(const LayerSample& s);
double LayerMemory(const LayerSample& s);

// The group a layer's cost is fitted in: its type, with convolutions split by kind since a
// depthwise 3x3 and a dense 1x1 convolution of equal MACs run at very different speeds on
// every device ("Conv2d/grouped", "Conv2d/1x1", "Conv2d/kxk").
std::string CostGroup(const LayerSample& s);
// The kin of a layer type: the kind of kernel it runs on every framework ("matmul" for Linear,
// attention, Transformer blocks and recurrent cells; "conv"; "elementwise"; "norm"; "pool";
// "copy" for layers that move their tensor; "view"; "gather" for an embedding; "loss" and
// "update" for a training step's parts), "" for a type it does not know. A type
// without a curve of its own is priced by its kin's curves first: a Transformer block runs
// matrix products at a Linear's rate, not at a convolution's.
std::string_view CostKin(std::string_view type);
// A type whose cost per unit of work is like no other's — a training step's loss (per call)
// or optimiser update (per parameter), an embedding (per table in training): priced by its
// own kin first, and never in a pool that prices other types by their kind of work, nor in
// the physical bounds' best rates.
bool PricedByOwnKinOnly(std::string_view type);

// The type part of a group ("Conv2d" for "Conv2d/1x1").
std::string CostGroupType(const std::string& group);

class LayerCostModel {
 public:
  // Fits `shape` on the samples' `target`. Unavailable when too few samples with a positive
  // target remain, or none of the bases can be fitted.
  static Result<LayerCostModel> Fit(const std::vector<const LayerSample*>& samples,
                                    CostShape shape, Target target);
  double Predict(const LayerSample& s) const;
  CostShape shape() const { return shape_; }
  // The range of work the fit saw (for flagging extrapolation).
  double work_min() const { return work_min_; }
  double work_max() const { return work_max_; }

  nlohmann::json ToJson() const;
  static Result<LayerCostModel> FromJson(const nlohmann::json& j);

 private:
  std::vector<double> Basis(const LayerSample& s) const;

  CostShape shape_ = CostShape::kLinear;
  RegressionTree tree_;  // kRegimes only: log(t / W) over the layer's features
  double alpha_ = 1, k_ = 1;  // η(W) of the saturating shapes
  std::vector<double> coef_;  // one per basis, all >= 0
  double work_min_ = 0, work_max_ = 0;
};

// Median APE of `shape` fitted per group under K-fold cross-validation over distinct layer
// keys (repeats of one layer stay in one fold). Infinity when a fold cannot be fitted.
double CrossValidateCost(const std::vector<const LayerSample*>& samples, CostShape shape,
                         Target target, size_t folds = 5);

// |ln(predicted / measured)| of every layer of `samples` under the same K-fold cross-validation
// (what the layer-wise small-data interval is made of). Empty when a fold cannot be fitted.
std::vector<double> CrossValidatedLogErrors(const std::vector<const LayerSample*>& samples,
                                            CostShape shape, Target target, size_t folds = 5);

}  // namespace wattfleet
