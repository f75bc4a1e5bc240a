// A device's physical bounds from its own measurements (physical_bounds.h).
#include "wattfleet/estimate/physical_bounds.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/layer_cost.h"

namespace wattfleet {
namespace {

bool Positive(double v) { return v > 0 && std::isfinite(v); }

}  // namespace

bool IsViewLayer(const LayerSample& s) {
  if (s.type == "Flatten" || s.type == "SelectToken") return true;
  // Dropout is the identity in eval mode; in training it draws a mask over its tensor.
  return s.type == "Dropout" && s.mode != "training";
}

double PhysicalBounds::LeastCostPerWork(const std::string& kind) const {
  auto it = best_rate.find(kind);
  return it != best_rate.end() && it->second > 0 ? 1.0 / (it->second * kBoundMargin) : 0.0;
}

double PhysicalBounds::LayerLowerBound(const LayerSample& s) const {
  double bound = 0;
  if (!IsViewLayer(s)) {
    bound = std::max(bound, LayerWork(s) * LeastCostPerWork(std::string(WorkKind(s))));
    if (memory_rate > 0) {
      bound = std::max(bound, kBytesPerElement * LayerMemory(s) / (memory_rate * kBoundMargin));
    }
  }
  if (floor > 0) bound = std::max(bound, floor / kBoundMargin);
  return bound;
}

double PhysicalBounds::LayerCeiling(const LayerSample& s) const {
  const double w = LayerWork(s);
  // A layer of its group measured at no more work, whose cost per unit of work includes its
  // call's: this one's is no higher.
  if (auto group = group_cost.find(CostGroup(s)); group != group_cost.end() && !IsViewLayer(s)) {
    const auto& points = group->second;
    auto above = std::upper_bound(points.begin(), points.end(), w,
                                  [](double work, const auto& p) { return work < p.first; });
    if (above != points.begin()) {
      return std::max(kCeilingFactor * w * std::prev(above)->second, LayerLowerBound(s));
    }
  }
  const auto worst = worst_cost.find(std::string(WorkKind(s)));
  if (worst == worst_cost.end() || !(dearest_call > 0)) {
    return std::numeric_limits<double>::infinity();
  }
  const double ceiling =
      kCeilingFactor * ((IsViewLayer(s) ? 0.0 : w * worst->second) + dearest_call);
  return std::max(ceiling, LayerLowerBound(s));
}

nlohmann::json PhysicalBounds::ToJson() const {
  return {{"best_rate", best_rate}, {"memory_rate", memory_rate}, {"floor", floor},
          {"idle_w", idle_w},       {"max_w", max_w},             {"kin_peak", kin_peak},
          {"pointwise_rate", pointwise_rate}, {"worst_cost", worst_cost},
          {"group_cost", group_cost}, {"dearest_call", dearest_call}};
}

Result<PhysicalBounds> PhysicalBounds::FromJson(const nlohmann::json& j) {
  try {
    PhysicalBounds b;
    b.best_rate = j.at("best_rate").get<std::map<std::string, double>>();
    b.memory_rate = j.at("memory_rate").get<double>();
    b.floor = j.at("floor").get<double>();
    b.idle_w = j.at("idle_w").get<double>();
    b.max_w = j.at("max_w").get<double>();
    b.kin_peak = j.at("kin_peak").get<std::map<std::string, double>>();
    b.pointwise_rate = j.at("pointwise_rate").get<double>();
    b.worst_cost = j.at("worst_cost").get<std::map<std::string, double>>();
    b.group_cost =
        j.at("group_cost").get<std::map<std::string, std::vector<std::pair<double, double>>>>();
    b.dearest_call = j.at("dearest_call").get<double>();
    bool ok = b.memory_rate >= 0 && b.floor >= 0 && b.idle_w >= 0 && b.max_w >= 0 &&
              std::isfinite(b.memory_rate) && std::isfinite(b.floor) &&
              std::isfinite(b.idle_w) && std::isfinite(b.max_w) &&
              b.pointwise_rate >= 0 && std::isfinite(b.pointwise_rate) &&
              b.dearest_call >= 0 && std::isfinite(b.dearest_call);
    for (const auto& [kind, cost] : b.worst_cost) ok = ok && Positive(cost);
    for (const auto& [group, points] : b.group_cost) {
      for (size_t i = 0; i < points.size(); ++i) {
        ok = ok && Positive(points[i].first) && Positive(points[i].second) &&
             (i == 0 || (points[i].first > points[i - 1].first &&
                         points[i].second < points[i - 1].second));
      }
    }
    for (const auto& [kind, rate] : b.best_rate) ok = ok && Positive(rate);
    for (const auto& [kin, rate] : b.kin_peak) ok = ok && Positive(rate);
    if (!ok) return Status::Corruption("physical bounds: a stored bound is not a positive figure");
    return b;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("physical bounds: malformed state: ") + e.what());
  }
}

PhysicalBounds FitPhysicalBounds(const std::vector<LayerSample>& layers,
                                 const std::vector<ModelSample>& models, Target target) {
  PhysicalBounds b;
  for (const LayerSample& s : layers) {
    const double v = TargetOf(s, target);
    if (!Positive(v)) continue;
    // A loss, an update or an embedding costs per call, per parameter or per table: its rate
    // per element bounds no other layer that counts elements (PricedByOwnKinOnly).
    if (!IsViewLayer(s) && !PricedByOwnKinOnly(s.type)) {
      double& rate = b.best_rate[std::string(WorkKind(s))];
      rate = std::max(rate, LayerWork(s) / v);
      b.memory_rate = std::max(b.memory_rate, kBytesPerElement * LayerMemory(s) / v);
      if (LayerWork(s) > 0) {
        double& worst = b.worst_cost[std::string(WorkKind(s))];
        worst = std::max(worst, v / LayerWork(s));
      }
    }
    // Each group's own costs per unit of work, a loss's, an update's and an embedding's too:
    // they bound only their own group's ceiling.
    if (!IsViewLayer(s) && LayerWork(s) > 0) {
      b.group_cost[CostGroup(s)].emplace_back(LayerWork(s), v / LayerWork(s));
    }
    b.floor = b.floor > 0 ? std::min(b.floor, v) : v;
    b.dearest_call = std::max(b.dearest_call, v);
  }
  // Each group's least cost per unit of work at no more work: where it falls, by work.
  for (auto& [group, points] : b.group_cost) {
    std::sort(points.begin(), points.end());
    std::vector<std::pair<double, double>> steps;
    for (const auto& [work, cost] : points) {
      if (!steps.empty() && steps.back().first == work) {
        steps.back().second = std::min(steps.back().second, cost);
        continue;
      }
      if (steps.empty() || cost < steps.back().second) steps.emplace_back(work, cost);
    }
    points = std::move(steps);
  }
  for (auto it = b.best_rate.begin(); it != b.best_rate.end();) {
    it = it->second > 0 ? std::next(it) : b.best_rate.erase(it);
  }
  if (target == Target::kTime) {
    // The declared peak (float32 FLOP/s of a matrix product; 2 FLOPs per MAC) raises the
    // measured best: small layers never reach it, so without it a large layer would be bound
    // by the small layers' rate, which it exceeds.
    double peak = 0, conv = 0, pointwise = 0;
    for (const ModelSample& m : models) {
      peak = std::max(peak, m.device.peak_flops);
      conv = std::max(conv, m.device.peak_conv_flops);
      pointwise = std::max(pointwise, m.device.pointwise_flops);
    }
    if (Positive(pointwise)) b.pointwise_rate = pointwise / 2;
    if (Positive(peak)) b.kin_peak["matmul"] = peak / 2;
    if (Positive(conv)) b.kin_peak["conv"] = conv / 2;
    peak = std::max(peak, conv);
    if (Positive(peak)) {
      double& macs = b.best_rate["macs"];
      macs = std::max(macs, peak / 2);
      double& flops = b.best_rate["flops"];
      flops = std::max(flops, peak);
    }
    return b;
  }
  // Energy: the power band. Idle power is what the agent subtracted from a window (raw less
  // dynamic energy over its time); the highest power is raw energy over time, or the declared
  // limit where higher.
  double idle = 0, high = 0;
  auto see = [&](double energy, double dynamic, double time) {
    if (!Positive(energy) || !Positive(time)) return;
    high = std::max(high, energy / time);
    const double idle_w = (energy - dynamic) / time;
    if (dynamic > 0 && Positive(idle_w)) idle = idle > 0 ? std::min(idle, idle_w) : idle_w;
  };
  for (const LayerSample& s : layers) see(s.energy_j, s.energy_dynamic_j, s.time_s);
  for (const ModelSample& m : models) {
    see(m.energy_j, m.energy_dynamic_j, m.time_s);
    if (Positive(m.device.max_power_w)) high = std::max(high, m.device.max_power_w);
  }
  b.idle_w = std::min(idle, high);
  b.max_w = high;
  return b;
}

}  // namespace wattfleet
