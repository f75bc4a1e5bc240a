// THOR's probe models (docs/design/estimators.md section 1): for one layer kind, the output layer alone,
// input + output, and input + hidden + output, at chosen widths. Their measured energies are
// differenced into E_out(C), E_in(C_1) and E_hid(C_{i-1}, C_i).
//
// A layer kind is a layer type with the hyper-parameters that stay fixed while widths vary
// (kernel size, padding, ...), the network input (channels or features first) and the width of
// the network output. Spatial sizes must not change from layer to layer ("same" convolutions),
// so that the output layer sees the same input whatever the depth of the probe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ProbeKind {
  std::string name;  // e.g. "conv2d-k3-32x32"
  // Conv1d, Conv2d (each followed by ReLU), Linear (followed by ReLU), LSTM or GRU.
  LayerType type = LayerType::kLinear;
  // Fixed hyper-parameters other than the widths (e.g. kernel_size, padding).
  std::map<std::string, double> fixed;
  // The network input: [C0,H,W] for Conv2d, [C0,L] for Conv1d, [F] for Linear, [seq,F] for
  // LSTM/GRU. Its first (Linear: only; LSTM/GRU: last) dimension is C0.
  Shape input_shape;
  int64_t classes = 10;  // width of the output layer
};

enum class ProbeRole {
  kOutput,  // widths {C}: the output layer alone, reading C channels
  kInput,   // widths {C1}: input layer C0 -> C1, then the output layer
  kHidden,  // widths {C1, C2}: input C0 -> C1, hidden C1 -> C2, then the output layer
};
std::string_view ProbeRoleName(ProbeRole role);  // "output" | "input" | "hidden"

// The probe model, named "<kind>/<role>/<widths joined by x>". Errors name the kind.
Result<Architecture> BuildProbe(const ProbeKind& kind, ProbeRole role,
                                const std::vector<int64_t>& widths);

// A network of the kind with widths C_1 … C_{n-1}: the input layer C0 -> C_1, hidden layers
// C_{i-1} -> C_i, then the output layer. The input and hidden probes are such networks of one
// and two widths; THOR predicts the longer ones from them.
Result<Architecture> BuildThorChain(const ProbeKind& kind, const std::vector<int64_t>& widths,
                                    const std::string& name);

}  // namespace wattfleet
