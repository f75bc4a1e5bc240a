// What a device can physically do, learnt from its own measurements (and its declared peak
// where the agent reported one), so that no estimator predicts faster than the device's best,
// below its per-call floor, or at a power it never drew (docs/estimators.md, "Physical
// bounds").
//
// For one target (time or energy) and one device class:
// - the best rate of each kind of work: the most MACs (FLOPs, elements) per second, or per
//   joule, that any measured layer reached; for time, raised to the declared peak (the agent's
//   float32 matrix-product run: 2 FLOPs per MAC);
// - the best memory rate: the most bytes (4 per element read or written, parameters
//   included) per second or per joule any measured layer moved;
// - the per-call floor: the cheapest layer call measured;
// - for energy, the power band: the idle power the agents measured (the lowest), and the
//   highest power measured or declared;
// - for time, the declared peak of each kin of kernels (a matrix product, a convolution): on
//   a CPU the two can be 20x apart, as libtorch runs them through different libraries.
//
// A layer's lower bound is its work at the best rate, its bytes at the best memory rate, or
// the floor, whichever is largest, each divided by kBoundMargin: measurements are noisy and a
// whole model can run a layer a little faster than it ran alone, but never kBoundMargin times
// faster than the fastest the device was ever seen to go.
//
// A layer's ceiling is kCeilingFactor times its work at the least cost per unit of work any
// layer of its cost group measured at no more work had (their calls included): a device runs
// a large layer at least as efficiently as a smaller one of its group (per-call overhead makes
// the small ones the least efficient). Without such a layer, kCeilingFactor times its work at
// the slowest cost per unit of work any layer of its kind of work had, plus the dearest layer
// call measured. A method pricing a model above its layers' ceilings together (a log-linear
// curve extrapolated out of its range can reach 1e100 s; the paper's regressions priced a
// 3 GMAC BERT step at 1 378 times its time under a ceiling taken from a two-logit
// classifier's cost per MAC) is held there.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/training_data.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

enum class Target;

inline constexpr double kBoundMargin = 1.5;
inline constexpr double kCeilingFactor = 10.0;
// Bytes per element for the memory bound: float32. A float16 layer moves half as many, so its
// bound is looser, never wrong.
inline constexpr double kBytesPerElement = 4.0;

// Layers that do no work of their own at inference: views (Flatten, SelectToken) and Dropout
// outside training. They are priced from their own measurements, else at the per-call floor,
// never as element-wise work over their tensor.
bool IsViewLayer(const LayerSample& s);

struct PhysicalBounds {
  std::map<std::string, double> best_rate;  // WorkKind → work per second (or per joule)
  // Time only: the declared MAC/s of a kin's kernels ("matmul" from the agent's matrix
  // product, "conv" from its 3x3 convolution), where reported: what a layer far beyond the
  // measured ones tends to (layer_cost.h CostKin).
  std::map<std::string, double> kin_peak;
  // Time only: the MAC/s of a batch-1 1x1 convolution, where reported (0 unknown): whether the
  // framework runs such a layer at its matrix products' rate or at its convolutions'.
  double pointwise_rate = 0;
  // WorkKind → the highest cost per unit of work (s or J) a measured layer had; the dearest
  // layer call measured (0 unknown).
  std::map<std::string, double> worst_cost;
  // Cost group → (work, the least cost per unit of work of the group's layers measured at no
  // more work), the points where that least cost falls, by work.
  std::map<std::string, std::vector<std::pair<double, double>>> group_cost;
  double dearest_call = 0;
  double memory_rate = 0;                   // bytes per second (or per joule); 0 unknown
  double floor = 0;                         // cheapest layer call (s or J); 0 unknown
  double idle_w = 0, max_w = 0;             // power band; 0 unknown (energy only)

  bool empty() const { return best_rate.empty() && memory_rate <= 0 && floor <= 0; }
  // The least a layer may cost (0 when nothing bounds it).
  double LayerLowerBound(const LayerSample& s) const;
  // The most a layer may cost (infinity where neither a layer of its group at no more work nor
  // one of its kind of work was measured), at least its lower bound.
  double LayerCeiling(const LayerSample& s) const;
  // The least cost per unit of work for `kind` (1 / (best rate · margin)); 0 unknown.
  double LeastCostPerWork(const std::string& kind) const;
  // Whether the band is known: a highest power (the idle end may be 0 where no idle was
  // measured, as for imported rows).
  bool HasPowerBand() const { return max_w > 0 && idle_w >= 0 && idle_w <= max_w; }

  nlohmann::json ToJson() const;
  static Result<PhysicalBounds> FromJson(const nlohmann::json& j);
};

// The bounds of `target` from one device class's samples.
PhysicalBounds FitPhysicalBounds(const std::vector<LayerSample>& layers,
                                 const std::vector<ModelSample>& models, Target target);

}  // namespace wattfleet
