// Active profiling's probe grid and seed (active_grid.h).
#include "wattfleet/campaign/active_grid.h"

#include <algorithm>
#include <functional>
#include <tuple>

namespace wattfleet {
namespace {

std::vector<int64_t> SortedDistinct(std::vector<int64_t> widths) {
  std::sort(widths.begin(), widths.end());
  widths.erase(std::unique(widths.begin(), widths.end()), widths.end());
  return widths;
}

int RoleOrder(ProbeRole role) {
  switch (role) {
    case ProbeRole::kOutput: return 0;
    case ProbeRole::kInput: return 1;
    case ProbeRole::kHidden: return 2;
  }
  return 3;
}

}  // namespace

bool ProbePoint::operator<(const ProbePoint& other) const {
  return std::make_tuple(RoleOrder(role), std::cref(widths)) <
         std::make_tuple(RoleOrder(other.role), std::cref(other.widths));
}

bool ProbePoint::operator==(const ProbePoint& other) const {
  return role == other.role && widths == other.widths;
}

std::string ProbePointName(const std::string& kind, const ProbePoint& point) {
  std::string name = kind + "/" + std::string(ProbeRoleName(point.role)) + "/";
  for (size_t i = 0; i < point.widths.size(); ++i) {
    name += (i ? "x" : "") + std::to_string(point.widths[i]);
  }
  return name;
}

std::vector<ProbePoint> ProbeGrid(const std::vector<int64_t>& widths) {
  const std::vector<int64_t> w = SortedDistinct(widths);
  std::vector<ProbePoint> grid;
  for (ProbeRole role : {ProbeRole::kOutput, ProbeRole::kInput}) {
    for (int64_t c : w) grid.push_back(ProbePoint{role, {c}});
  }
  for (int64_t c1 : w) {
    for (int64_t c2 : w) grid.push_back(ProbePoint{ProbeRole::kHidden, {c1, c2}});
  }
  return grid;
}

std::vector<ProbePoint> ActiveSeed(const std::vector<int64_t>& widths) {
  const std::vector<int64_t> w = SortedDistinct(widths);
  if (w.empty()) return {};
  const int64_t s = w.front(), m = w[(w.size() - 1) / 2], l = w.back();
  std::vector<ProbePoint> seed;
  for (ProbeRole role : {ProbeRole::kOutput, ProbeRole::kInput}) {
    for (int64_t c : {s, m, l}) seed.push_back(ProbePoint{role, {c}});
  }
  const std::vector<std::vector<int64_t>> pairs = {{s, s}, {s, l}, {l, s}, {l, l}, {m, m}};
  for (const std::vector<int64_t>& pair : pairs) {
    seed.push_back(ProbePoint{ProbeRole::kHidden, pair});
  }
  // Fewer than 3 widths make some of these coincide.
  std::sort(seed.begin(), seed.end());
  seed.erase(std::unique(seed.begin(), seed.end()), seed.end());
  return seed;
}

Result<std::vector<Architecture>> BuildProbePoints(const std::vector<ProbeKind>& kinds,
                                                   const std::vector<ProbePoint>& points) {
  std::vector<Architecture> probes;
  for (const ProbeKind& kind : kinds) {
    for (const ProbePoint& p : points) {
      WF_ASSIGN_OR_RETURN(Architecture a, BuildProbe(kind, p.role, p.widths));
      probes.push_back(std::move(a));
    }
  }
  return probes;
}

}  // namespace wattfleet
