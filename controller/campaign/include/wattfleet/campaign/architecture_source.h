// The architecture a command is about, named the way `inspect` and `predict` take it (docs/design/cli.md):
// a zoo name, a name in a campaign file, or a model file (TorchScript, ONNX: model_formats.h)
// with its input shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ArchitectureSource {
  std::string arch_name;      // --arch: a zoo name, or a name in `campaign_file`
  std::string campaign_file;  // --campaign-file (with --arch)
  std::string model_file;     // --torchscript FILE, --onnx FILE (instead of --arch)
  std::string model_format;   // the format's name: "torchscript", "onnx"
  std::vector<int64_t> input_shape;  // --input-shape: the model's input shape, batch first
};

struct ResolvedArchitecture {
  Architecture architecture;
  // Operators of a model file without a layer (not in `architecture`, so not in its totals).
  std::vector<std::string> unsupported;
};

// InvalidArgument naming the flag for a name that is in neither the zoo nor the campaign, for
// both or neither of --arch and a model file, and for a missing input shape; the campaign
// file's and the model import's own errors as they report them.
Result<ResolvedArchitecture> ResolveArchitecture(const ArchitectureSource& source);

}  // namespace wattfleet
