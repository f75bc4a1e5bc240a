// The probes active profiling chooses among (docs/campaign.md, plan.active): THOR's full
// grid over a width list, and the small seed a kind starts from.
//
// A probe is a role and its widths: an output or input probe at one width, a hidden probe at
// an ordered pair. Named like BuildProbe names the models ("<kind>/<role>/<w1>[x<w2>]").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/probe.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ProbePoint {
  ProbeRole role = ProbeRole::kOutput;
  std::vector<int64_t> widths;  // {C} for output and input probes, {C1, C2} for hidden ones

  // Output before input before hidden, then by widths: the deterministic order of the grid
  // and of ties between equally uncertain candidates.
  bool operator<(const ProbePoint& other) const;
  bool operator==(const ProbePoint& other) const;
};

// "<kind>/<role>/<w1>[x<w2>]", as BuildProbe names the probe model.
std::string ProbePointName(const std::string& kind, const ProbePoint& point);

// Every probe over the distinct `widths`, in ProbePoint order: an output and an input probe
// per width and a hidden probe per ordered pair (2n + n² probes).
std::vector<ProbePoint> ProbeGrid(const std::vector<int64_t>& widths);

// The probes a kind starts from under plan.active, in ProbePoint order. With the distinct
// widths sorted, s the smallest, m the middle one (lower middle for an even count) and l the
// largest: output and input probes at s, m and l, hidden probes at the four corners (s,s),
// (s,l), (l,s), (l,l) and the centre (m,m). That is 11 probes for 3 or more widths: the
// fewest that give THOR's GPs what they need to be fitted (2 distinct widths for E_out and
// E_in, 3 distinct pairs for E_hid) while spanning the whole grid, so that the first
// uncertainties are interpolations rather than extrapolations.
std::vector<ProbePoint> ActiveSeed(const std::vector<int64_t>& widths);

// The probe models of `points` for every kind, kind by kind. Errors name the kind.
Result<std::vector<Architecture>> BuildProbePoints(const std::vector<ProbeKind>& kinds,
                                                   const std::vector<ProbePoint>& points);

}  // namespace wattfleet
