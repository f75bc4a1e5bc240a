// Layer-level and whole-architecture records of `wattfleet import` (docs/import.md): a CSV row
// that names a layer (type, hyper-parameters, input shape, batch) or a zoo architecture
// becomes what the layer-wise estimators train on, with the layer's canonical key and
// features computed by the same layer model as the dataset's own layers, so another lab's
// measurements and this dataset's meet on one key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/common/status.h"

namespace wattfleet {

// OK for a layer type wattfleet models; InvalidArgument with the closest name otherwise.
Status CheckImportedLayerType(const std::string& type);

// {"key", "type", "batch", "mode", "macs", "flops", "params", "input_elements",
// "output_elements", "kernel", "stride", "groups"} of one layer run, features per sample.
// InvalidArgument naming what is wrong: an unknown type (with the closest name), a
// hyper-parameter the type does not take or lacks, an input shape that does not fit.
Result<nlohmann::json> ImportedLayer(const std::string& type,
                                     const std::map<std::string, double>& params,
                                     const std::vector<int64_t>& input, int64_t batch,
                                     const std::string& mode);

// {"name", "batch", "mode"} of a zoo architecture; InvalidArgument for an unknown name.
Result<nlohmann::json> ImportedArchitecture(const std::string& zoo_name, int64_t batch,
                                            const std::string& mode);

// Bounds of what an imported row may say: a batch a real device can run, dimensions of an
// input shape.
inline constexpr int64_t kMaxImportedBatch = 1 << 20;
inline constexpr int64_t kMaxImportedDimension = 1 << 24;

}  // namespace wattfleet
