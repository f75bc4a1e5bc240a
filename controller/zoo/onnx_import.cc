// Reading an ONNX file into an OnnxGraph: bounds, parsing, the checker, shape inference.
//
// This is the only translation unit that includes the ONNX library's and protobuf's headers;
// the op rules live in onnx_map.cc and onnx_fuse.cc. Everything in the file is untrusted: its
// size is bounded before it is read, protobuf's nesting and byte limits before it is parsed,
// and every tensor's declared dims before anything multiplies them.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <set>
#include <unordered_map>

#include "onnx_graph.h"
#include "wattfleet/zoo/onnx_import.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

// Bytes per element of the tensor types whose data has a fixed width; 0 for the others.
int ElementBytes(int type) {
  switch (type) {
    case onnx::TensorProto::BOOL: case onnx::TensorProto::INT8: case onnx::TensorProto::UINT8:
      return 1;
    case onnx::TensorProto::INT16: case onnx::TensorProto::UINT16:
    case onnx::TensorProto::FLOAT16: case onnx::TensorProto::BFLOAT16:
      return 2;
    case onnx::TensorProto::INT32: case onnx::TensorProto::UINT32: case onnx::TensorProto::FLOAT:
      return 4;
    case onnx::TensorProto::INT64: case onnx::TensorProto::UINT64: case onnx::TensorProto::DOUBLE:
      return 8;
    default:
      return 0;
  }
}

// The tensor's element count, or an error naming it when its dims are negative, past the
// bound, or disagree with the data the file holds for it.
Result<int64_t> CheckedElements(const onnx::TensorProto& t, const OnnxBounds& bounds) {
  const std::string label = "tensor '" + t.name() + "'";
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) return Status::InvalidArgument(label + " declares a negative dimension");
    if (d > 0 && n > bounds.max_tensor_elements / d) {
      return Status::InvalidArgument(label + " declares more than " +
                                     std::to_string(bounds.max_tensor_elements) + " elements");
    }
    n *= d;
  }
  if (n > bounds.max_tensor_elements) {
    return Status::InvalidArgument(label + " declares more than " +
                                   std::to_string(bounds.max_tensor_elements) + " elements");
  }
  if (t.data_location() == onnx::TensorProto::EXTERNAL) return n;  // never opened
  const int width = ElementBytes(t.data_type());
  int64_t held = -1;
  if (t.has_raw_data()) {
    if (width > 0) held = static_cast<int64_t>(t.raw_data().size()) / width;
    if (width > 0 && static_cast<int64_t>(t.raw_data().size()) % width != 0) held = -2;
  } else if (t.float_data_size() > 0) {
    held = t.float_data_size();
  } else if (t.int64_data_size() > 0) {
    held = t.int64_data_size();
  } else if (t.double_data_size() > 0) {
    held = t.double_data_size();
  } else if (t.int32_data_size() > 0) {
    // int32_data also holds the 8- and 16-bit types, one element per entry.
    held = t.int32_data_size();
  }
  if (held != -1 && held != n) {
    return Status::InvalidArgument(label + " declares " + std::to_string(n) +
                                   " elements but holds data for " +
                                   (held < 0 ? std::string("a fraction of one")
                                             : std::to_string(held)));
  }
  return n;
}

// A small tensor's values as doubles (axes, scalars, shapes); empty when it is not small or
// its type is not a number type read here.
std::vector<double> SmallValues(const onnx::TensorProto& t, int64_t elements) {
  std::vector<double> out;
  if (elements > static_cast<int64_t>(kSmallConstant) ||
      t.data_location() == onnx::TensorProto::EXTERNAL) {
    return out;
  }
  auto raw = [&](auto zero) {
    using V = decltype(zero);
    const std::string& bytes = t.raw_data();
    for (size_t i = 0; i + sizeof(V) <= bytes.size(); i += sizeof(V)) {
      V v;
      std::memcpy(&v, bytes.data() + i, sizeof(V));  // little-endian, as ONNX stores it
      out.push_back(static_cast<double>(v));
    }
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (t.has_raw_data()) raw(float{});
      for (float v : t.float_data()) out.push_back(v);
      break;
    case onnx::TensorProto::DOUBLE:
      if (t.has_raw_data()) raw(double{});
      for (double v : t.double_data()) out.push_back(v);
      break;
    case onnx::TensorProto::INT64:
      if (t.has_raw_data()) raw(int64_t{});
      for (int64_t v : t.int64_data()) out.push_back(static_cast<double>(v));
      break;
    case onnx::TensorProto::INT32:
      if (t.has_raw_data()) raw(int32_t{});
      for (int32_t v : t.int32_data()) out.push_back(v);
      break;
    default:
      break;
  }
  if (static_cast<int64_t>(out.size()) != elements) out.clear();
  return out;
}

// An open file descriptor, closed when it goes.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Parses the file straight from its descriptor (never holding its bytes and the parsed message
// at once), after checking what it is and its size on that same descriptor.
Result<onnx::ModelProto> Parse(const std::string& path, const OnnxBounds& bounds) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) return Status::InvalidArgument("no such file");
  // A device (/dev/zero), a pipe or a folder is there, but is no model file.
  if (!fs::is_regular_file(status)) {
    return Status::InvalidArgument(fs::is_directory(status) ? "is a directory, not a model file"
                                                            : "is not a regular file");
  }
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  struct stat st {};
  if (file.fd < 0 || ::fstat(file.fd, &st) != 0) {
    return Status::InvalidArgument(std::string("cannot be read: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("is not a regular file");
  if (static_cast<int64_t>(st.st_size) > bounds.max_file_bytes) {
    return Status::InvalidArgument("is larger than the " +
                                   std::to_string(bounds.max_file_bytes >> 20) +
                                   " MiB an ONNX file may have");
  }
  google::protobuf::io::FileInputStream stream(file.fd);
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetRecursionLimit(bounds.max_nesting);
  coded.SetTotalBytesLimit(static_cast<int>(std::min<int64_t>(
      st.st_size, std::numeric_limits<int>::max())));
  onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    return Status::InvalidArgument(
        "not an ONNX model: the protobuf does not parse (truncated, not ONNX, or nested more "
        "than " + std::to_string(bounds.max_nesting) + " deep)");
  }
  if (!model.has_graph()) return Status::InvalidArgument("not an ONNX model: it has no graph");
  return model;
}

Status CheckBounds(const onnx::ModelProto& model, const OnnxBounds& bounds) {
  const onnx::GraphProto& g = model.graph();
  if (g.node_size() > bounds.max_nodes) {
    return Status::InvalidArgument("has " + std::to_string(g.node_size()) + " nodes, more than " +
                                   std::to_string(bounds.max_nodes));
  }
  for (const onnx::TensorProto& t : g.initializer()) {
    WF_RETURN_IF_ERROR(CheckedElements(t, bounds).status());
  }
  for (const onnx::NodeProto& n : g.node()) {
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (a.has_t()) WF_RETURN_IF_ERROR(CheckedElements(a.t(), bounds).status());
    }
  }
  auto declared = [&](const onnx::ValueInfoProto& v) -> Status {
    if (!v.type().has_tensor_type()) return Status::OK();
    int64_t n = 1;
    for (const auto& d : v.type().tensor_type().shape().dim()) {
      if (!d.has_dim_value()) continue;
      const int64_t x = d.dim_value();
      if (x < 0 || (x > 0 && n > bounds.max_tensor_elements / x)) {
        return Status::InvalidArgument("value '" + v.name() + "' declares a shape past " +
                                       std::to_string(bounds.max_tensor_elements) + " elements");
      }
      n *= std::max<int64_t>(x, 1);
    }
    return Status::OK();
  };
  for (const auto& v : g.input()) WF_RETURN_IF_ERROR(declared(v));
  for (const auto& v : g.output()) WF_RETURN_IF_ERROR(declared(v));
  for (const auto& v : g.value_info()) WF_RETURN_IF_ERROR(declared(v));
  return Status::OK();
}

// The one data input (graph inputs that are not initializers), its dims fixed to the shape
// the model is read at; its name in `name`.
Result<Shape> FixInput(onnx::ModelProto& model, const Shape& requested, std::string* name) {
  onnx::GraphProto& g = *model.mutable_graph();
  std::set<std::string> initializers;
  for (const auto& t : g.initializer()) initializers.insert(t.name());
  std::vector<onnx::ValueInfoProto*> inputs;
  for (auto& v : *g.mutable_input()) {
    if (initializers.count(v.name()) == 0) inputs.push_back(&v);
  }
  if (inputs.size() != 1) {
    return Status::InvalidArgument("the model takes " + std::to_string(inputs.size()) +
                                   " inputs; only one-input models can be imported");
  }
  onnx::ValueInfoProto& in = *inputs[0];
  *name = in.name();
  if (!in.type().has_tensor_type()) {
    return Status::InvalidArgument("input '" + in.name() + "' is not a tensor");
  }
  auto* shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
  Shape declared;
  std::string symbolic;
  for (const auto& d : shape->dim()) {
    declared.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
    if (declared.back() < 0 && symbolic.empty()) {
      symbolic = d.has_dim_param() && !d.dim_param().empty() ? "'" + d.dim_param() + "'" : "?";
    }
  }
  Shape use = requested;
  if (requested.empty()) {
    if (declared.empty() || !symbolic.empty()) {
      return Status::InvalidArgument(
          "input '" + in.name() + "' has the shape " +
          (declared.empty() ? std::string("of no rank") : ShapeToString(declared)) +
          (symbolic.empty() ? "" : ", with the free dimension " + symbolic) +
          "; give the input shape, batch first, e.g. --input-shape 1,3,224,224");
    }
    use = declared;
  } else if (!declared.empty()) {
    if (declared.size() != requested.size()) {
      return Status::InvalidArgument("the input shape " + ShapeToString(requested) +
                                     " has rank " + std::to_string(requested.size()) +
                                     ", the model's input '" + in.name() + "' rank " +
                                     std::to_string(declared.size()) + " " +
                                     ShapeToString(declared));
    }
    for (size_t i = 1; i < declared.size(); ++i) {
      if (declared[i] > 0 && declared[i] != requested[i]) {
        return Status::InvalidArgument("the input shape " + ShapeToString(requested) +
                                       " differs from the model's declared input " +
                                       ShapeToString(declared) + " at dimension " +
                                       std::to_string(i));
      }
    }
    // A batch fixed at export may be baked into reshapes: shapes are inferred at it.
    if (declared[0] > 0) use[0] = declared[0];
  }
  shape->clear_dim();
  for (int64_t d : use) shape->add_dim()->set_dim_value(d);
  return use;
}

// The graph as the op rules read it. Constant nodes become constant values, not nodes.
OnnxGraph Copy(const onnx::ModelProto& model, const std::string& input_name,
               const OnnxBounds& bounds) {
  const onnx::GraphProto& g = model.graph();
  OnnxGraph out;
  std::unordered_map<std::string, int> index;
  auto value = [&](const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return it->second;
    const int i = static_cast<int>(out.values.size());
    OnnxValue fresh;
    fresh.name = name;
    out.values.push_back(std::move(fresh));
    index.emplace(name, i);
    return i;
  };
  auto constant = [&](int v, const onnx::TensorProto& t) {
    OnnxValue& x = out.values[static_cast<size_t>(v)];
    x.constant = true;
    x.ranked = true;
    x.shape.assign(t.dims().begin(), t.dims().end());
    auto n = CheckedElements(t, bounds);  // already checked: cannot fail here
    if (n.ok()) x.numbers = SmallValues(t, *n);
  };
  auto shaped = [&](const onnx::ValueInfoProto& v) {
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
    OnnxValue& x = out.values[static_cast<size_t>(value(v.name()))];
    if (x.constant) return;
    x.ranked = true;
    x.shape.clear();
    for (const auto& d : v.type().tensor_type().shape().dim()) {
      x.shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
    }
  };
  for (const auto& t : g.initializer()) constant(value(t.name()), t);
  out.input = value(input_name);
  for (const auto& v : g.input()) shaped(v);
  for (const auto& v : g.value_info()) shaped(v);
  for (const auto& v : g.output()) shaped(v);
  for (const onnx::NodeProto& n : g.node()) {
    const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
    if (default_domain && n.op_type() == "Constant" && n.output_size() == 1) {
      const int v = value(n.output(0));
      for (const auto& a : n.attribute()) {
        if (a.name() == "value" && a.has_t()) constant(v, a.t());
        OnnxValue& x = out.values[static_cast<size_t>(v)];
        if (a.name() == "value_float" || a.name() == "value_int") {
          x.constant = x.ranked = true;
          x.shape.clear();
          x.numbers = {a.name() == "value_float" ? a.f() : static_cast<double>(a.i())};
        }
        if (a.name() == "value_ints" || a.name() == "value_floats") {
          x.constant = x.ranked = true;
          x.numbers.clear();
          const int count = a.name() == "value_ints" ? a.ints_size() : a.floats_size();
          x.shape = {count};
          for (int i = 0; i < count && count <= static_cast<int>(kSmallConstant); ++i) {
            x.numbers.push_back(a.name() == "value_ints" ? static_cast<double>(a.ints(i))
                                                         : a.floats(i));
          }
        }
      }
      continue;
    }
    // Exporters pass shared weights through Identity: the output is the same constant.
    if (default_domain && n.op_type() == "Identity" && n.input_size() == 1 &&
        n.output_size() == 1 && out.values[static_cast<size_t>(value(n.input(0)))].constant) {
      const OnnxValue source = out.values[static_cast<size_t>(value(n.input(0)))];
      OnnxValue& alias = out.values[static_cast<size_t>(value(n.output(0)))];
      alias.constant = alias.ranked = true;
      alias.shape = source.shape;
      alias.numbers = source.numbers;
      continue;
    }
    OnnxNode node;
    node.op = default_domain ? n.op_type() : n.domain() + ":" + n.op_type();
    node.name = n.name();
    for (const std::string& in : n.input()) node.inputs.push_back(in.empty() ? -1 : value(in));
    const int producer = static_cast<int>(out.nodes.size());
    for (const std::string& o : n.output()) {
      const int v = value(o);
      out.values[static_cast<size_t>(v)].producer = producer;
      node.outputs.push_back(v);
    }
    for (const auto& a : n.attribute()) {
      switch (a.type()) {
        case onnx::AttributeProto::INT: node.ints[a.name()] = {a.i()}; break;
        case onnx::AttributeProto::INTS:
          node.ints[a.name()].assign(a.ints().begin(), a.ints().end());
          break;
        case onnx::AttributeProto::FLOAT: node.floats[a.name()] = a.f(); break;
        case onnx::AttributeProto::STRING: node.strings[a.name()] = a.s(); break;
        case onnx::AttributeProto::GRAPH: case onnx::AttributeProto::GRAPHS:
          node.has_subgraph = true;
          break;
        default: break;
      }
    }
    out.nodes.push_back(std::move(node));
  }
  for (const auto& o : g.output()) out.outputs.push_back(value(o.name()));
  return out;
}

Result<OnnxGraph> Load(const std::string& path, const Shape& requested, const OnnxBounds& bounds,
                       Shape* input_shape) {
  WF_ASSIGN_OR_RETURN(onnx::ModelProto model, Parse(path, bounds));
  WF_RETURN_IF_ERROR(CheckBounds(model, bounds));
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    return Status::InvalidArgument("not a valid ONNX model: " + msg);
  }
  std::string input_name;
  WF_ASSIGN_OR_RETURN(*input_shape, FixInput(model, requested, &input_name));
  try {
    // Lenient: an operator inference does not know leaves its outputs unshaped; the data
    // propagation computes the shapes that shape arithmetic (Shape, Gather, Concat) feeds to
    // Reshape and Expand.
    onnx::ShapeInferenceOptions options(/*check_type=*/false, /*error_mode=*/0,
                                        /*enable_data_propagation=*/true);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    return Status::InvalidArgument("shapes do not propagate at the input shape " +
                                   ShapeToString(*input_shape) + ": " + msg);
  }
  return Copy(model, input_name, bounds);
}

}  // namespace

bool OnnxSupported() { return true; }

Result<ModelImport> ImportOnnx(const std::string& path, const Shape& input_shape,
                               const std::string& name, const OnnxBounds& bounds) {
  auto invalid = [&path](const std::string& what) {
    return Status::InvalidArgument("ONNX model '" + path + "': " + what);
  };
  if (!input_shape.empty()) {
    if (input_shape.size() < 2) {
      return invalid("the input shape is batch first and has at least two dimensions, e.g. "
                     "1,3,224,224");
    }
    for (int64_t d : input_shape) {
      if (d <= 0) {
        return invalid("the input shape " + ShapeToString(input_shape) +
                       " has a non-positive dimension");
      }
    }
  }
  Shape used;
  Result<OnnxGraph> graph = Status::Internal("unset");
  try {
    graph = Load(path, input_shape, bounds, &used);
  } catch (const std::exception& e) {  // protobuf or the library, beyond what is caught above
    return invalid(std::string("cannot be read: ") + e.what());
  }
  if (!graph.ok()) return invalid(graph.status().message());
  auto mapped = MapOnnxGraph(*graph, Shape(used.begin() + 1, used.end()), name);
  if (!mapped.ok()) return invalid(mapped.status().message());
  return mapped;
}

}  // namespace wattfleet
