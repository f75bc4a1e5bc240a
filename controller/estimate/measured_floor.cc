#include "wattfleet/estimate/measured_floor.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "wattfleet/estimate/layer_cost.h"

namespace wattfleet {
namespace {

constexpr size_t kDims = MeasuredFloor::kDims;
// A larger layer measured below this fraction of a smaller one's cost is a different kernel,
// not noise (repeats of one layer differ by a few per cent).
constexpr double kContradiction = 0.8;

void DimsOf(const LayerSample& s, double* d) {
  d[0] = s.macs;
  d[1] = s.flops;
  d[2] = s.params;
  d[3] = s.input_elements;
  d[4] = s.output_elements;
  // The batch too: the same work in more, smaller samples can cost more (libtorch's
  // convolution backward loops over samples; a 1x1 convolution of 32 positions trains in half
  // the time at batch 2 as at batch 8).
  // An optimiser's update is the same at every batch.
  const std::optional<LayerType> type = ParseLayerType(s.type);
  d[5] = type && IsOptimizerStep(*type) ? 1.0 : static_cast<double>(s.batch);
  // The kernel calls: an update over 38 tensors paid 0.5 ms for 132 k parameters, one over 8
  // tensors 0.19 ms for 135 k; fewer parameters in more tensors is no smaller update.
  d[6] = std::max(1.0, s.calls);
}

bool Equal(const double* a, const double* b) {
  for (size_t i = 0; i < kDims; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// a is at most b in every dimension.
bool Below(const double* a, const double* b) {
  for (size_t i = 0; i < kDims; ++i) {
    if (a[i] > b[i]) return false;
  }
  return true;
}

std::string Where(const LayerSample& s) { return CostGroup(s) + "|" + s.mode; }

}  // namespace

void MeasuredFloor::Fit(const std::vector<LayerSample>& layers, Target target) {
  points_.clear();
  // One point per layer and features: the mean of its measurements.
  using Id = std::tuple<std::string, std::string, double, double>;
  std::map<Id, std::pair<double, int>> sums;
  std::map<Id, const LayerSample*> first;
  for (const LayerSample& s : layers) {
    const double cost = TargetOf(s, target);
    if (!(cost > 0)) continue;
    const Id id{Where(s), s.key, s.input_elements, s.output_elements};
    auto& [sum, n] = sums[id];
    sum += cost;
    ++n;
    first.emplace(id, &s);
  }
  std::map<std::string, std::vector<Point>> all;
  for (const auto& [id, sn] : sums) {
    Point p;
    DimsOf(*first.at(id), p.dims);
    p.cost = sn.first / sn.second;
    all[std::get<0>(id)].push_back(p);
  }
  for (auto& [where, pts] : all) {
    // A point the device itself contradicts is no floor: a layer measured with at least its
    // work in every dimension ran clearly faster (libtorch switches kernels by shape; a 3x3
    // convolution at batch 1 takes oneDNN only past 20 480 input elements, several times
    // faster than the path below).
    std::vector<Point> usable;
    for (size_t i = 0; i < pts.size(); ++i) {
      bool contradicted = false;
      for (size_t j = 0; j < pts.size() && !contradicted; ++j) {
        contradicted = i != j && Below(pts[i].dims, pts[j].dims) &&
                       pts[j].cost < kContradiction * pts[i].cost;
      }
      if (!contradicted) usable.push_back(pts[i]);
    }
    // A point is redundant where another, no larger in any dimension, cost as much or more:
    // whatever outdoes the first outdoes the second, whose floor is at least as high.
    std::vector<Point> kept;
    for (size_t i = 0; i < usable.size(); ++i) {
      bool redundant = false;
      for (size_t j = 0; j < usable.size() && !redundant; ++j) {
        if (i == j || !Below(usable[j].dims, usable[i].dims)) continue;
        redundant = usable[j].cost > usable[i].cost ||
                    (usable[j].cost == usable[i].cost && j < i);
      }
      if (!redundant) kept.push_back(usable[i]);
    }
    points_[where] = std::move(kept);
  }
}

double MeasuredFloor::Of(const LayerSample& s) const {
  auto it = points_.find(Where(s));
  if (it == points_.end()) return 0;
  double d[kDims];
  DimsOf(s, d);
  double floor = 0;
  // Not the layer's own measurement (nor one of exactly its work): a method may calibrate
  // that (measured-layers scales it by κ); a floor is what a smaller layer cost.
  for (const Point& p : it->second) {
    if (Below(p.dims, d) && !Equal(p.dims, d)) floor = std::max(floor, p.cost);
  }
  return floor;
}

nlohmann::json MeasuredFloor::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [where, pts] : points_) {
    nlohmann::json list = nlohmann::json::array();
    for (const Point& p : pts) {
      nlohmann::json row = nlohmann::json::array();
      for (double d : p.dims) row.push_back(d);
      row.push_back(p.cost);
      list.push_back(std::move(row));
    }
    j[where] = std::move(list);
  }
  return j;
}

Status MeasuredFloor::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Corruption("measured floor: not an object");
  std::map<std::string, std::vector<Point>> restored;
  for (const auto& [where, list] : j.items()) {
    if (!list.is_array()) return Status::Corruption("measured floor: " + where + " not a list");
    for (const auto& row : list) {
      if (!row.is_array() || row.size() != kDims + 1) {
        return Status::Corruption("measured floor: a malformed point of " + where);
      }
      Point p;
      for (size_t i = 0; i < kDims; ++i) {
        if (!row[i].is_number()) return Status::Corruption("measured floor: not a number");
        p.dims[i] = row[i].get<double>();
      }
      if (!row[kDims].is_number()) return Status::Corruption("measured floor: not a number");
      p.cost = row[kDims].get<double>();
      restored[where].push_back(p);
    }
  }
  points_ = std::move(restored);
  return Status::OK();
}

}  // namespace wattfleet
