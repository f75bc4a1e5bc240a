// Layer and architecture records of imports (import_layers.h).
#include "import_layers.h"

#include "wattfleet/common/text.h"
#include "wattfleet/common/layer.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {

Status CheckImportedLayerType(const std::string& type) {
  if (ParseLayerType(type)) return Status::OK();
  std::vector<std::string> names;
  for (LayerType known : AllLayerTypes()) names.emplace_back(LayerTypeName(known));
  return Status::InvalidArgument("layer type '" + type + "' is not one wattfleet models" +
                                 Suggestion(type, names));
}

Result<nlohmann::json> ImportedLayer(const std::string& type,
                                     const std::map<std::string, double>& params,
                                     const std::vector<int64_t>& input, int64_t batch,
                                     const std::string& mode) {
  WF_RETURN_IF_ERROR(CheckImportedLayerType(type));
  const std::optional<LayerType> t = ParseLayerType(type);
  if (batch < 1 || batch > kMaxImportedBatch) {
    return Status::InvalidArgument("batch " + std::to_string(batch) + " is outside [1, " +
                                   std::to_string(kMaxImportedBatch) + "]");
  }
  LayerSpec spec;
  spec.type = *t;
  spec.params = params;
  spec.input_shape = input;
  LayerFeatures f;
  WF_ASSIGN_OR_RETURN(LayerSpec normal, Normalize(spec, &f));
  auto param = [&](const char* name) {
    auto it = normal.params.find(name);
    return it == normal.params.end() ? 0.0 : it->second;
  };
  return nlohmann::json{{"key", CanonicalKey(normal)},
                        {"type", type},
                        {"batch", batch},
                        {"mode", mode},
                        {"macs", f.macs},
                        {"flops", f.flops},
                        {"params", f.params},
                        {"input_elements", f.input_elements},
                        {"output_elements", f.output_elements},
                        {"kernel", param("kernel_size")},
                        {"stride", param("stride")},
                        {"groups", param("groups")}};
}

Result<nlohmann::json> ImportedArchitecture(const std::string& zoo_name, int64_t batch,
                                            const std::string& mode) {
  if (batch < 1 || batch > kMaxImportedBatch) {
    return Status::InvalidArgument("batch " + std::to_string(batch) + " is outside [1, " +
                                   std::to_string(kMaxImportedBatch) + "]");
  }
  auto arch = FindZooArchitecture(zoo_name);
  if (!arch.ok()) {
    return Status::InvalidArgument("'" + zoo_name + "' is not a zoo architecture" +
                                   Suggestion(zoo_name, ZooNames()));
  }
  return nlohmann::json{{"name", zoo_name}, {"batch", batch}, {"mode", mode}};
}

}  // namespace wattfleet
