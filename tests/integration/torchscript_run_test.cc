// A campaign of a TorchScript file, run by the real `wattfleet run` and its real agent: the
// layers come from the imported graph, and the whole-model job runs the file itself, which
// the agent fetched from the controller and keeps, checked, in its own folder.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "harness.h"
#include "wattfleet/common/sha256.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/store_open.h"
#include "../unit/exported.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;
using wattfleet::testing::Slurp;

TEST(TorchScriptRunTest, TheWholeModelJobRunsTheFileTheAgentFetched) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF)";
#endif
  wattfleet::testing::TempDir tmp;
  const std::string model = tmp.File("net.pt");
  {
    torch::jit::Module m("Net");
    m.register_parameter("w", torch::randn({32, 64}), false);
    m.register_parameter("b", torch::randn({32}), false);
    m.define("def forward(self, x):\n    return torch.relu(torch.linear(x, self.w, self.b))\n");
    m.save(model);
  }
  const std::string campaign = tmp.File("ts.yaml");
  std::ofstream(campaign) << "name: ts\nmode: inference\nbatch_size: 4\n"
                             "devices: [{class: cpu}]\n"
                             "measurement: {warmup_ms: 50, min_window_ms: 100, "
                             "target_rel_ci: 0.5, min_repeats: 2, max_repeats: 4, "
                             "cooldown_ms: 0}\n"
                             "architectures:\n"
                             "  - torchscript: net.pt\n"
                             "    input_shape: [1, 64]\n"
                             "plan: {layers: distinct, whole_models: true}\n";
  const std::string db = tmp.File("ts.db"), log = tmp.File("run.log");
  const int code = wattfleet::testing::RunCli(
      {"run", campaign, "--agents", "1", "--threads", "1", "--db", db}, log, 600);
  const std::string out = Slurp(log);
  ASSERT_EQ(code, 0) << out;

  auto store = OpenStore(db);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rows = testing::Exported(db);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  int models = 0, layers = 0;
  for (const ExportRow& r : *rows) {
    if (r.kind == JobKind::kModel) {
      ++models;
      EXPECT_EQ(r.architecture, "net.pt");
      EXPECT_GT(r.m.time_per_iter_s, 0);
    } else {
      ++layers;
    }
  }
  EXPECT_EQ(models, 1) << out;
  EXPECT_EQ(layers, 2) << out;  // the Linear and the ReLU, from the imported graph
  // The layer sum is set against the file's own time, in the run's summary.
  const size_t table = out.find("whole model measured vs. the sum of its measured layers");
  ASSERT_NE(table, std::string::npos) << out;
  EXPECT_NE(out.find("net.pt", table), std::string::npos) << out;

  // The agent's checked copy: named by the file's checksum, byte for byte the file.
  auto sha = Sha256OfFile(model);
  ASSERT_TRUE(sha.ok());
  std::string copy;
  for (const auto& entry : fs::recursive_directory_iterator(tmp.path())) {
    if (entry.path().filename() == *sha + ".pt") copy = entry.path().string();
  }
  ASSERT_FALSE(copy.empty()) << "no copy named " << *sha << ".pt under " << tmp.path();
  EXPECT_EQ(Slurp(copy), Slurp(model));
  EXPECT_EQ(fs::status(fs::path(copy).parent_path()).permissions() & fs::perms::all,
            fs::perms::owner_all);
}

}  // namespace
}  // namespace wattfleet
