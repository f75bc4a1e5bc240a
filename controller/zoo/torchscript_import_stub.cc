// TorchScript import when built without libtorch (WATTFLEET_WITH_TORCH=OFF).
#include "wattfleet/zoo/torchscript_import.h"

namespace wattfleet {

bool TorchScriptSupported() { return false; }

Result<TorchScriptImport> ImportTorchScript(const std::string& path, const Shape& /*input_shape*/,
                                            const std::string& /*name*/) {
  return Status::Unavailable("built without libtorch: cannot import TorchScript model '" +
                             path + "'");
}

std::string TorchScriptLibtorchVersion() { return ""; }

}  // namespace wattfleet
