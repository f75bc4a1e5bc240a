// THOR's view of an architecture (docs/design/estimators.md section 1): the probe kind it is made of and
// its widths C_1 … C_{n-1}, so that E_model = E_in(C_1) + Σ E_hid(C_{i-1}, C_i) + E_out(C_{n-1})
// can be predicted from the kind's probes.
//
// An architecture has a signature when it is exactly a chain its kind's probes are made of:
// the input layer (after nothing but Flatten or Dropout), hidden layers of the same type and
// fixed hyper-parameters (each with its ReLU for Conv/Linear; Dropout anywhere is ignored),
// then the kind's output layer. A CNN with pooling between its convolutions has none: its
// layers see other spatial sizes than the probes measured.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/probe.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ThorSignature {
  ProbeKind kind;
  std::vector<int64_t> widths;  // C_1 … C_{n-1}: at least one
};

// NotFound / InvalidArgument with the reason when `arch` is not a THOR chain.
Result<ThorSignature> ThorSignatureOf(const Architecture& arch);

// A probe model's name "<kind>/<role>/<w1>[x<w2>]" (BuildProbe) taken apart; InvalidArgument
// for anything else.
struct ProbeName {
  std::string kind;
  ProbeRole role = ProbeRole::kOutput;
  std::vector<int64_t> widths;
};
Result<ProbeName> ParseProbeName(const std::string& name);

}  // namespace wattfleet
