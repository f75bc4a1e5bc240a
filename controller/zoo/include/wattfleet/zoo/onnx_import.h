// ONNX import: an ONNX model file (torch.onnx.export, TensorFlow converters, Optimum) becomes
// an Architecture of wattfleet layers, mapped like a TorchScript file (torchscript_import.h).
// The file is bounded before it is parsed, parsed with Debian's ONNX library, checked with
// its checker, and its shapes inferred; only the graph's structure and the tensors' shapes
// are read (weights stored outside the file are never opened).
//
// This header is free of ONNX and protobuf; only onnx_import.cc includes them.
#pragma once

#include <cstdint>
#include <string>

#include "wattfleet/common/status.h"
#include "wattfleet/zoo/model_import.h"

namespace wattfleet {

// What an ONNX file may cost before and while it is parsed.
struct OnnxBounds {
  int64_t max_file_bytes = int64_t{2} << 30;  // protobuf's own limit for one message
  int64_t max_nodes = 200000;
  // Elements of one tensor as declared (an initializer, a Constant, a shape): a declared
  // 10^12-element tensor is refused before anything trusts its dims.
  int64_t max_tensor_elements = int64_t{1} << 33;
  int max_nesting = 64;  // protobuf's recursion limit: sub-graphs within sub-graphs
};

// Reads the model at `path`. `input_shape` is batch first, as the model's input is declared
// (e.g. 1,3,224,224); empty takes the file's own declared shape, which must then be fully
// static. InvalidArgument naming the file for a missing, oversized, unparsable or invalid
// file, a model with several inputs, or a bad input shape; an architecture with unmapped
// operators is returned with `unsupported` filled, not as an error. Unavailable when built
// without the ONNX library.
Result<ModelImport> ImportOnnx(const std::string& path, const Shape& input_shape,
                               const std::string& name, const OnnxBounds& bounds = {});

// False when built without the ONNX library (WATTFLEET_WITH_ONNX=OFF).
bool OnnxSupported();

}  // namespace wattfleet
