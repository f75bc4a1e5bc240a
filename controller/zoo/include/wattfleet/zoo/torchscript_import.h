// TorchScript import: a traced TorchScript model (torch.jit.trace output saved with .save())
// becomes an Architecture of wattfleet layers, with shapes propagated from a per-sample input
// shape. Operators that have no layer are listed by name rather than dropped, so that a caller
// can tell an exact import from a partial one.
//
// This header is libtorch-free; only torchscript_import.cc includes libtorch.
#pragma once

#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/status.h"
#include "wattfleet/zoo/model_import.h"

namespace wattfleet {

using TorchScriptImport = ModelImport;

// Loads the model at `path` and maps its frozen forward graph. `input_shape` is per sample:
// no batch dimension (the model's tensors have the batch at dim 0). InvalidArgument naming
// the file for a missing or unreadable file, a bad input shape, a model with several inputs,
// or shapes that do not propagate; an architecture with unmapped operators is returned with
// `unsupported` filled, not as an error. Unavailable when built without libtorch.
Result<TorchScriptImport> ImportTorchScript(const std::string& path, const Shape& input_shape,
                                            const std::string& name);

// False when built without libtorch (WATTFLEET_WITH_TORCH=OFF).
bool TorchScriptSupported();

// The libtorch TorchScript files are read with ("1.13.1"), "" when built without it.
std::string TorchScriptLibtorchVersion();

}  // namespace wattfleet
