// THOR probe planning: which layer kinds a campaign's architectures call for, and the probe
// models that profile them (docs/design/estimators.md section 1).
//
// A kind is taken from each architecture's input layer (its first Conv1d/Conv2d, Linear, LSTM
// or GRU, with nothing but Flatten or Dropout before it): its type, the hyper-parameters other than widths, the network input and the
// network's output width. Convolutions must keep the spatial size ("same" padding, stride 1)
// so that the output layer sees one input size at every probe depth; other kinds are skipped
// with the reason.
#pragma once

#include <string>
#include <vector>

#include "wattfleet/common/probe.h"

namespace wattfleet {

struct ProbeKindPlan {
  std::vector<ProbeKind> kinds;         // distinct, in first-seen order
  std::vector<std::string> skipped;     // "architecture 'x': why", one per skipped one
};

// The kind of `arch`'s input layer, or the reason it has none.
Result<ProbeKind> ProbeKindOf(const Architecture& arch);

ProbeKindPlan DeriveProbeKinds(const std::vector<Architecture>& architectures);

// Every probe of every kind over `widths`: one output and one input probe per width, one
// hidden probe per ordered pair of widths. Errors name the kind.
Result<std::vector<Architecture>> BuildProbeModels(const std::vector<ProbeKind>& kinds,
                                                   const std::vector<int64_t>& widths);

}  // namespace wattfleet
