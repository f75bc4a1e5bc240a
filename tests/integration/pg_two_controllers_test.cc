// Two controllers sharing one PostgreSQL dataset, end to end on loopback: a real PostgreSQL
// server (tests/helpers/pg_server.h), two real `wattfleet serve --db postgresql://...`, each
// with its own real `wattfleet-agent` (modeled sensor), and the real CLI. Campaigns with
// overlapping layers are submitted to both at once, and one campaign is dispatched by both;
// every job must end done with exactly one measurement, every layer key must be one row, and
// `wattfleet export` must read the shared dataset. Also `wattfleet run` on the shared dataset,
// `export` refusing a database that holds no dataset (without creating one).
//
// Agents built without libtorch refuse every job, so the end-to-end tests skip in such builds;
// the store's side of two controllers (concurrent leases, results, campaign ends, cancels, stale
// leases) is covered without agents by pg_store_test.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "wattfleet/campaign/campaign.h"
#include "harness.h"
#include "pg_server.h"
#include "wattfleet/plan/planner.h"
#include "process.h"

namespace wattfleet {
namespace {

using wattfleet::testing::PgQueryInt;
using wattfleet::testing::PgQueryText;
using wattfleet::testing::Slurp;

constexpr const char* kMeasurement =
    "measurement: {warmup_ms: 10, min_window_ms: 100, target_rel_ci: 0.5,"
    " min_repeats: 2, max_repeats: 3, cooldown_ms: 0}\n";

class PgTwoControllersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    testing::PgServer* server = testing::SharedPgServer();
    ASSERT_NE(server, nullptr);
    auto uri = server->FreshDatabase("two");
    ASSERT_TRUE(uri.ok()) << uri.status().ToString();
    uri_ = *uri;
  }

  // A small campaign of MLPs (and LeNet-5 when `lenet`): MLPs of the same widths share
  // their layers, so campaigns overlap.
  std::string WriteCampaign(const std::string& name, const std::string& depths, bool lenet,
                            const std::string& widths = "[16]") {
    const std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream f(path);
    f << "name: " << name << "\n"
      << "mode: inference\nbatch_size: 4\ndevices: [{class: cpu}]\n"
      << kMeasurement << "architectures:\n";
    if (lenet) f << "  - zoo: lenet5\n";
    f << "  - family: mlp\n"
      << "    sweep: {depth: " << depths << ", width: " << widths
      << ", input: [[1, 28, 28]]}\n"
      << "plan: {layers: distinct, whole_models: true}\n";
    return path;
  }

  Plan PlanOf(const std::string& path) {
    auto campaign = LoadCampaignFile(path);
    EXPECT_TRUE(campaign.ok()) << campaign.status().ToString();
    if (!campaign.ok()) return Plan();
    auto plan = MakePlan(*campaign);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    return plan.ok() ? *plan : Plan();
  }

  // `wattfleet serve --db URI` on ephemeral ports; its endpoints once it listens.
  std::optional<testing::Endpoints> Serve(const std::string& name) {
    const std::string ready = dir_ + "/" + name + ".ready";
    const std::string log = dir_ + "/" + name + ".log";
    auto serve = ChildProcess::Start({WATTFLEET_BIN, "serve", "--db", uri_, "--bind",
                                      "tcp://127.0.0.1:*", "--admin", "ipc://" + dir_ + "/" + name + ".admin",
                                      "--heartbeat-ms", "200", "--ready-file", ready},
                                     log);
    if (!serve.ok()) {
      ADD_FAILURE() << serve.status().ToString();
      return std::nullopt;
    }
    processes_.push_back(std::move(*serve));
    return testing::WaitForReady(processes_.back(), ready, log);
  }

  ChildProcess* Agent(const std::string& name, const std::string& endpoint) {
    auto agent = ChildProcess::Start(
        {WATTFLEET_AGENT_BIN, "--controller", endpoint, "--name", name, "--sensor", "modeled",
         "--threads", "1", "--spool", dir_ + "/spool-" + name, "--heartbeat-ms", "200"},
        dir_ + "/" + name + ".log");
    if (!agent.ok()) {
      ADD_FAILURE() << agent.status().ToString();
      return nullptr;
    }
    processes_.push_back(std::move(*agent));
    return &processes_.back();
  }

  // Stops every process started here (agents first), each expected to exit 0 on SIGTERM.
  void StopAll() {
    for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
      it->Signal(SIGTERM);
      auto code = it->Wait(30);
      ASSERT_TRUE(code.ok()) << "a process did not stop";
      EXPECT_EQ(*code, 0);
    }
  }

  int64_t Int(const std::string& sql) { return PgQueryInt(uri_, sql); }

  wattfleet::testing::TempDir tmp_;
  std::string dir_ = tmp_.path();
  std::string uri_;
  std::deque<ChildProcess> processes_;  // deque: pointers stay valid as it grows
};

TEST_F(PgTwoControllersTest, CampaignsOnBothControllersAreMeasuredOnceEach) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF); "
                  "pg_store_test covers the store's side of two controllers";
#endif
  // "shared" is dispatched by both controllers, each to its own agent. The agents start at the
  // same moment, but one may register a little later than the other: "shared" has enough
  // jobs that the first cannot have measured them all by then.
  const std::string shared = WriteCampaign("shared", "[1, 2, 3]", false, "[16, 24, 32]");
  const std::string on_a = WriteCampaign("on-a", "[1, 2]", true);
  const std::string on_b = WriteCampaign("on-b", "[2, 3]", true);
  size_t planned = 0;
  std::set<std::string> layer_keys;
  std::map<std::string, size_t> jobs_of;
  for (const std::string& path : {shared, on_a, on_b}) {
    const Plan plan = PlanOf(path);
    jobs_of[plan.campaign.name] = plan.jobs.size();
    planned += plan.jobs.size();
    for (const PlannedLayer& l : plan.layers) layer_keys.insert(l.key);
  }
  ASSERT_GE(jobs_of["shared"], 16u);
  ASSERT_GT(jobs_of["on-a"], 10u);
  // The campaigns overlap: fewer distinct layers than the plans hold together.
  size_t layers_in_plans = 0;
  for (const std::string& path : {shared, on_a, on_b}) {
    layers_in_plans += PlanOf(path).layers.size();
  }
  ASSERT_LT(layer_keys.size(), layers_in_plans);

  // Controller A first; "shared" is submitted to it while it has no agent, so it waits in the
  // store. Controller B starts after that and takes "shared" up too: both dispatch it.
  const auto a = Serve("serve-a");
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(testing::RunCli({"submit", shared, "--admin", a->admin}, dir_ + "/submit-shared.log",
                            30),
            0)
      << Slurp(dir_ + "/submit-shared.log");
  const auto b = Serve("serve-b");
  ASSERT_TRUE(b.has_value());
  ASSERT_NE(Agent("agent-a", a->endpoint), nullptr);
  ASSERT_NE(Agent("agent-b", b->endpoint), nullptr);

  // One campaign to each controller, at the same moment, waiting for each to end.
  auto submit_a = ChildProcess::Start(
      {WATTFLEET_BIN, "submit", on_a, "--admin", a->admin, "--wait", "--json"},
      dir_ + "/submit-a.log");
  auto submit_b = ChildProcess::Start(
      {WATTFLEET_BIN, "submit", on_b, "--admin", b->admin, "--wait", "--json"},
      dir_ + "/submit-b.log");
  ASSERT_TRUE(submit_a.ok() && submit_b.ok());
  auto code_a = submit_a->Wait(120);
  auto code_b = submit_b->Wait(120);
  ASSERT_TRUE(code_a.ok()) << "submit to A timed out";
  ASSERT_TRUE(code_b.ok()) << "submit to B timed out";
  EXPECT_EQ(*code_a, 0) << Slurp(dir_ + "/submit-a.log");
  EXPECT_EQ(*code_b, 0) << Slurp(dir_ + "/submit-b.log");

  // "shared" ends when the controller that ends its last job finishes it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (PgQueryText(uri_, "SELECT state FROM campaigns WHERE name = 'shared'") != "done" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  EXPECT_EQ(Int("SELECT COUNT(*) FROM campaigns"), 3);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM campaigns WHERE state = 'done'"), 3)
      << Slurp(dir_ + "/serve-a.log") << Slurp(dir_ + "/serve-b.log");
  EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs"), static_cast<int64_t>(planned));
  EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs WHERE state <> 'done'"), 0);
  // Exactly one measurement per job.
  EXPECT_EQ(Int("SELECT COUNT(*) FROM measurements"), static_cast<int64_t>(planned));
  EXPECT_EQ(Int("SELECT COUNT(DISTINCT job_id) FROM measurements"),
            static_cast<int64_t>(planned));
  EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs j LEFT JOIN measurements m ON m.job_id = j.id "
                "WHERE m.id IS NULL"),
            0);
  // One row per layer key, and every key of the three plans.
  EXPECT_EQ(Int("SELECT COUNT(*) FROM layers"), static_cast<int64_t>(layer_keys.size()));
  EXPECT_EQ(Int("SELECT COUNT(*) FROM (SELECT key FROM layers GROUP BY key "
                "HAVING COUNT(*) > 1) d"),
            0);
  // A campaign submitted to one controller is dispatched by that controller only; the one
  // both loaded was measured by both controllers' agents.
  const auto agents_of = [&](const std::string& campaign) {
    return Int("SELECT COUNT(DISTINCT m.agent) FROM measurements m JOIN jobs j "
               "ON j.id = m.job_id JOIN campaigns c ON c.id = j.campaign_id "
               "WHERE c.name = '" + campaign + "'");
  };
  EXPECT_EQ(agents_of("on-a"), 1);
  EXPECT_EQ(PgQueryText(uri_, "SELECT MIN(m.agent) FROM measurements m JOIN jobs j "
                              "ON j.id = m.job_id JOIN campaigns c ON c.id = j.campaign_id "
                              "WHERE c.name = 'on-a'"),
            "agent-a");
  EXPECT_EQ(agents_of("on-b"), 1);
  EXPECT_EQ(agents_of("shared"), 2) << "\"shared\" was not dispatched by both controllers";

  // The export reads the shared dataset: a header and one row per measurement.
  const std::string csv = dir_ + "/out.csv";
  ASSERT_EQ(testing::RunCli({"export", "--db", uri_, "--format", "csv", "--out", csv},
                            dir_ + "/export.log", 30),
            0)
      << Slurp(dir_ + "/export.log");
  std::ifstream in(csv);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, planned + 1);

  StopAll();
  // The spools are empty: every result was acknowledged.
  for (const char* agent : {"agent-a", "agent-b"}) {
    const std::string spool = dir_ + "/spool-" + agent;
    const std::string cmd = "test -z \"$(ls '" + spool + "')\"";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << spool << " still holds results";
  }
}

TEST_F(PgTwoControllersTest, EmbeddedRunStoresInTheSharedDataset) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF)";
#endif
  const std::string campaign = WriteCampaign("embedded", "[1]", false);
  const size_t planned = PlanOf(campaign).jobs.size();
  ASSERT_GT(planned, 1u);
  const std::string log = dir_ + "/run.log";
  ASSERT_EQ(testing::RunCli({"run", campaign, "--db", uri_, "--agents", "1", "--sensor",
                             "modeled", "--log-dir", dir_ + "/run", "--mkdir", "--out",
                             dir_ + "/embedded.csv"},
                            log, 120),
            0)
      << Slurp(log);
  EXPECT_NE(Slurp(log).find("stored as #1 in " + uri_), std::string::npos) << Slurp(log);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM measurements"), static_cast<int64_t>(planned));
  EXPECT_EQ(PgQueryText(uri_, "SELECT state FROM campaigns"), "done");
  // The agent's spool lives in --log-dir, named after the dataset.
  EXPECT_EQ(std::system(("ls -d '" + dir_ + "/run/'wattfleet-*.spool >/dev/null").c_str()), 0);
}

TEST_F(PgTwoControllersTest, ExportRefusesADatabaseWithoutADatasetAndCreatesNothing) {
  // A database name mistyped or meant for something else: the export fails, and the database
  // does not gain wattfleet's tables.
  const std::string out = dir_ + "/typo.csv";
  const std::string log = dir_ + "/export-typo.log";
  EXPECT_EQ(testing::RunCli({"export", "--db", uri_, "--format", "csv", "--out", out}, log, 30),
            2)
      << Slurp(log);
  EXPECT_NE(Slurp(log).find("not a wattfleet dataset"), std::string::npos) << Slurp(log);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
  EXPECT_FALSE(std::ifstream(out).good()) << "an export file was written";

  // Once `serve` has created the dataset, the same export works: a header and no rows.
  const auto a = Serve("serve-a");
  ASSERT_TRUE(a.has_value());
  StopAll();
  const std::string log2 = dir_ + "/export.log";
  ASSERT_EQ(testing::RunCli({"export", "--db", uri_, "--format", "csv", "--out", out}, log2, 30),
            0)
      << Slurp(log2);
  std::ifstream in(out);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 1u);
}

}  // namespace
}  // namespace wattfleet
