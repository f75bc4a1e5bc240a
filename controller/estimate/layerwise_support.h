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

}  // namespace wattfleet::layerwise
