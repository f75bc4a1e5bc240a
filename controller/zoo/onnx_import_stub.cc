// ONNX import when built without the ONNX library (WATTFLEET_WITH_ONNX=OFF).
#include "wattfleet/zoo/onnx_import.h"

namespace wattfleet {

bool OnnxSupported() { return false; }

Result<ModelImport> ImportOnnx(const std::string& path, const Shape& /*input_shape*/,
                               const std::string& /*name*/, const OnnxBounds& /*bounds*/) {
  return Status::Unavailable("built without the ONNX library: cannot import ONNX model '" +
                             path + "'");
}

}  // namespace wattfleet
