// A whole-model job of an imported model runs the model's own TorchScript file, not the layer
// graph rebuilt from it: in inference and in a training step, and a module that does something
// the graph does not is seen to be what ran.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <string>

#include "wattfleet/run/executor.h"
#include "temp_dir.h"
#include "wattfleet/common/architecture.h"

namespace wattfleet {
namespace {

// A module of one fully connected layer (16 -> 8) and a ReLU, saved at `path`; `body` is its
// forward.
void SaveModule(const std::string& path, const std::string& body) {
  torch::jit::Module m("Net");
  m.register_parameter("w", torch::randn({8, 16}), false);
  m.register_parameter("b", torch::randn({8}), false);
  m.define("def forward(self, x):\n" + body);
  m.save(path);
}

// The job the planner makes of such a module imported: the graph names its layers, the file
// is the model.
JobSpec ModelJob(const std::string& path, Mode mode) {
  auto graph = BuildSequential("net.pt", "torchscript", {16},
                               {{LayerType::kLinear, {{"in_features", 16}, {"out_features", 8}}, ""},
                                {LayerType::kReLU, {}, ""}});
  EXPECT_TRUE(graph.ok()) << graph.status().ToString();
  JobSpec job;
  job.job_id = 1;
  job.kind = JobKind::kModel;
  job.mode = mode;
  job.batch = 4;
  job.optimizer = Optimizer::kAdam;
  job.graph = *graph;
  job.graph.model_file = ModelFile{"torchscript", path, std::string(64, '0'), 1};
  return job;
}

class TorchScriptJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto executor = MakeExecutor(ExecutorOptions{"cpu", 1});
    ASSERT_TRUE(executor.ok()) << executor.status().ToString();
    executor_ = std::move(executor).value();
  }
  testing::TempDir tmp_;
  std::unique_ptr<Executor> executor_;
};

TEST_F(TorchScriptJobTest, TheModuleRunsInInferenceAndInATrainingStep) {
  const std::string path = tmp_.File("net.pt");
  SaveModule(path, "    return torch.relu(torch.linear(x, self.w, self.b))\n");
  for (Mode mode : {Mode::kInference, Mode::kTraining}) {
    auto workload = executor_->Prepare(ModelJob(path, mode));
    ASSERT_TRUE(workload.ok()) << ModeName(mode) << ": " << workload.status().ToString();
    EXPECT_TRUE((*workload)->Run(3).ok()) << ModeName(mode);
  }
}

TEST_F(TorchScriptJobTest, WhatRunsIsTheFileNotTheGraph) {
  // The graph alone would run; this module multiplies by its weight the wrong way round, so
  // only running the module fails, and with libtorch's words for it.
  const std::string path = tmp_.File("refuses.pt");
  SaveModule(path, "    return torch.linear(x, self.w.t(), self.b)\n");
  auto workload = executor_->Prepare(ModelJob(path, Mode::kInference));
  ASSERT_FALSE(workload.ok());
  EXPECT_NE(workload.status().message().find("cannot be multiplied"), std::string::npos)
      << workload.status().ToString();
  // A layer job of the same graph never touches the file.
  JobSpec layer = ModelJob(path, Mode::kInference);
  layer.kind = JobKind::kLayer;
  EXPECT_TRUE(executor_->Prepare(layer).ok());
}

TEST_F(TorchScriptJobTest, AFileLibtorchCannotLoadFailsNamingIt) {
  const std::string path = tmp_.File("not-a-model.pt");
  std::ofstream(path) << "not a zip archive";
  auto workload = executor_->Prepare(ModelJob(path, Mode::kInference));
  ASSERT_FALSE(workload.ok());
  EXPECT_EQ(workload.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(workload.status().message().find(path), std::string::npos)
      << workload.status().ToString();
}

}  // namespace
}  // namespace wattfleet
