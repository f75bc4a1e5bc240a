// The libtorch executor builds and runs every layer type, and the shapes the layer model
// predicts are the shapes libtorch produces: each layer is followed by Flatten and a Linear
// whose in_features is the predicted output size, so a wrong prediction fails Prepare.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "wattfleet/run/executor.h"
#include "layer_samples.h"
#include "wattfleet/common/architecture.h"
#include "wattfleet/common/layer.h"
#include "wattfleet/common/probe.h"

namespace wattfleet {
namespace {

struct Case {
  LayerType type;
  std::map<std::string, double> params;
  Shape input;
};

std::vector<Case> Cases() {
  return {
      {LayerType::kConv1d, {{"in_channels", 4}, {"out_channels", 8}, {"kernel_size", 3}, {"stride", 2}, {"padding", 1}}, {4, 33}},
      {LayerType::kConv2d, {{"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}, {"dilation", 2}, {"padding", 1}}, {3, 17, 19}},
      {LayerType::kConv2d, {{"in_channels", 8}, {"out_channels", 8}, {"kernel_size", 3}, {"groups", 8}}, {8, 12, 12}},
      {LayerType::kLinear, {{"in_features", 20}, {"out_features", 7}}, {5, 20}},
      {LayerType::kBatchNorm1d, {}, {6, 10}},
      {LayerType::kBatchNorm2d, {}, {6, 5, 5}},
      {LayerType::kLayerNorm, {}, {9, 16}},
      {LayerType::kReLU, {}, {3, 7}},
      {LayerType::kGELU, {}, {11}},
      {LayerType::kSigmoid, {}, {2, 3, 4}},
      {LayerType::kTanh, {}, {13}},
      {LayerType::kSoftmax, {{"dim", 0}}, {4, 6}},
      {LayerType::kMaxPool1d, {{"kernel_size", 3}, {"stride", 2}}, {4, 20}},
      {LayerType::kMaxPool2d, {{"kernel_size", 2}}, {3, 15, 15}},
      {LayerType::kAvgPool1d, {{"kernel_size", 4}, {"padding", 1}}, {2, 17}},
      {LayerType::kAvgPool2d, {{"kernel_size", 3}, {"stride", 2}, {"padding", 1}}, {3, 14, 14}},
      {LayerType::kAdaptiveAvgPool1d, {{"output_size", 5}}, {3, 23}},
      {LayerType::kAdaptiveAvgPool2d, {{"output_size", 4}}, {3, 9, 9}},
      {LayerType::kFlatten, {}, {3, 4, 5}},
      {LayerType::kDropout, {{"p", 0.25}}, {30}},
      {LayerType::kEmbedding, {{"num_embeddings", 50}, {"embedding_dim", 12}}, {7}},
      {LayerType::kLSTM, {{"input_size", 6}, {"hidden_size", 10}, {"num_layers", 2}, {"bidirectional", 1}}, {5, 6}},
      {LayerType::kGRU, {{"input_size", 6}, {"hidden_size", 9}}, {5, 6}},
  };
}

class TorchExecutorTest : public ::testing::TestWithParam<Mode> {};

TEST_P(TorchExecutorTest, EveryLayerTypeRunsWithThePredictedOutputShape) {
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok()) << executor.status().ToString();
  EXPECT_FALSE((*executor)->torch_version().empty());
  for (const Case& c : Cases()) {
    LayerSpec probe{c.type, c.params, c.input};
    auto features = ComputeFeatures(probe);
    ASSERT_TRUE(features.ok()) << features.status().ToString();
    auto arch = BuildSequential(
        "check", "test", c.input,
        {{c.type, c.params, "subject"},
         {LayerType::kFlatten, {}, "flat"},
         {LayerType::kLinear, {{"in_features", static_cast<double>(features->output_elements)}, {"out_features", 3}}, "head"}});
    ASSERT_TRUE(arch.ok()) << arch.status().ToString();
    JobSpec job;
    job.job_id = 1;
    job.kind = JobKind::kModel;
    job.mode = GetParam();
    job.batch = 2;
    job.graph = *arch;
    auto workload = (*executor)->Prepare(job);
    ASSERT_TRUE(workload.ok()) << LayerTypeName(c.type) << ": " << workload.status().ToString();
    EXPECT_TRUE((*workload)->Run(2).ok()) << LayerTypeName(c.type);
  }
}

// `spec` reading the graph's inputs, then Flatten and a Linear sized from the predicted output:
// Prepare fails when libtorch's output size differs from the layer model's.
Architecture Checked(const LayerSpec& spec) {
  Architecture g = SingleLayerGraph("check", spec);
  auto features = ComputeFeatures(spec);
  EXPECT_TRUE(features.ok()) << features.status().ToString();
  ArchNode flat{"flat", {LayerType::kFlatten, {}, features->output_shape, {}}, {0}};
  ArchNode head{"head",
                {LayerType::kLinear,
                 {{"in_features", static_cast<double>(features->output_elements)},
                  {"out_features", 3}},
                 {features->output_elements},
                 {}},
                {1}};
  g.nodes.push_back(std::move(flat));
  g.nodes.push_back(std::move(head));
  return g;
}

std::vector<LayerSpec> EveryTypeAndVariants() {
  using testing::Spec;
  std::vector<LayerSpec> specs = testing::OneOfEachLayer();
  specs.push_back(Spec(LayerType::kConvTranspose2d,
                       {{"in_channels", 4}, {"out_channels", 6}, {"kernel_size", 3}, {"stride", 2},
                        {"padding", 1}, {"output_padding", 1}, {"groups", 2}},
                       {4, 7, 9}));
  specs.push_back(Spec(LayerType::kUpsample, {{"scale_factor", 3}}, {2, 4, 5}));
  specs.push_back(Spec(LayerType::kMultiheadAttention, {{"num_heads", 4}, {"causal", 1}}, {6, 16}));
  specs.push_back(Spec(LayerType::kTransformerEncoderLayer,
                       {{"nhead", 2}, {"dim_feedforward", 32}, {"gelu", 1}, {"norm_first", 1},
                        {"causal", 1}},
                       {6, 8}));
  specs.push_back(Spec(LayerType::kConcat, {{"dim", -1}}, {3, 4, 2}, {{3, 4, 5}, {3, 4, 1}}));
  specs.push_back(Spec(LayerType::kNarrow, {{"dim", 1}, {"start", 1}, {"length", 3}}, {2, 5, 4}));
  return specs;
}

TEST_P(TorchExecutorTest, EveryLayerTypeOfTheModelRunsWithThePredictedOutputSize) {
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok()) << executor.status().ToString();
  std::set<LayerType> covered;
  for (const LayerSpec& raw : EveryTypeAndVariants()) {
    auto spec = Normalize(raw);
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    JobSpec job;
    job.job_id = 1;
    job.kind = JobKind::kLayer;
    job.mode = GetParam();
    job.batch = 2;
    if (IsTrainingStepPart(spec->type)) {
      // A loss or an update is measured alone, and only in training.
      job.graph = SingleLayerGraph("part", *spec);
      auto part = (*executor)->Prepare(job);
      if (GetParam() == Mode::kInference) {
        ASSERT_FALSE(part.ok()) << CanonicalKey(*spec);
        EXPECT_NE(part.status().message().find("training"), std::string::npos);
      } else {
        ASSERT_TRUE(part.ok()) << CanonicalKey(*spec) << ": " << part.status().ToString();
        EXPECT_TRUE((*part)->Run(2).ok()) << CanonicalKey(*spec);
      }
      covered.insert(spec->type);
      continue;
    }
    job.graph = Checked(*spec);
    auto workload = (*executor)->Prepare(job);
    ASSERT_TRUE(workload.ok()) << CanonicalKey(*spec) << ": " << workload.status().ToString();
    EXPECT_TRUE((*workload)->Run(2).ok()) << CanonicalKey(*spec);
    covered.insert(spec->type);
  }
  EXPECT_EQ(covered.size(), AllLayerTypes().size());
}

// A small DAG with a residual add, a concatenation of two branches and a squeeze-and-excite
// style broadcast product runs in both modes.
TEST_P(TorchExecutorTest, RunsDagArchitectures) {
  using T = LayerType;
  GraphBuilder g("dag", "test", {4, 8, 8});
  const auto stem = g.Then(T::kConv2d, {{"in_channels", 4}, {"out_channels", 8}, {"kernel_size", 3},
                                        {"padding", 1}});
  const auto a = g.Add(T::kConv2d, {{"in_channels", 8}, {"out_channels", 8}, {"kernel_size", 3},
                                    {"padding", 1}}, {stem});
  const auto res = g.Add(T::kAdd, {}, {a, stem});
  const auto b = g.Add(T::kConv2d, {{"in_channels", 8}, {"out_channels", 4}, {"kernel_size", 1}},
                       {stem});
  const auto cat = g.Add(T::kConcat, {}, {res, b});
  g.Then(T::kAdaptiveAvgPool2d, {{"output_size", 1}});
  const auto gate = g.Then(T::kSigmoid);
  g.Add(T::kMul, {}, {cat, gate});
  g.Then(T::kFlatten);
  g.Then(T::kLinear, {{"in_features", 12 * 64}, {"out_features", 5}});
  auto arch = std::move(g).Finish();
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok());
  JobSpec job;
  job.job_id = 1;
  job.kind = JobKind::kModel;
  job.mode = GetParam();
  job.batch = 3;
  job.graph = *arch;
  auto workload = (*executor)->Prepare(job);
  ASSERT_TRUE(workload.ok()) << workload.status().ToString();
  EXPECT_TRUE((*workload)->Run(3).ok());
}

// In inference a node writes into its input where no later node reads it (torchvision's
// in-place activations and sums): the output is the same as without, in a graph where an
// activation's input is read again, one reads a view (Flatten) passed through a Dropout, and
// sums and activations may go in place.
TEST(TorchExecutor, InPlaceFormsChangeNoOutput) {
  using T = LayerType;
  GraphBuilder g("aliasing", "test", {4, 6, 6});
  const auto conv = g.Then(T::kConv2d, {{"in_channels", 4}, {"out_channels", 8},
                                        {"kernel_size", 3}, {"padding", 1}});
  const auto relu = g.Add(T::kReLU, {}, {conv});  // conv is read again: not in place
  const auto sum = g.Add(T::kAdd, {}, {relu, conv});
  const auto act = g.Add(T::kSiLU, {}, {sum});
  const auto flat = g.Add(T::kFlatten, {}, {act});
  const auto drop = g.Add(T::kDropout, {{"p", 0.5}}, {flat});  // eval: its input, unchanged
  const auto gate = g.Add(T::kSiLU, {}, {drop});  // a view read again below: not in place
  g.Add(T::kAdd, {}, {gate, flat});
  auto arch = std::move(g).Finish();
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  JobSpec job;
  job.job_id = 1;
  job.kind = JobKind::kModel;
  job.batch = 2;
  job.graph = *arch;
  auto both = ForwardBothWays(job);
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  ASSERT_EQ(both->first.size(), 2u * 8 * 6 * 6);
  EXPECT_EQ(both->first, both->second);
}

// THOR's three probe models of a convolutional and a recurrent kind run as probe jobs.
TEST_P(TorchExecutorTest, RunsThorProbeModels) {
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok());
  const ProbeKind kinds[] = {
      {"conv", LayerType::kConv2d, {{"kernel_size", 3}, {"padding", 1}}, {3, 12, 12}, 10},
      {"gru", LayerType::kGRU, {}, {6, 5}, 4}};
  for (const ProbeKind& kind : kinds) {
    for (ProbeRole role : {ProbeRole::kOutput, ProbeRole::kInput, ProbeRole::kHidden}) {
      auto probe = BuildProbe(kind, role, role == ProbeRole::kHidden
                                              ? std::vector<int64_t>{8, 16}
                                              : std::vector<int64_t>{8});
      ASSERT_TRUE(probe.ok()) << probe.status().ToString();
      JobSpec job;
      job.job_id = 1;
      job.kind = JobKind::kProbe;
      job.mode = GetParam();
      job.batch = 2;
      job.subject = probe->name;
      job.graph = *probe;
      auto workload = (*executor)->Prepare(job);
      ASSERT_TRUE(workload.ok()) << probe->name << ": " << workload.status().ToString();
      EXPECT_TRUE((*workload)->Run(2).ok()) << probe->name;
    }
  }
}

// A whole network's training step runs with each optimiser and loss a campaign can name.
TEST(TorchExecutor, TrainsWholeNetworksWithEveryOptimiserAndLoss) {
  auto arch = BuildSequential("mlp", "mlp", {12},
                              {{LayerType::kLinear, {{"in_features", 12}, {"out_features", 16}}, ""},
                               {LayerType::kReLU, {}, ""},
                               {LayerType::kLinear, {{"in_features", 16}, {"out_features", 5}}, ""}});
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok());
  for (Optimizer o : {Optimizer::kSgd, Optimizer::kSgdMomentum, Optimizer::kAdam,
                      Optimizer::kAdamW}) {
    for (Loss l : {Loss::kCrossEntropy, Loss::kMse}) {
      JobSpec job;
      job.job_id = 1;
      job.kind = JobKind::kModel;
      job.mode = Mode::kTraining;
      job.optimizer = o;
      job.loss = l;
      job.batch = 4;
      job.graph = *arch;
      auto workload = (*executor)->Prepare(job);
      ASSERT_TRUE(workload.ok()) << OptimizerName(o) << "/" << LossName(l) << ": "
                                 << workload.status().ToString();
      EXPECT_TRUE((*workload)->Run(3).ok()) << OptimizerName(o) << "/" << LossName(l);
    }
  }
  // A network without parameters has a loss and nothing to differentiate or update.
  auto bare = BuildSequential("pool", "pool", {4, 6},
                              {{LayerType::kAvgPool1d, {{"kernel_size", 2}}, ""}});
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  JobSpec job;
  job.job_id = 1;
  job.kind = JobKind::kModel;
  job.mode = Mode::kTraining;
  job.batch = 2;
  job.graph = *bare;
  auto workload = (*executor)->Prepare(job);
  ASSERT_TRUE(workload.ok()) << workload.status().ToString();
  EXPECT_TRUE((*workload)->Run(2).ok());
}

// A network's input takes no part in the backward pass of a training script, and a loss or an
// optimiser step cannot hide in a graph.
TEST(TorchExecutor, RefusesAStepPartInsideAGraph) {
  auto arch = BuildSequential("bad", "bad", {4},
                              {{LayerType::kLinear, {{"in_features", 4}, {"out_features", 2}}, ""},
                               {LayerType::kCrossEntropyLoss, {}, ""}});
  ASSERT_FALSE(arch.ok());
  EXPECT_NE(arch.status().message().find("part of the training step"), std::string::npos)
      << arch.status().message();
}

INSTANTIATE_TEST_SUITE_P(Modes, TorchExecutorTest,
                         ::testing::Values(Mode::kInference, Mode::kTraining));

TEST(TorchExecutor, WrongPredictionIsCaughtAtPrepare) {
  // The check above is only meaningful if a wrong in_features fails.
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok());
  auto arch = BuildSequential("bad", "test", {1, 8, 8},
                              {{LayerType::kMaxPool2d, {{"kernel_size", 2}}, ""},
                               {LayerType::kFlatten, {}, ""},
                               {LayerType::kLinear, {{"in_features", 16}, {"out_features", 2}}, ""}});
  ASSERT_TRUE(arch.ok());
  arch->nodes[2].spec.params["in_features"] = 17;  // what a wrong shape model would say
  JobSpec job;
  job.job_id = 1;
  job.batch = 1;
  job.graph = *arch;
  auto workload = (*executor)->Prepare(job);
  EXPECT_FALSE(workload.ok());
  EXPECT_EQ(workload.status().code(), StatusCode::kInvalidArgument);
}

TEST(TorchExecutor, MeasuresAPlausiblePeakThroughput) {
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok());
  auto peak = (*executor)->MeasurePeakFlops(0.1);
  ASSERT_TRUE(peak.ok()) << peak.status().ToString();
  // Any CPU core of the last decade multiplies float32 matrices at well over 0.1 GFLOP/s and
  // no single core reaches 1 TFLOP/s: outside that range the measurement itself is broken.
  EXPECT_GT(*peak, 1e8);
  EXPECT_LT(*peak, 1e12);
  // The same through a 3x3 convolution: the same plausible range for one core.
  auto conv = (*executor)->MeasurePeakConvFlops(0.1);
  ASSERT_TRUE(conv.ok()) << conv.status().ToString();
  EXPECT_GT(*conv, 1e8);
  EXPECT_LT(*conv, 1e12);
  // A batch-1 1x1 convolution: a matrix product or a convolution, within the same range.
  auto pointwise = (*executor)->MeasurePointwiseFlops(0.1);
  ASSERT_TRUE(pointwise.ok()) << pointwise.status().ToString();
  EXPECT_GT(*pointwise, 1e8);
  EXPECT_LT(*pointwise, 1e12);
}

TEST(TorchExecutor, RunsOnlyTheDTypesTheDeviceHas) {
  auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
  ASSERT_TRUE(executor.ok());
  const std::vector<DType> dtypes = (*executor)->dtypes();
  ASSERT_FALSE(dtypes.empty());
  EXPECT_EQ(dtypes.front(), DType::kFloat32);
  auto spec = Normalize(testing::Spec(
      LayerType::kConv2d, {{"in_channels", 2}, {"out_channels", 4}, {"kernel_size", 3}},
      {2, 8, 8}));
  ASSERT_TRUE(spec.ok());
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    JobSpec job;
    job.job_id = 1;
    job.batch = 2;
    job.dtype = d;
    job.graph = SingleLayerGraph("conv", *spec);
    auto workload = (*executor)->Prepare(job);
    const bool listed = std::find(dtypes.begin(), dtypes.end(), d) != dtypes.end();
    if (listed) {
      ASSERT_TRUE(workload.ok()) << DTypeName(d) << ": " << workload.status().ToString();
      EXPECT_TRUE((*workload)->Run(1).ok());
    } else {
      ASSERT_FALSE(workload.ok()) << DTypeName(d);
      EXPECT_EQ(workload.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(workload.status().message().find("is not supported on cpu"), std::string::npos)
          << workload.status().message();
    }
  }
}

TEST(TorchExecutor, RejectsUnknownDevice) {
  EXPECT_FALSE(MakeExecutor(ExecutorOptions{"tpu:0", 1}).ok());
}

}  // namespace
}  // namespace wattfleet
