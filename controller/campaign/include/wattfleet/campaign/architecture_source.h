// The architecture a command is about, named the way `inspect` and `predict` take it (docs/design/cli.md):
// a zoo name, a name in a campaign file, or a traced TorchScript file with its input shape.
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
  std::string torchscript;    // --torchscript (instead of --arch)
  std::vector<int64_t> input_shape;  // --input-shape: the traced shape, batch first
};

struct ResolvedArchitecture {
  Architecture architecture;
  // TorchScript operators without a layer (not in `architecture`, so not in its totals).
  std::vector<std::string> unsupported;
};

// InvalidArgument naming the flag for a name that is in neither the zoo nor the campaign, for
// both or neither of --arch and --torchscript, and for a missing input shape; the campaign
// file's and the TorchScript import's own errors as they report them.
Result<ResolvedArchitecture> ResolveArchitecture(const ArchitectureSource& source);

}  // namespace wattfleet
