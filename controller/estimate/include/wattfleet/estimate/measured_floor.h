// No layer priced below a measured one it outdoes: a layer whose work is at least that of a
// layer measured in the same cost group (Conv2d/1x1, LSTM, AdamStep, ...) and mode in every
// dimension (MACs, FLOPs, parameters, elements read and written, per iteration, batch, and
// kernel calls: an update's tensors) costs at least what that layer measured. A curve fitted
// on few layers of a type, or one that does not grow with work, can price a 2 x 128 LSTM
// below a 1 x 128 one measured in the same dataset; this floor makes that impossible
// (docs/estimators.md, "Physical bounds"). A measured layer the device itself contradicts (a
// larger one of its group ran clearly faster: another kernel) is no floor.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/training_data.h"

namespace wattfleet {

class MeasuredFloor {
 public:
  // The dimensions a layer is compared in (measured_floor.cc, DimsOf).
  static constexpr size_t kDims = 7;

  // The layers' costs for `target`, averaged per layer and features (repeats and campaigns
  // of one layer are one point), without the points the device contradicts or another point
  // makes redundant.
  void Fit(const std::vector<LayerSample>& layers, Target target);
  // The highest cost measured of a layer of `s`'s group and mode that `s` equals or exceeds in
  // every dimension and exceeds in one at least (never its own measurement); 0 where there is
  // none.
  double Of(const LayerSample& s) const;

  nlohmann::json ToJson() const;
  // Corruption for a malformed state.
  Status FromJson(const nlohmann::json& j);

 private:
  struct Point {
    double dims[kDims];
    double cost;
  };
  std::map<std::string, std::vector<Point>> points_;  // by "group|mode"
};

}  // namespace wattfleet
