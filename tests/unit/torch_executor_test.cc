// The libtorch executor builds and runs every layer type, and the shapes the layer model
// predicts are the shapes libtorch produces: each layer is followed by Flatten and a Linear
// whose in_features is the predicted output size, so a wrong prediction fails Prepare.
#include <gtest/gtest.h>

#include "executor.h"
#include "wattfleet/common/architecture.h"
#include "wattfleet/common/layer.h"

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
}

TEST(TorchExecutor, RejectsUnknownDevice) {
  EXPECT_FALSE(MakeExecutor(ExecutorOptions{"tpu:0", 1}).ok());
}

}  // namespace
}  // namespace wattfleet
