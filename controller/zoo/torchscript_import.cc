// Loading and freezing a TorchScript model, and copying its forward graph into a TsGraph.
//
// This is the only controller translation unit that includes libtorch headers (they cost
// about 30 s of compilation each); the op rules live in torchscript_map.cc.
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>
#include <torch/version.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "torchscript_graph.h"
#include "wattfleet/zoo/model_file_bounds.h"

namespace wattfleet {
namespace {

namespace jit = torch::jit;

// The module path of a node from the call stack that inlining left on it, e.g. "layer1.0.conv1".
std::string ScopeOf(const jit::Node* node) {
  auto callstack = node->callstack();
  if (!callstack) return "";
  std::string path;
  for (const auto& entry : (*callstack)->vec()) {
    const auto& info = std::get<2>(entry);
    if (!info || info->instance_name().empty()) continue;
    path += (path.empty() ? "" : ".") + info->instance_name();
  }
  return path;
}

TsValue DescribeConstant(const jit::Value* value) {
  TsValue out;
  auto ivalue = jit::toIValue(value);
  if (!ivalue) return out;  // computed at run time
  out.kind = TsValue::Kind::kOther;
  if (ivalue->isNone()) {
    out.kind = TsValue::Kind::kNone;
  } else if (ivalue->isBool()) {
    out.kind = TsValue::Kind::kBool;
    out.ints = {ivalue->toBool() ? 1 : 0};
  } else if (ivalue->isInt()) {
    out.kind = TsValue::Kind::kInt;
    out.ints = {ivalue->toInt()};
  } else if (ivalue->isIntList()) {
    out.kind = TsValue::Kind::kIntList;
    out.ints = ivalue->toIntVector();
  } else if (ivalue->isDouble()) {
    out.kind = TsValue::Kind::kDouble;
    out.number = ivalue->toDouble();
  } else if (ivalue->isString()) {
    out.kind = TsValue::Kind::kString;
    out.text = ivalue->toStringRef();
  } else if (ivalue->isTensor()) {
    out.kind = TsValue::Kind::kTensor;
    const at::Tensor& t = ivalue->toTensor();
    const auto sizes = t.sizes();
    out.tensor_shape.assign(sizes.begin(), sizes.end());
    // A scalar tensor's value (shape arithmetic on tensors: nn.MultiheadAttention's
    // embed_dim // num_heads divides by one).
    if (t.dim() == 0 && !t.is_complex()) {
      out.number = t.item<double>();
      out.scalar = true;
    }
  }
  return out;
}

// Copies the top-level nodes of `graph`. Nodes with sub-blocks (prim::If, prim::Loop, which
// tracing does not produce) are copied by kind only, so the mapper reports them.
Result<TsGraph> CopyGraph(const jit::Graph& graph) {
  TsGraph out;
  std::unordered_map<const jit::Value*, int> index;
  auto add_value = [&](const jit::Value* v, int producer) {
    const int i = static_cast<int>(out.values.size());
    TsValue described = DescribeConstant(v);
    described.producer = producer;
    out.values.push_back(std::move(described));
    index.emplace(v, i);
    return i;
  };
  // Input 0 is the module itself (unused once frozen); the tensors follow.
  std::vector<const jit::Value*> tensors;
  for (const jit::Value* in : graph.inputs()) {
    if (in->type()->kind() != c10::TypeKind::ClassType) tensors.push_back(in);
  }
  if (tensors.size() != 1) {
    return Status::InvalidArgument("the model's forward takes " +
                                   std::to_string(tensors.size()) +
                                   " inputs; only one-input models can be imported");
  }
  out.input = add_value(tensors[0], -1);
  for (const jit::Node* node : graph.nodes()) {
    TsNode copy;
    copy.kind = node->kind().toQualString();
    copy.scope = ScopeOf(node);
    for (const jit::Value* in : node->inputs()) {
      auto it = index.find(in);
      // A value from an enclosing scope cannot occur at the top level; self is not indexed.
      copy.inputs.push_back(it == index.end() ? add_value(in, -1) : it->second);
    }
    const int producer = static_cast<int>(out.nodes.size());
    for (const jit::Value* o : node->outputs()) copy.outputs.push_back(add_value(o, producer));
    out.nodes.push_back(std::move(copy));
  }
  for (const jit::Value* o : graph.outputs()) {
    auto it = index.find(o);
    if (it != index.end()) out.outputs.push_back(it->second);
  }
  return out;
}

Result<TsGraph> LoadGraph(const std::string& path) {
  // freeze_module turns parameters into constants and inlines submodule calls, without the
  // optimizations of torch::jit::freeze (which folds BatchNorm into convolutions and would
  // lose layers).
  jit::Module module = jit::load(path);
  module.eval();
  jit::freeze_module_inplace(&module);
  auto graph = module.get_method("forward").graph();
  jit::Inline(*graph);  // a no-op when freezing already inlined every call
  return CopyGraph(*graph);
}

}  // namespace

bool TorchScriptSupported() { return true; }

Result<TorchScriptImport> ImportTorchScript(const std::string& path, const Shape& input_shape,
                                            const std::string& name) {
  auto invalid = [&path](const std::string& what) {
    return Status::InvalidArgument("TorchScript model '" + path + "': " + what);
  };
  if (input_shape.empty()) return invalid("the input shape is empty");
  for (int64_t d : input_shape) {
    if (d <= 0) {
      return invalid("the input shape " + ShapeToString(input_shape) +
                     " has a non-positive dimension");
    }
  }
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return invalid("no such file");
  // A device (/dev/zero), a pipe or a folder is there, but is no model file.
  if (!std::filesystem::is_regular_file(status)) {
    return invalid(std::filesystem::is_directory(status) ? "is a directory, not a model file"
                                                         : "is not a regular file");
  }
  if (!std::ifstream(path).good()) return invalid("cannot be read");
  // libtorch decompresses every entry into memory: a zip bomb is refused before it does.
  if (Status bounded = CheckZipModelFile(path); !bounded.ok()) {
    return Status::InvalidArgument("TorchScript model " + bounded.message());
  }

  Result<TsGraph> graph = Status::Internal("unset");
  try {
    graph = LoadGraph(path);
  } catch (const c10::Error& e) {
    // what_without_backtrace: the full what() carries a C++ stack trace.
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    return invalid("not a loadable TorchScript file: " + msg);
  } catch (const std::exception& e) {
    return invalid(std::string("not a loadable TorchScript file: ") + e.what());
  }
  if (!graph.ok()) return invalid(graph.status().message());
  auto mapped = MapTorchScriptGraph(*graph, input_shape, name);
  if (!mapped.ok()) return invalid(mapped.status().message());
  return mapped;
}

std::string TorchScriptLibtorchVersion() { return TORCH_VERSION; }

}  // namespace wattfleet
