// Pieces of the layer-wise estimators (estimator_layerwise.cc) that are not the estimator:
// stored batch keys, the flags a prediction gathers, repeats averaged.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/physical_bounds.h"

namespace wattfleet::layerwise {

// A stored batch key: a whole number ≥ 0 written in full ("12x" is not 12).
std::optional<int64_t> BatchOf(const std::string& text);

// What one prediction met that its reader should know, gathered over its layers and
// stated once each (Estimate::warnings); and the small-data interval's ends.
struct Flags {
  std::set<std::string> unseen;                // types without a curve of their own
  std::map<std::string, double> beyond;        // group → largest work / largest fitted work
  std::set<int64_t> scaled_from;               // batches measured layers were scaled from
  double low = 0, high = 0;                    // the layers' interval ends, summed
  bool mapped_update = false;  // an update with mapped weights, priced without one measured

  std::vector<std::string> Warnings(int64_t batch) const;
};

// Repeats of one layer at one batch averaged: distinct layers, not repeats, are the evidence
// a curve rests on, and a dataset of many repeated campaigns fits as fast as one of each.
std::vector<LayerSample> MeansOfRepeats(const std::vector<LayerSample>& layers, Target target);

// How fast a group's cost per unit of work still falls at the top of its measured range: the
// elasticity α = −d ln(cost / W) / d ln W, by least squares over its distinct layers within a
// tenth of its largest work, clamped to [0, `prior`]. `prior` where those have fewer than 3
// distinct works or span less than 2x: too little to see a trend.
double UpperTrend(const std::vector<const LayerSample*>& samples, Target target, double prior);

// The same elasticity, clamped to [0, `cap`], from as few as `min_works` distinct works
// (at least 2); nothing where they cannot show one.
std::optional<double> SeenTrend(const std::vector<const LayerSample*>& samples, Target target,
                                double cap, size_t min_works);

// A 1x1 convolution (its cost group ends in "/1x1").
bool IsPointwise(const LayerSample& s);
// An LSTM or a GRU: its time steps run one after another.
bool IsRecurrent(const LayerSample& s);

// Where the agents' batch-1 1x1 convolutions ran between their 3x3 convolution's peak (0) and
// their matrix product's (1), in log rate; 0.5 where any of the three is unknown or the two
// peaks are within 2x. libtorch on a CPU runs such a layer through its BLAS or oneDNN by
// thread count and shape; a GPU's cuDNN through its convolutions.
double PointwiseWeight(const PhysicalBounds& bounds);

}  // namespace wattfleet::layerwise
