// Named architectures (the zoo) and parametric families.
//
// Every architecture here is built through BuildSequential, so zoo entries and family members
// get the same validation, shape propagation and node naming as anything a user declares.
#include "zoo.h"

#include <utility>

namespace wattfleet {
namespace {

using Params = std::map<std::string, double>;

LayerDecl L(LayerType type, Params params = {}) { return LayerDecl{type, std::move(params), ""}; }

LayerDecl Conv2d(int64_t in, int64_t out, int64_t k, int64_t padding = 0) {
  return L(LayerType::kConv2d, {{"in_channels", in},
                                {"out_channels", out},
                                {"kernel_size", k},
                                {"padding", padding}});
}
LayerDecl Linear(int64_t in, int64_t out) {
  return L(LayerType::kLinear, {{"in_features", in}, {"out_features", out}});
}
LayerDecl MaxPool2d(int64_t k) { return L(LayerType::kMaxPool2d, {{"kernel_size", k}}); }
LayerDecl ReLU() { return L(LayerType::kReLU); }
LayerDecl Flatten() { return L(LayerType::kFlatten); }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// LeNet-5 (LeCun et al. 1998) in its common modern form: ReLU and max pooling in place of the
// scaled tanh and trainable subsampling, so that every layer is a stock libtorch module.
Result<Architecture> LeNet5() {
  return BuildSequential("lenet5", "lenet5", {1, 32, 32},
                         {Conv2d(1, 6, 5), ReLU(), MaxPool2d(2), Conv2d(6, 16, 5), ReLU(),
                          MaxPool2d(2), Flatten(), Linear(400, 120), ReLU(), Linear(120, 84),
                          ReLU(), Linear(84, 10)});
}

Result<Architecture> MlpMnist() {
  return BuildSequential("mlp-mnist", "mlp", {784},
                         {Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10)});
}

// THOR's 5-layer CNN on CIFAR-sized inputs: three padded 3x3 conv blocks (32 -> 16 -> 8 -> 4)
// and two fully connected layers.
Result<Architecture> Cnn5() {
  return BuildSequential(
      "cnn5", "cnn", {3, 32, 32},
      {Conv2d(3, 32, 3, 1), ReLU(), MaxPool2d(2), Conv2d(32, 64, 3, 1), ReLU(), MaxPool2d(2),
       Conv2d(64, 128, 3, 1), ReLU(), MaxPool2d(2), Flatten(), Linear(128 * 4 * 4, 256), ReLU(),
       Linear(256, 10)});
}

struct ZooEntry {
  const char* name;
  Result<Architecture> (*build)();
};
// Sorted by name: ZooNames() returns them in this order.
constexpr ZooEntry kZoo[] = {{"cnn5", Cnn5}, {"lenet5", LeNet5}, {"mlp-mnist", MlpMnist}};

// ---- Families --------------------------------------------------------------------------

// Width and depth limits keep channel doubling and feature arithmetic far from overflow; they
// are far above anything a device can run.
constexpr int64_t kMaxWidth = 1 << 16;
constexpr int64_t kMaxDepth = 64;
constexpr int64_t kMaxCnnDepth = 12;

struct ParamInfo {
  const char* name;
  const char* help;
};

const std::vector<ParamInfo>& MlpParams() {
  static const std::vector<ParamInfo> kParams = {
      {"classes", "output classes (default 10)"},
      {"depth", "number of hidden Linear+ReLU layers (required, >= 1)"},
      {"input", "input size: an integer or a shape such as [1, 28, 28], flattened (required)"},
      {"width", "units in every hidden layer (required)"},
  };
  return kParams;
}

const std::vector<ParamInfo>& CnnParams() {
  static const std::vector<ParamInfo> kParams = {
      {"classes", "output classes (default 10)"},
      {"depth", "number of Conv2d+ReLU+MaxPool2d blocks (required, >= 1)"},
      {"input", "input shape [C, H, W] (required)"},
      {"kernel", "convolution kernel size, padded to keep the size (default 3)"},
      {"width", "channels of the first block, doubled in every following block (required)"},
  };
  return kParams;
}

// Reads family parameters from a sweep point, rejecting unknown names up front so that a typo
// never silently falls back to a default.
class PointReader {
 public:
  PointReader(std::string family, const SweepPoint& point, const std::vector<ParamInfo>& known)
      : family_(std::move(family)), point_(point), known_(known) {}

  Status CheckNames() const {
    std::vector<std::string> names;
    for (const auto& p : known_) names.emplace_back(p.name);
    for (const auto& [name, value] : point_) {
      bool found = false;
      for (const auto& n : names) found = found || n == name;
      if (!found) {
        return Status::InvalidArgument("family '" + family_ + "': unknown parameter '" + name +
                                       "' (parameters: " + Join(names) + ")");
      }
    }
    return Status::OK();
  }

  // A scalar in [1, max]; `fallback` < 0 means required.
  Result<int64_t> Scalar(const std::string& name, int64_t fallback, int64_t max) const {
    auto it = point_.find(name);
    if (it == point_.end()) {
      if (fallback < 0) return Bad(name, "is required");
      return fallback;
    }
    const SweepValue& v = it->second;
    if (v.is_list || v.values.size() != 1) {
      return Bad(name, "must be an integer, got a list " + ShapeToString(v.values));
    }
    const int64_t x = v.values[0];
    if (x < 1 || x > max) {
      return Bad(name, "must be in [1, " + std::to_string(max) + "], got " + std::to_string(x));
    }
    return x;
  }

  // A shape: a list, or a scalar meaning a 1-D shape.
  Result<Shape> ShapeParam(const std::string& name) const {
    auto it = point_.find(name);
    if (it == point_.end()) return Bad(name, "is required");
    const SweepValue& v = it->second;
    if (v.values.empty()) return Bad(name, "is empty");
    for (int64_t d : v.values) {
      if (d < 1 || d > kMaxWidth * 64) {
        return Bad(name, "has a dimension outside [1, " + std::to_string(kMaxWidth * 64) +
                             "]: " + ShapeToString(v.values));
      }
    }
    return Shape(v.values);
  }

  Status Bad(const std::string& name, const std::string& what) const {
    return Status::InvalidArgument("family '" + family_ + "': " + name + " " + what);
  }

 private:
  std::string family_;
  const SweepPoint& point_;
  const std::vector<ParamInfo>& known_;
};

Result<Architecture> BuildMlp(const SweepPoint& point) {
  PointReader r("mlp", point, MlpParams());
  WF_RETURN_IF_ERROR(r.CheckNames());
  WF_ASSIGN_OR_RETURN(int64_t depth, r.Scalar("depth", -1, kMaxDepth));
  WF_ASSIGN_OR_RETURN(int64_t width, r.Scalar("width", -1, kMaxWidth));
  WF_ASSIGN_OR_RETURN(int64_t classes, r.Scalar("classes", 10, kMaxWidth));
  WF_ASSIGN_OR_RETURN(Shape input, r.ShapeParam("input"));
  const int64_t features = NumElements(input);

  std::vector<LayerDecl> layers;
  if (input.size() > 1) layers.push_back(Flatten());
  int64_t in = features;
  for (int64_t i = 0; i < depth; ++i) {
    layers.push_back(Linear(in, width));
    layers.push_back(ReLU());
    in = width;
  }
  layers.push_back(Linear(in, classes));

  // A non-default class count is part of the identity, so it joins the name; the default
  // keeps the documented short form ("mlp-d3-w64-i784").
  std::string name = "mlp-d" + std::to_string(depth) + "-w" + std::to_string(width) + "-i" +
                     std::to_string(features);
  if (classes != 10) name += "-c" + std::to_string(classes);
  return BuildSequential(name, "mlp", input, layers);
}

Result<Architecture> BuildCnn(const SweepPoint& point) {
  PointReader r("cnn", point, CnnParams());
  WF_RETURN_IF_ERROR(r.CheckNames());
  WF_ASSIGN_OR_RETURN(int64_t depth, r.Scalar("depth", -1, kMaxCnnDepth));
  WF_ASSIGN_OR_RETURN(int64_t width, r.Scalar("width", -1, kMaxWidth));
  WF_ASSIGN_OR_RETURN(int64_t kernel, r.Scalar("kernel", 3, 15));
  WF_ASSIGN_OR_RETURN(int64_t classes, r.Scalar("classes", 10, kMaxWidth));
  WF_ASSIGN_OR_RETURN(Shape input, r.ShapeParam("input"));
  if (input.size() != 3) {
    return r.Bad("input", "must be a shape [C, H, W], got " + ShapeToString(input));
  }
  if ((width << (depth - 1)) > kMaxWidth) {
    return r.Bad("width", std::to_string(width) + " doubled over depth " +
                              std::to_string(depth) + " exceeds " + std::to_string(kMaxWidth) +
                              " channels");
  }

  std::vector<LayerDecl> layers;
  int64_t channels = input[0], h = input[1], w = input[2];
  const int64_t pad = kernel / 2;
  for (int64_t b = 0; b < depth; ++b) {
    const int64_t out = width << b;
    layers.push_back(Conv2d(channels, out, kernel, pad));
    layers.push_back(ReLU());
    // Output of a stride-1 conv padded by k/2 (even kernels grow the map by one).
    h = h + 2 * pad - kernel + 1;
    w = w + 2 * pad - kernel + 1;
    if (h < 1 || w < 1) {
      return r.Bad("input", ShapeToString(input) + " is too small for kernel " +
                                std::to_string(kernel));
    }
    // A pool that would leave less than 2x2 is skipped, so deep members of small inputs
    // stay valid instead of collapsing to nothing.
    if (h / 2 >= 2 && w / 2 >= 2) {
      layers.push_back(MaxPool2d(2));
      h /= 2;
      w /= 2;
    }
    channels = out;
  }
  layers.push_back(Flatten());
  layers.push_back(Linear(channels * h * w, classes));

  std::string name = "cnn-d" + std::to_string(depth) + "-w" + std::to_string(width) + "-i" +
                     std::to_string(input[0]) + "x" + std::to_string(input[1]) + "x" +
                     std::to_string(input[2]);
  if (kernel != 3) name += "-k" + std::to_string(kernel);
  if (classes != 10) name += "-c" + std::to_string(classes);
  return BuildSequential(name, "cnn", input, layers);
}

struct FamilyEntry {
  const char* name;
  const std::vector<ParamInfo>& (*params)();
  Result<Architecture> (*build)(const SweepPoint&);
};
// Sorted by name: FamilyNames() returns them in this order.
const FamilyEntry kFamilies[] = {{"cnn", CnnParams, BuildCnn}, {"mlp", MlpParams, BuildMlp}};

}  // namespace

std::vector<std::string> ZooNames() {
  std::vector<std::string> names;
  for (const auto& e : kZoo) names.emplace_back(e.name);
  return names;
}

Result<Architecture> FindZooArchitecture(const std::string& name) {
  for (const auto& e : kZoo) {
    if (name == e.name) return e.build();
  }
  return Status::NotFound("unknown zoo architecture '" + name + "'; known: " + Join(ZooNames()));
}

std::vector<std::string> FamilyNames() {
  std::vector<std::string> names;
  for (const auto& f : kFamilies) names.emplace_back(f.name);
  return names;
}

std::map<std::string, std::string> FamilyParameters(const std::string& family) {
  std::map<std::string, std::string> out;
  for (const auto& f : kFamilies) {
    if (family != f.name) continue;
    for (const auto& p : f.params()) out[p.name] = p.help;
  }
  return out;
}

Result<Architecture> BuildFamilyMember(const std::string& family, const SweepPoint& point) {
  for (const auto& f : kFamilies) {
    if (family == f.name) return f.build(point);
  }
  return Status::InvalidArgument("unknown family '" + family + "'; known: " +
                                 Join(FamilyNames()));
}

}  // namespace wattfleet
