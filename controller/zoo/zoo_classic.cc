// The classic small networks: THOR's LeNet-5 and 5-layer CNN, an MNIST MLP, and the mlp and
// cnn families.
//
// Every architecture here is built through BuildSequential, so zoo entries and family members
// get the same validation, shape propagation and node naming as anything a user declares.
#include <utility>

#include "zoo_registry.h"

namespace wattfleet::zoo {
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


// ---- Families --------------------------------------------------------------------------

Result<Architecture> BuildMlp(const PointReader& r) {
  const int64_t depth = r.Int("depth"), width = r.Int("width"), classes = r.Int("classes");
  const Shape input = r.ShapeOf("input");
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

Result<Architecture> BuildCnn(const PointReader& r) {
  const int64_t depth = r.Int("depth"), width = r.Int("width"), kernel = r.Int("kernel");
  const int64_t classes = r.Int("classes");
  const Shape input = r.ShapeOf("input");
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

}  // namespace

void AddClassicModels(Registry& r) {
  r.models.push_back({"lenet5", "LeCun et al. 1998, ReLU and max pooling", LeNet5});
  r.models.push_back({"cnn5", "THOR's 5-layer CNN", Cnn5});
  r.models.push_back({"mlp-mnist", "a 2-hidden-layer MNIST MLP", MlpMnist});
  r.families.push_back({"mlp", BuildMlp});
  r.families.push_back({"cnn", BuildCnn});
}

}  // namespace wattfleet::zoo
