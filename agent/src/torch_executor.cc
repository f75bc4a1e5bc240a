// The libtorch executor: builds a job's graph as modules on the job's device and runs it in
// inference (eval + InferenceMode) or training (forward, loss, backward, SGD step) mode.
//
// This is the only agent translation unit that includes libtorch headers (they cost ~30 s
// each to compile on a small machine).
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <functional>

#include "executor.h"

namespace wattfleet {
namespace {

using NodeFn = std::function<torch::Tensor(const torch::Tensor&)>;

// A graph of modules: node i reads the outputs of the nodes it names (-1: the graph input).
// Nodes with one input are all that the layer types need today; adds and concatenations
// extend Forward, not the representation.
struct GraphModuleImpl : torch::nn::Module {
  std::vector<NodeFn> fns;
  std::vector<std::vector<int>> inputs;

  torch::Tensor forward(const torch::Tensor& x) {
    std::vector<torch::Tensor> outs;
    outs.reserve(fns.size());
    for (size_t i = 0; i < fns.size(); ++i) {
      const int in = inputs[i].empty() ? -1 : inputs[i][0];
      outs.push_back(fns[i](in < 0 ? x : outs[static_cast<size_t>(in)]));
    }
    return outs.back();
  }
};
TORCH_MODULE(GraphModule);

template <typename M>
NodeFn Wrap(M module) {
  return [module](const torch::Tensor& x) mutable { return module->forward(x); };
}

// Per-sample dims become batched dims: a non-negative dim shifts by one.
int64_t BatchedDim(int64_t dim) { return dim >= 0 ? dim + 1 : dim; }

Result<NodeFn> BuildNode(GraphModuleImpl& g, const std::string& name, const LayerSpec& s) {
  namespace nn = torch::nn;
  const auto i = [&s](const char* key, int64_t fallback = 0) { return s.Int(key, fallback); };
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
    case LayerType::kReLU:
      return Wrap(g.register_module(name, nn::ReLU()));
    case LayerType::kGELU:
      return Wrap(g.register_module(name, nn::GELU()));
    case LayerType::kSigmoid:
      return Wrap(g.register_module(name, nn::Sigmoid()));
    case LayerType::kTanh:
      return Wrap(g.register_module(name, nn::Tanh()));
    case LayerType::kSoftmax:
      return Wrap(g.register_module(name, nn::Softmax(BatchedDim(i("dim", -1)))));
    case LayerType::kMaxPool1d:
      return Wrap(g.register_module(
          name, nn::MaxPool1d(nn::MaxPool1dOptions(i("kernel_size"))
                                  .stride(i("stride", i("kernel_size")))
                                  .padding(i("padding")))));
    case LayerType::kMaxPool2d:
      return Wrap(g.register_module(
          name, nn::MaxPool2d(nn::MaxPool2dOptions(i("kernel_size"))
                                  .stride(i("stride", i("kernel_size")))
                                  .padding(i("padding")))));
    case LayerType::kAvgPool1d:
      return Wrap(g.register_module(
          name, nn::AvgPool1d(nn::AvgPool1dOptions(i("kernel_size"))
                                  .stride(i("stride", i("kernel_size")))
                                  .padding(i("padding")))));
    case LayerType::kAvgPool2d:
      return Wrap(g.register_module(
          name, nn::AvgPool2d(nn::AvgPool2dOptions(i("kernel_size"))
                                  .stride(i("stride", i("kernel_size")))
                                  .padding(i("padding")))));
    case LayerType::kAdaptiveAvgPool1d:
      return Wrap(g.register_module(
          name, nn::AdaptiveAvgPool1d(nn::AdaptiveAvgPool1dOptions(i("output_size")))));
    case LayerType::kAdaptiveAvgPool2d: {
      const int64_t o = i("output_size");
      return Wrap(g.register_module(
          name, nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({o, o}))));
    }
    case LayerType::kFlatten:
      return Wrap(g.register_module(name, nn::Flatten()));
    case LayerType::kDropout: {
      const auto it = s.params.find("p");
      return Wrap(g.register_module(
          name, nn::Dropout(nn::DropoutOptions(it == s.params.end() ? 0.5 : it->second))));
    }
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
      return NodeFn([m](const torch::Tensor& x) mutable { return std::get<0>(m->forward(x)); });
    }
    case LayerType::kGRU: {
      auto m = g.register_module(
          name, nn::GRU(nn::GRUOptions(i("input_size"), i("hidden_size"))
                            .num_layers(i("num_layers", 1))
                            .bias(i("bias", 1) != 0)
                            .bidirectional(i("bidirectional", 0) != 0)
                            .batch_first(true)));
      return NodeFn([m](const torch::Tensor& x) mutable { return std::get<0>(m->forward(x)); });
    }
  }
  return Status::InvalidArgument("layer type " + std::string(LayerTypeName(s.type)) +
                                 " is not supported by this executor");
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
  TorchWorkload(GraphModule graph, torch::Tensor input, Mode mode, torch::Device device)
      : graph_(std::move(graph)), input_(std::move(input)), mode_(mode), device_(device) {
    if (mode_ == Mode::kTraining) {
      graph_->train();
      auto params = graph_->parameters();
      if (!params.empty()) {
        optimizer_ = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(1e-4));
      }
    } else {
      graph_->eval();
    }
  }

  Status Run(int64_t iterations) override {
    try {
      if (mode_ == Mode::kInference) {
        c10::InferenceMode guard;
        for (int64_t k = 0; k < iterations; ++k) sink_ = graph_->forward(input_);
      } else {
        for (int64_t k = 0; k < iterations; ++k) {
          if (optimizer_) optimizer_->zero_grad();
          torch::Tensor loss = graph_->forward(input_).to(torch::kFloat32).square().mean();
          loss.backward();
          if (optimizer_) optimizer_->step();
        }
      }
      // GPU work is asynchronous: the window ends when the device is done, not when the
      // launches are.
      if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
      return Status::OK();
    } catch (const c10::Error& e) {
      return Status::Internal(e.what_without_backtrace());
    } catch (const std::exception& e) {
      return Status::Internal(e.what());
    }
  }

 private:
  GraphModule graph_;
  torch::Tensor input_;
  torch::Tensor sink_;  // keeps the last output alive so that nothing is elided
  Mode mode_;
  torch::Device device_;
  std::unique_ptr<torch::optim::SGD> optimizer_;
};

class TorchExecutor final : public Executor {
 public:
  TorchExecutor(torch::Device device, int threads) : device_(device), threads_(threads) {}

  Result<std::unique_ptr<Workload>> Prepare(const JobSpec& job) override {
    if (job.graph.nodes.empty()) return Status::InvalidArgument("job has an empty graph");
    WF_ASSIGN_OR_RETURN(torch::ScalarType dtype, ScalarTypeOf(job.dtype));
    try {
      GraphModule graph;
      for (size_t n = 0; n < job.graph.nodes.size(); ++n) {
        const ArchNode& node = job.graph.nodes[n];
        // Module names may not contain dots; node indices keep them unique.
        WF_ASSIGN_OR_RETURN(NodeFn fn, BuildNode(*graph, "n" + std::to_string(n), node.spec));
        graph->fns.push_back(std::move(fn));
        graph->inputs.push_back(node.inputs);
      }
      graph->to(device_, dtype);

      std::vector<int64_t> shape{job.batch};
      shape.insert(shape.end(), job.graph.input_shape.begin(), job.graph.input_shape.end());
      const LayerSpec& first = job.graph.nodes.front().spec;
      torch::Tensor input;
      if (first.type == LayerType::kEmbedding) {
        input = torch::randint(0, first.Int("num_embeddings"), shape,
                               torch::TensorOptions().dtype(torch::kLong).device(device_));
      } else {
        input = torch::randn(shape, torch::TensorOptions().dtype(dtype).device(device_));
        // A layer without parameters still has a backward pass to measure in training.
        if (job.mode == Mode::kTraining) input.requires_grad_(true);
      }
      auto workload =
          std::make_unique<TorchWorkload>(std::move(graph), std::move(input), job.mode, device_);
      // One untimed iteration catches shape or dtype errors before the protocol starts.
      // A failure here is the job's own fault (shapes, dtype): FAILED, never retried.
      if (Status first = workload->Run(1); !first.ok()) {
        return Status::InvalidArgument("first iteration: " + first.message());
      }
      return std::unique_ptr<Workload>(std::move(workload));
    } catch (const c10::Error& e) {
      return Status::InvalidArgument(e.what_without_backtrace());
    } catch (const std::exception& e) {
      return Status::InvalidArgument(e.what());
    }
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

  std::string torch_version() const override { return TORCH_VERSION; }
  int threads() const override { return threads_; }

 private:
  torch::Device device_;
  int threads_;
};

}  // namespace

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
