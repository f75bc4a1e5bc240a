// What importing a model file gives, whatever its format (TorchScript, ONNX): the layers it
// maps onto, and the operators it could not map, listed rather than dropped, so that a caller
// can tell an exact import from a partial one.
#pragma once

#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"

namespace wattfleet {

struct ModelImport {
  // Valid only when `unsupported` is empty: the model's layers in graph order, the last node
  // being the output. Family: the format's name ("torchscript", "onnx").
  Architecture architecture;
  // Operators that could not be mapped, each once, in first-seen order: "aten::roll", "Erf",
  // or a mapped operator with the reason this use of it is not, e.g.
  // "aten::hardtanh (bounds other than 0 and 6)".
  std::vector<std::string> unsupported;
};

}  // namespace wattfleet
