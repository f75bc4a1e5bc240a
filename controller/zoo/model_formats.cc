#include "wattfleet/zoo/model_formats.h"

#include "wattfleet/zoo/onnx_import.h"
#include "wattfleet/zoo/torchscript_import.h"

namespace wattfleet {
namespace {

Result<ModelImport> TorchScript(const std::string& path, const Shape& input_shape,
                                const std::string& name) {
  // A trace's shape includes the batch; the layers are per sample.
  if (input_shape.size() < 2) {
    return Status::InvalidArgument(
        "TorchScript model '" + path +
        "': the input shape is the traced input's, batch first, e.g. 1,3,224,224");
  }
  return ImportTorchScript(path, Shape(input_shape.begin() + 1, input_shape.end()), name);
}

Result<ModelImport> Onnx(const std::string& path, const Shape& input_shape,
                         const std::string& name) {
  return ImportOnnx(path, input_shape, name);
}

}  // namespace

const std::vector<ModelFormat>& ModelFormats() {
  static const std::vector<ModelFormat> kFormats = {
      {"torchscript", "TorchScript", "a traced TorchScript file", true, true, &TorchScript,
       &TorchScriptSupported},
      {"onnx", "ONNX", "an ONNX model file", false, false, &Onnx, &OnnxSupported},
  };
  return kFormats;
}

const ModelFormat* FindModelFormat(std::string_view name) {
  for (const ModelFormat& f : ModelFormats()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string ModelFormatNames(const std::string& last_joiner) {
  std::string out;
  const auto& all = ModelFormats();
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0) out += i + 1 == all.size() ? last_joiner : ", ";
    out += all[i].name;
  }
  return out;
}

}  // namespace wattfleet
