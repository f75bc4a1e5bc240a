// What the model-file mappers (TorchScript: torchscript_mapper.h, ONNX: onnx_mapper.h) share:
// the names they use, and the states a graph value is in besides a builder id.
#pragma once

#include <map>
#include <string>

#include "wattfleet/common/architecture.h"

namespace wattfleet::mapper {

using T = LayerType;
using Params = std::map<std::string, double>;

// Not computed from the model's input: a constant, or shape arithmetic.
constexpr int kNotData = -1000;
// Computed from an operator that could not be mapped: nothing reading it is mapped.
constexpr int kPoisoned = -1001;

}  // namespace wattfleet::mapper
