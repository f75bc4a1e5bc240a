// The libtorch executor: builds a job's graph as modules on the job's device and runs it in
// inference (eval + InferenceMode) or training mode: a whole network's step is zero_grad,
// forward, loss, backward and the named optimiser's step; a layer's is its forward and
// backward alone (the loss and the update are layer jobs of their own, torch_training.h).
//
// This, torch_training.cc and torch_script.cc are the only agent translation units that
// include libtorch headers (they cost ~30 s each to compile on a small machine).
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <mutex>

#include "wattfleet/common/layer_family.h"
#include "wattfleet/run/executor.h"
#include "torch_modules.h"
#include "torch_script.h"
#include "torch_training.h"
#include "torch_window.h"

namespace wattfleet {
namespace {

using torch::Tensor;
namespace tm = torch_modules;
// A node's computation on its inputs (one per ArchNode input, in order).
using NodeFn = std::function<Tensor(c10::ArrayRef<Tensor>)>;

// A DAG of modules in topological order: node i reads the outputs of the nodes it names, or
// graph inputs (GraphInput(k)). Intermediate outputs are released after their last reader,
// so a deep model holds only its live activations.
//
// In inference, a node with an in-place form (an activation, a residual add) writes into its
// first input when no later node reads that input and the input is a fresh tensor of its
// producer (not a view, nor a tensor the producer passed through): torchvision's
// `ReLU(inplace=True)` and `out += identity`, which spare an allocation and a pass over
// memory per layer.
struct GraphModuleImpl : torch::nn::Module {
  std::vector<NodeFn> fns;
  std::vector<NodeFn> in_place;  // per node: the computation done into its first input, or none
  std::vector<bool> fresh;       // per node: its output is a tensor it allocated
  std::vector<std::vector<int>> inputs;
  std::vector<size_t> last_use;  // per node: the last node reading it (itself when unread)
  std::vector<bool> may_overwrite;  // per node: its in-place form is safe to use
  std::vector<std::vector<Tensor>> scratch;  // per multi-input node, reused every iteration

  void Finalize() {
    last_use.resize(fns.size());
    scratch.resize(fns.size());
    may_overwrite.assign(fns.size(), false);
    for (size_t i = 0; i < fns.size(); ++i) {
      last_use[i] = i;
      for (int in : inputs[i]) {
        if (in >= 0) last_use[static_cast<size_t>(in)] = i;
      }
      if (inputs[i].size() > 1) scratch[i].resize(inputs[i].size());
    }
    for (size_t i = 0; i < fns.size(); ++i) {
      const int first = inputs[i].empty() ? GraphInput(0) : inputs[i][0];
      if (!in_place[i] || first < 0 || !fresh[static_cast<size_t>(first)]) continue;
      // Read by no later node, and not twice by this one.
      may_overwrite[i] = last_use[static_cast<size_t>(first)] == i &&
                         std::count(inputs[i].begin(), inputs[i].end(), first) == 1;
    }
  }

  Tensor forward(const std::vector<Tensor>& graph_inputs) {
    const bool inference = c10::InferenceMode::is_enabled();
    std::vector<Tensor> outs(fns.size());
    auto value = [&](int in) -> const Tensor& {
      return in < 0 ? graph_inputs[static_cast<size_t>(GraphInput(0) - in)]
                    : outs[static_cast<size_t>(in)];
    };
    for (size_t i = 0; i < fns.size(); ++i) {
      const std::vector<int>& ins = inputs[i];
      const NodeFn& fn = inference && may_overwrite[i] ? in_place[i] : fns[i];
      if (ins.size() == 1) {
        outs[i] = fn(c10::ArrayRef<Tensor>(value(ins[0])));
      } else {
        for (size_t j = 0; j < ins.size(); ++j) scratch[i][j] = value(ins[j]);
        outs[i] = fn(scratch[i]);
        for (Tensor& t : scratch[i]) t.reset();
      }
      for (int in : ins) {
        if (in >= 0 && last_use[static_cast<size_t>(in)] == i) outs[static_cast<size_t>(in)].reset();
      }
    }
    return outs.back();
  }
};
TORCH_MODULE(GraphModule);

template <typename M>
NodeFn Wrap(M module) {
  return [module](c10::ArrayRef<Tensor> x) mutable { return module->forward(x[0]); };
}
NodeFn Fn(std::function<Tensor(const Tensor&)> f) {
  return [f = std::move(f)](c10::ArrayRef<Tensor> x) { return f(x[0]); };
}

// Per-sample dims become batched dims: a non-negative dim shifts by one.
int64_t BatchedDim(int64_t dim) { return dim >= 0 ? dim + 1 : dim; }

// Builds one node's module or function from its layer spec, registered in `g` under `name`.
// Each family of types (layer_family.h) is a method.
struct NodeBuilder {
  GraphModuleImpl& g;
  const std::string& name;
  const LayerSpec& s;

  int64_t i(const char* key, int64_t fallback = 0) const { return s.Int(key, fallback); }
  double real(const char* key, double fallback) const {
    const auto it = s.params.find(key);
    return it == s.params.end() ? fallback : it->second;
  }
  Status Unsupported() const {
    return Status::InvalidArgument("layer type " + std::string(LayerTypeName(s.type)) +
                                   " is not supported by this executor");
  }

  // A max or average pool with the layer's window, stride, padding and ceil_mode.
  template <typename Module, typename Options>
  NodeFn Pool() const {
    return Wrap(g.register_module(name, Module(Options(i("kernel_size"))
                                                   .stride(i("stride", i("kernel_size")))
                                                   .padding(i("padding"))
                                                   .ceil_mode(i("ceil_mode") != 0))));
  }

  Result<NodeFn> Dense();
  Result<NodeFn> Activation();
  Result<NodeFn> Pooling();
  Result<NodeFn> Sequence();
  Result<NodeFn> Reshaping();
};

namespace nn = torch::nn;

// Convolutions, Linear and the normalizations: libtorch's modules with the layer's options.
Result<NodeFn> NodeBuilder::Dense() {
  switch (s.type) {
    case LayerType::kConv1d:
      return Wrap(g.register_module(
          name, nn::Conv1d(nn::Conv1dOptions(i("in_channels"), i("out_channels"),
                                             i("kernel_size"))
                               .stride(i("stride", 1))
                               .padding(torch::ExpandingArray<1>(i("padding")))
                               .dilation(i("dilation", 1))
                               .groups(i("groups", 1))
                               .bias(i("bias", 1) != 0))));
    case LayerType::kConv2d:
      return Wrap(g.register_module(
          name, nn::Conv2d(nn::Conv2dOptions(i("in_channels"), i("out_channels"),
                                             i("kernel_size"))
                               .stride(i("stride", 1))
                               .padding(torch::ExpandingArray<2>(i("padding")))
                               .dilation(i("dilation", 1))
                               .groups(i("groups", 1))
                               .bias(i("bias", 1) != 0))));
    case LayerType::kConvTranspose2d: {
      auto m = g.register_module(
          name, nn::ConvTranspose2d(nn::ConvTranspose2dOptions(i("in_channels"),
                                                               i("out_channels"),
                                                               i("kernel_size"))
                                        .stride(i("stride", 1))
                                        .padding(i("padding"))
                                        .output_padding(i("output_padding"))
                                        .dilation(i("dilation", 1))
                                        .groups(i("groups", 1))
                                        .bias(i("bias", 1) != 0)));
      // forward() takes an optional output size: no default-argument call through Wrap.
      return Fn([m](const Tensor& x) mutable { return m->forward(x); });
    }
    case LayerType::kLinear:
      return Wrap(g.register_module(
          name, nn::Linear(nn::LinearOptions(i("in_features"), i("out_features"))
                               .bias(i("bias", 1) != 0))));
    case LayerType::kBatchNorm1d:
      return Wrap(g.register_module(name, nn::BatchNorm1d(i("num_features"))));
    case LayerType::kBatchNorm2d:
      return Wrap(g.register_module(name, nn::BatchNorm2d(i("num_features"))));
    case LayerType::kLayerNorm:
      return Wrap(g.register_module(
          name, nn::LayerNorm(nn::LayerNormOptions({i("normalized_shape")})
                                  .elementwise_affine(i("elementwise_affine", 1) != 0))));
    case LayerType::kGroupNorm:
      return Wrap(g.register_module(
          name, nn::GroupNorm(nn::GroupNormOptions(i("num_groups"), i("num_channels"))
                                  .affine(i("affine", 1) != 0))));
    default:
      break;
  }
  return Unsupported();
}

// Activations and Softmax.
Result<NodeFn> NodeBuilder::Activation() {
  switch (s.type) {
    case LayerType::kReLU:
      return Wrap(g.register_module(name, nn::ReLU()));
    case LayerType::kReLU6:
      return Wrap(g.register_module(name, nn::ReLU6()));
    case LayerType::kGELU:
      return Wrap(g.register_module(name, nn::GELU()));
    case LayerType::kSiLU:
      return Wrap(g.register_module(name, nn::SiLU()));
    case LayerType::kHardswish:
      return Fn([](const Tensor& x) { return torch::hardswish(x); });
    case LayerType::kHardsigmoid:
      return Fn([](const Tensor& x) { return torch::hardsigmoid(x); });
    case LayerType::kSigmoid:
      return Wrap(g.register_module(name, nn::Sigmoid()));
    case LayerType::kTanh:
      return Wrap(g.register_module(name, nn::Tanh()));
    case LayerType::kSoftmax:
      return Wrap(g.register_module(name, nn::Softmax(BatchedDim(i("dim", -1)))));
    default:
      break;
  }
  return Unsupported();
}

// Pools and Upsample.
Result<NodeFn> NodeBuilder::Pooling() {
  switch (s.type) {
    case LayerType::kMaxPool1d:
      return Pool<nn::MaxPool1d, nn::MaxPool1dOptions>();
    case LayerType::kMaxPool2d:
      return Pool<nn::MaxPool2d, nn::MaxPool2dOptions>();
    case LayerType::kAvgPool1d:
      return Pool<nn::AvgPool1d, nn::AvgPool1dOptions>();
    case LayerType::kAvgPool2d:
      return Pool<nn::AvgPool2d, nn::AvgPool2dOptions>();
    case LayerType::kAdaptiveAvgPool1d:
      return Wrap(g.register_module(
          name, nn::AdaptiveAvgPool1d(nn::AdaptiveAvgPool1dOptions(i("output_size")))));
    case LayerType::kAdaptiveAvgPool2d: {
      const int64_t o = i("output_size");
      return Wrap(g.register_module(
          name, nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({o, o}))));
    }
    case LayerType::kUpsample: {
      const double scale = static_cast<double>(i("scale_factor"));
      auto options = nn::UpsampleOptions().scale_factor(std::vector<double>{scale, scale});
      if (i("bilinear") != 0) {
        options.mode(torch::kBilinear).align_corners(false);
      } else {
        options.mode(torch::kNearest);
      }
      return Wrap(g.register_module(name, nn::Upsample(options)));
    }
    default:
      break;
  }
  return Unsupported();
}

// Embeddings, recurrent layers, attention and the Vision Transformer's token layers.
Result<NodeFn> NodeBuilder::Sequence() {
  switch (s.type) {
    case LayerType::kEmbedding:
      return Wrap(g.register_module(
          name, nn::Embedding(nn::EmbeddingOptions(i("num_embeddings"), i("embedding_dim")))));
    case LayerType::kLSTM: {
      auto m = g.register_module(
          name, nn::LSTM(nn::LSTMOptions(i("input_size"), i("hidden_size"))
                             .num_layers(i("num_layers", 1))
                             .bias(i("bias", 1) != 0)
                             .bidirectional(i("bidirectional", 0) != 0)
                             .batch_first(true)));
      // The module returns (output, (h, c)); the sequence output is what the next layer reads.
      return Fn([m](const Tensor& x) mutable { return std::get<0>(m->forward(x)); });
    }
    case LayerType::kGRU: {
      auto m = g.register_module(
          name, nn::GRU(nn::GRUOptions(i("input_size"), i("hidden_size"))
                            .num_layers(i("num_layers", 1))
                            .bias(i("bias", 1) != 0)
                            .bidirectional(i("bidirectional", 0) != 0)
                            .batch_first(true)));
      return Fn([m](const Tensor& x) mutable { return std::get<0>(m->forward(x)); });
    }
    case LayerType::kMultiheadAttention:
      return Wrap(g.register_module(
          name, tm::SelfAttention(i("embed_dim"), i("num_heads"), i("bias", 1) != 0,
                                  real("dropout", 0), i("causal") != 0)));
    case LayerType::kTransformerEncoderLayer:
      return Wrap(g.register_module(
          name, tm::EncoderLayer(i("d_model"), i("nhead"), i("dim_feedforward", 2048),
                                 real("dropout", 0.1), i("gelu") != 0, i("norm_first") != 0,
                                 i("causal") != 0)));
    case LayerType::kTokens:
      return Fn([](const Tensor& x) { return x.flatten(2).transpose(1, 2).contiguous(); });
    case LayerType::kClassToken:
      return Wrap(g.register_module(name, tm::ClassToken(s.input_shape[1])));
    case LayerType::kPositionalEmbedding:
      return Wrap(g.register_module(name, tm::LearnedTable(s.input_shape, false)));
    case LayerType::kSelectToken: {
      const int64_t index = i("index");
      return Fn([index](const Tensor& x) { return x.select(1, index); });
    }
    case LayerType::kLayerScale: {
      std::vector<int64_t> shape(s.input_shape.size(), 1);
      shape[0] = s.input_shape[0];
      return Wrap(g.register_module(name, tm::LearnedTable(shape, true)));
    }
    default:
      break;
  }
  return Unsupported();
}

// Layers that move, join or split tensors.
Result<NodeFn> NodeBuilder::Reshaping() {
  switch (s.type) {
    case LayerType::kFlatten:
      return Wrap(g.register_module(name, nn::Flatten()));
    case LayerType::kDropout:
      return Wrap(g.register_module(name, nn::Dropout(nn::DropoutOptions(real("p", 0.5)))));
    case LayerType::kAdd:
      return NodeFn([](c10::ArrayRef<Tensor> x) {
        Tensor sum = x[0] + x[1];
        for (size_t j = 2; j < x.size(); ++j) sum = sum + x[j];
        return sum;
      });
    case LayerType::kMul:
      return NodeFn([](c10::ArrayRef<Tensor> x) {
        Tensor product = x[0] * x[1];
        for (size_t j = 2; j < x.size(); ++j) product = product * x[j];
        return product;
      });
    case LayerType::kConcat: {
      const int64_t dim = BatchedDim(i("dim"));
      return NodeFn([dim](c10::ArrayRef<Tensor> x) { return torch::cat(x, dim); });
    }
    case LayerType::kNarrow: {
      const int64_t dim = BatchedDim(i("dim")), start = i("start"), length = i("length");
      // contiguous(): the next layer reads a real copy, as after torch.chunk in a model.
      return Fn([=](const Tensor& x) { return x.narrow(dim, start, length).contiguous(); });
    }
    case LayerType::kChannelShuffle: {
      const int64_t groups = i("groups");
      return Fn([groups](const Tensor& x) {
        const auto sizes = x.sizes();
        return x.view({sizes[0], groups, sizes[1] / groups, sizes[2], sizes[3]})
            .transpose(1, 2)
            .contiguous()
            .view(sizes);
      });
    }
    case LayerType::kChannelsLast:
      return Fn([](const Tensor& x) { return x.permute({0, 2, 3, 1}).contiguous(); });
    case LayerType::kChannelsFirst:
      return Fn([](const Tensor& x) { return x.permute({0, 3, 1, 2}).contiguous(); });
    case LayerType::kTranspose:
      return Fn([](const Tensor& x) { return x.transpose(1, 2).contiguous(); });
    default:
      break;
  }
  return Unsupported();
}

Result<NodeFn> BuildNode(GraphModuleImpl& g, const std::string& name, const LayerSpec& s) {
  NodeBuilder b{g, name, s};
  switch (FamilyOf(s.type)) {
    case LayerFamily::kDense:
    case LayerFamily::kNormalization: return b.Dense();
    case LayerFamily::kActivation: return b.Activation();
    case LayerFamily::kPooling: return b.Pooling();
    case LayerFamily::kSequence: return b.Sequence();
    case LayerFamily::kReshaping: return b.Reshaping();
    // Parts of a training step, never nodes of a graph (PrepareStepPart measures them).
    case LayerFamily::kTrainingStep: break;
  }
  return b.Unsupported();
}

// The computation of a node of type `s` done into its first input, where there is one: the
// activations torchvision runs with inplace=True, and a sum of two tensors of one shape.
NodeFn InPlaceForm(const LayerSpec& s) {
  switch (s.type) {
    case LayerType::kReLU:
      return NodeFn([](c10::ArrayRef<Tensor> x) { return x[0].relu_(); });
    case LayerType::kReLU6:
      return NodeFn([](c10::ArrayRef<Tensor> x) { return x[0].clamp_(0, 6); });
    case LayerType::kSiLU:
      return NodeFn([](c10::ArrayRef<Tensor> x) {
        Tensor t = x[0];  // a handle on the same storage
        return torch::silu_(t);
      });
    case LayerType::kHardswish:
      return NodeFn([](c10::ArrayRef<Tensor> x) {
        Tensor t = x[0];  // a handle on the same storage
        return torch::hardswish_(t);
      });
    case LayerType::kAdd:
      // Broadcasting sums write into the larger operand: not this form.
      if (s.extra_inputs.size() != 1 || s.extra_inputs[0] != s.input_shape) return nullptr;
      return NodeFn([](c10::ArrayRef<Tensor> x) { return x[0].add_(x[1]); });
    default:
      return nullptr;
  }
}

// Whether a node of type `t` returns a tensor no other node holds: one it allocated, or (an
// activation or sum done in place) its input's, which only it read. Not a view of its input
// (Flatten, SelectToken) nor its input itself (Dropout in eval), which another node may read.
bool ReturnsFreshTensor(LayerType t) {
  switch (t) {
    case LayerType::kReLU:
    case LayerType::kReLU6:
    case LayerType::kSiLU:
    case LayerType::kHardswish:
    case LayerType::kHardsigmoid:
    case LayerType::kSigmoid:
    case LayerType::kTanh:
    case LayerType::kGELU:
    case LayerType::kConv1d:
    case LayerType::kConv2d:
    case LayerType::kConvTranspose2d:
    case LayerType::kLinear:
    case LayerType::kBatchNorm1d:
    case LayerType::kBatchNorm2d:
    case LayerType::kLayerNorm:
    case LayerType::kGroupNorm:
    case LayerType::kAdd:
    case LayerType::kMul:
    case LayerType::kConcat:
    case LayerType::kMaxPool2d:
    case LayerType::kAvgPool2d:
      return true;
    default:
      return false;
  }
}

// The graph's modules, on the CPU in float32 (the caller moves them).
Result<GraphModule> BuildGraph(const Architecture& arch) {
  GraphModule graph;
  for (size_t n = 0; n < arch.nodes.size(); ++n) {
    const ArchNode& node = arch.nodes[n];
    // Module names may not contain dots; node indices keep them unique.
    WF_ASSIGN_OR_RETURN(NodeFn fn, BuildNode(*graph, "n" + std::to_string(n), node.spec));
    graph->fns.push_back(std::move(fn));
    graph->in_place.push_back(InPlaceForm(node.spec));
    graph->fresh.push_back(ReturnsFreshTensor(node.spec.type));
    graph->inputs.push_back(node.inputs.empty() ? std::vector<int>{GraphInput(0)} : node.inputs);
  }
  graph->Finalize();
  return graph;
}

Result<torch::ScalarType> ScalarTypeOf(DType d) {
  switch (d) {
    case DType::kFloat32: return torch::kFloat32;
    case DType::kFloat16: return torch::kFloat16;
    case DType::kBFloat16: return torch::kBFloat16;
  }
  return Status::InvalidArgument("unknown dtype");
}

class TorchWorkload final : public Workload {
 public:
  TorchWorkload(GraphModule graph, std::vector<Tensor> inputs, const JobSpec& job,
                torch::Device device)
      : graph_(std::move(graph)),
        inputs_(std::move(inputs)),
        mode_(job.mode),
        whole_step_(job.kind != JobKind::kLayer),
        loss_(job.loss),
        device_(device) {
    if (mode_ != Mode::kTraining) {
      graph_->eval();
      return;
    }
    graph_->train();
    auto params = graph_->parameters();
    if (whole_step_ && !params.empty()) {
      optimizer_ = torch_training::MakeOptimizer(job.optimizer, std::move(params));
    }
  }

  Status Run(int64_t iterations) override {
    return RunWindow(device_, [&] {
      if (mode_ == Mode::kInference) {
        c10::InferenceMode guard;
        for (int64_t k = 0; k < iterations; ++k) sink_ = graph_->forward(inputs_);
      } else if (whole_step_) {
        for (int64_t k = 0; k < iterations; ++k) TrainingStep();
      } else {
        for (int64_t k = 0; k < iterations; ++k) LayerStep();
      }
    });
  }

 private:
  // The loop of a training script (torch_training.h); the target is drawn once, from the
  // output's shape.
  void TrainingStep() {
    if (!target_.defined()) {
      torch::NoGradGuard no_grad;  // inference tensors could not be saved for backward
      target_ = torch_training::MakeTarget(loss_, graph_->forward(inputs_));
    }
    torch_training::TrainingStep(
        *graph_, [this] { return graph_->forward(inputs_); }, loss_, target_, optimizer_.get());
  }

  // One layer inside a network's step: its forward, and its backward from a gradient of its
  // output such as the layers after it hand back (its parameters' and its input's).
  void LayerStep() {
    graph_->zero_grad(/*set_to_none=*/true);
    for (Tensor& x : inputs_) {
      if (x.requires_grad()) x.mutable_grad().reset();
    }
    Tensor out = graph_->forward(inputs_);
    if (!out.requires_grad()) return;
    if (!grad_out_.defined()) grad_out_ = torch::ones_like(out);
    out.backward(grad_out_);
  }

  GraphModule graph_;
  std::vector<Tensor> inputs_;
  Tensor sink_;  // keeps the last output alive so that nothing is elided
  Mode mode_;
  bool whole_step_;  // a network's (or probe's) step rather than one layer's
  Loss loss_;
  torch::Device device_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  Tensor target_, grad_out_;  // made at the first iteration, from the output's shape
};

// The graph's inputs on random data: token ids for inputs that Embedding nodes read, values
// of the job's dtype otherwise. A layer's input requires gradients in training (inside a
// network the backward pass goes through it, so that a layer without parameters still has one
// to measure); a network's input does not, as in a training script.
std::vector<Tensor> MakeInputs(const JobSpec& job, torch::ScalarType dtype,
                               torch::Device device) {
  const Architecture& g = job.graph;
  std::vector<Tensor> inputs;
  for (size_t k = 0; k <= g.extra_inputs.size(); ++k) {
    std::vector<int64_t> shape{job.batch};
    const Shape& sample = k == 0 ? g.input_shape : g.extra_inputs[k - 1];
    shape.insert(shape.end(), sample.begin(), sample.end());
    int64_t vocabulary = 0;  // the smallest table of the Embedding nodes reading this input
    for (const ArchNode& node : g.nodes) {
      if (node.spec.type != LayerType::kEmbedding) continue;
      for (int in : node.inputs) {
        if (in != GraphInput(static_cast<int>(k))) continue;
        const int64_t n = node.spec.Int("num_embeddings");
        vocabulary = vocabulary == 0 ? n : std::min(vocabulary, n);
      }
    }
    if (vocabulary > 0) {
      inputs.push_back(torch::randint(0, vocabulary, shape,
                                      torch::TensorOptions().dtype(torch::kLong).device(device)));
    } else {
      Tensor x = torch::randn(shape, torch::TensorOptions().dtype(dtype).device(device));
      if (job.mode == Mode::kTraining && job.kind == JobKind::kLayer) x.requires_grad_(true);
      inputs.push_back(std::move(x));
    }
  }
  return inputs;
}

// Whether the device computes in `dtype`: a convolution, a matrix product and a normalization
// (the kernels that lack reduced-precision versions on some CPUs), forward and backward.
bool DeviceHasDType(torch::Device device, torch::ScalarType dtype) {
  try {
    auto opts = torch::TensorOptions().dtype(dtype).device(device);
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(2, 2, 3));
    torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({2}));
    conv->to(device, dtype);
    norm->to(device, dtype);
    Tensor x = torch::randn({1, 2, 4, 4}, opts).requires_grad_(true);
    Tensor y = norm->forward(conv->forward(x).transpose(1, 3)).matmul(torch::randn({2, 2}, opts));
    y.to(torch::kFloat32).sum().backward();
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

class TorchExecutor final : public Executor {
 public:
  TorchExecutor(torch::Device device, int threads) : device_(device), threads_(threads) {}

  Result<std::unique_ptr<Workload>> Prepare(const JobSpec& job) override {
    if (job.graph.nodes.empty()) return Status::InvalidArgument("job has an empty graph");
    WF_ASSIGN_OR_RETURN(torch::ScalarType dtype, ScalarTypeOf(job.dtype));
    const std::vector<DType> supported = dtypes();
    if (std::find(supported.begin(), supported.end(), job.dtype) == supported.end()) {
      return Status::InvalidArgument(std::string(DTypeName(job.dtype)) + " is not supported on " +
                                     device_.str() + " by libtorch " + TORCH_VERSION);
    }
    try {
      const LayerSpec& first = job.graph.nodes.front().spec;
      if (job.kind == JobKind::kLayer && IsTrainingStepPart(first.type)) {
        WF_ASSIGN_OR_RETURN(auto part,
                            torch_training::PrepareStepPart(job, first, dtype, device_));
        return Checked(std::move(part));
      }
      if (job.kind == JobKind::kModel && !job.graph.model_file.empty()) {
        // The model's own file: the graph only named and priced its layers.
        WF_ASSIGN_OR_RETURN(auto module,
                            torch_script::PrepareModule(job, MakeInputs(job, dtype, device_),
                                                        dtype, device_));
        return Checked(std::move(module));
      }
      WF_ASSIGN_OR_RETURN(GraphModule graph, BuildGraph(job.graph));
      graph->to(device_, dtype);
      return Checked(std::make_unique<TorchWorkload>(std::move(graph),
                                                      MakeInputs(job, dtype, device_), job,
                                                      device_));
    } catch (const c10::Error& e) {
      return Status::InvalidArgument(e.what_without_backtrace());
    } catch (const std::exception& e) {
      return Status::InvalidArgument(e.what());
    }
  }

  // Probed on first use, not at construction: the agent process that only dispatches to its
  // exec-worker never needs them, and the probe runs kernels on the device.
  std::vector<DType> dtypes() const override {
    std::call_once(dtypes_probed_, [this] {
      for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
        auto t = ScalarTypeOf(d);
        if (t.ok() && DeviceHasDType(device_, *t)) dtypes_.push_back(d);
      }
    });
    return dtypes_;
  }

  Result<double> MeasurePeakFlops(double seconds) override {
    try {
      c10::InferenceMode guard;
      const int64_t n = device_.is_cuda() ? 4096 : 512;
      auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
      torch::Tensor a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts), c;
      c = torch::mm(a, b);  // warm-up: allocation, kernel selection
      if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
      const auto start = std::chrono::steady_clock::now();
      int64_t reps = 0;
      double elapsed = 0;
      do {
        for (int k = 0; k < 4; ++k) c = torch::mm(a, b);
        reps += 4;
        if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } while (elapsed < seconds);
      return 2.0 * static_cast<double>(n) * n * n * static_cast<double>(reps) / elapsed;
    } catch (const c10::Error& e) {
      return Status::Internal(e.what_without_backtrace());
    }
  }

  Result<double> MeasurePeakConvFlops(double seconds) override {
    return ConvRate(device_.is_cuda() ? 64 : 8, 64, 64, 56, 3, seconds);
  }

  // Libtorch's CPU path picks the kernel of a batch-1 1x1 convolution by its shape as well
  // (with two threads, 384 -> 64 channels over 14x14 ran at 29 GMAC/s through oneDNN, 64 -> 384
  // at 3.0 through the BLAS): one that widens and one that narrows, their rates' geometric
  // mean, as networks hold both (bottlenecks, inverted residuals).
  Result<double> MeasurePointwiseFlops(double seconds) override {
    WF_ASSIGN_OR_RETURN(double widen, ConvRate(1, 64, 384, 14, 1, seconds / 2));
    WF_ASSIGN_OR_RETURN(double narrow, ConvRate(1, 384, 64, 14, 1, seconds / 2));
    return std::sqrt(widen * narrow);
  }

  std::string torch_version() const override { return TORCH_VERSION; }
  int threads() const override { return threads_; }

 private:
  // One untimed iteration catches shape or dtype errors before the protocol starts. A
  // failure here is the job's own fault (shapes, dtype): FAILED, never retried.
  static Result<std::unique_ptr<Workload>> Checked(std::unique_ptr<Workload> workload) {
    if (Status first = workload->Run(1); !first.ok()) {
      return Status::InvalidArgument("first iteration: " + first.message());
    }
    return workload;
  }

  // FLOP/s (2 per MAC) of a square `kernel` x `kernel` convolution from `in` to `out`
  // channels over `side` x `side` at `batch`, run for about `seconds`, synchronized.
  Result<double> ConvRate(int64_t batch, int64_t in, int64_t out, int64_t side, int64_t kernel,
                          double seconds) {
    try {
      c10::InferenceMode guard;
      auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
      torch::Tensor x = torch::randn({batch, in, side, side}, opts);
      torch::Tensor w = torch::randn({out, in, kernel, kernel}, opts), y;
      const int64_t padding = kernel / 2;
      y = torch::conv2d(x, w, {}, 1, padding);  // warm-up: allocation, kernel selection
      if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
      const auto start = std::chrono::steady_clock::now();
      int64_t reps = 0;
      double elapsed = 0;
      do {
        y = torch::conv2d(x, w, {}, 1, padding);
        ++reps;
        if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } while (elapsed < seconds);
      const double macs =
          static_cast<double>(batch * in * out * kernel * kernel * side * side);
      return 2.0 * macs * static_cast<double>(reps) / elapsed;
    } catch (const c10::Error& e) {
      return Status::Internal(e.what_without_backtrace());
    }
  }

  torch::Device device_;
  int threads_;
  mutable std::once_flag dtypes_probed_;
  mutable std::vector<DType> dtypes_;
};

}  // namespace

std::string ExecutorLibtorchVersion() { return TORCH_VERSION; }

Result<std::pair<std::vector<float>, std::vector<float>>> ForwardBothWays(const JobSpec& job) {
  try {
    torch::manual_seed(1);
    WF_ASSIGN_OR_RETURN(GraphModule graph, BuildGraph(job.graph));
    graph->eval();
    torch::manual_seed(2);
    const std::vector<Tensor> inputs = MakeInputs(job, torch::kFloat32, torch::kCPU);
    auto flat = [](const Tensor& t) {
      const Tensor c = t.contiguous().to(torch::kFloat32);
      return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    };
    std::vector<float> in_place, copied;
    {
      c10::InferenceMode guard;
      in_place = flat(graph->forward(inputs));
    }
    {
      torch::NoGradGuard guard;
      copied = flat(graph->forward(inputs));
    }
    return std::make_pair(std::move(in_place), std::move(copied));
  } catch (const c10::Error& e) {
    return Status::InvalidArgument(e.what_without_backtrace());
  }
}

Result<std::unique_ptr<Executor>> MakeExecutor(const ExecutorOptions& options) {
  try {
    torch::Device device(options.device);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      return Status::InvalidArgument("--device " + options.device +
                                     ": libtorch has no CUDA device here");
    }
    if (options.threads > 0) torch::set_num_threads(options.threads);
    return std::unique_ptr<Executor>(
        std::make_unique<TorchExecutor>(device, torch::get_num_threads()));
  } catch (const c10::Error& e) {
    return Status::InvalidArgument("--device " + options.device + ": " +
                                   e.what_without_backtrace());
  }
}

}  // namespace wattfleet
