// Fault injection with the real binaries on loopback: a campaign of 1 000 small jobs, four
// agents, while agents are SIGKILLed at random (and restarted), the controller is SIGKILLed
// and restarted once, and one agent is SIGSTOPped for longer than its liveness. At the end
// every job has exactly one stored measurement and none is stuck.
#include <signal.h>
#include <sqlite3.h>

#include <map>
#include <random>
#include <set>

#include "harness.h"

namespace wattfleet {
namespace {

using namespace wattfleet::testing;

// Job states counted straight from the dataset, through a read-only connection of our own.
std::map<std::string, int64_t> JobStates(const std::string& db) {
  std::map<std::string, int64_t> out;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, "SELECT state, COUNT(*) FROM jobs GROUP BY state", -1, &st,
                           nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = sqlite3_column_int64(st, 1);
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

int64_t QueryInt(const std::string& db, const char* sql) {
  sqlite3* h = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return v;
}

constexpr int kAgents = 4;
constexpr int kWidths = 251;  // x (Linear, ReLU, Linear, whole model), one layer shared: 1 003

std::string CampaignYaml() {
  std::string widths;
  for (int w = 2; w < 2 + kWidths; ++w) widths += (widths.empty() ? "" : ", ") + std::to_string(w);
  return "name: chaos\n"
         "batch_size: 2\n"
         "devices: [{class: cpu}]\n"
         "measurement: {warmup_ms: 0, min_window_ms: 10, target_rel_ci: 0.9, min_repeats: 2,"
         " max_repeats: 2, cooldown_ms: 0}\n"
         "architectures:\n"
         "  - family: mlp\n"
         "    sweep: {depth: [1], width: [" + widths + "], input: [8]}\n"
         "plan: {layers: distinct, whole_models: true}\n";
}

class Fleet {
 public:
  explicit Fleet(const TempDir& dir) : dir_(dir) {}

  void StartController(const std::string& bind, const std::string& admin) {
    const std::string ready = dir_.File("ready.json");
    ::unlink(ready.c_str());
    auto serve = ChildProcess::Start(
        {WATTFLEET_BIN, "serve", "--db", dir_.File("chaos.db"), "--bind", bind, "--admin", admin,
         "--heartbeat-ms", "200", "--max-attempts", "10", "--ready-file", ready},
        dir_.File("serve.log"));
    ASSERT_TRUE(serve.ok());
    serve_ = std::make_unique<ChildProcess>(std::move(*serve));
    auto ep = WaitForReady(*serve_, ready, dir_.File("serve.log"));
    ASSERT_TRUE(ep.has_value());
    endpoints_ = *ep;
  }

  void StartAgent(int i) {
    const std::string name = "chaos-" + std::to_string(i);
    auto agent = ChildProcess::Start(
        {WATTFLEET_AGENT_BIN, "--controller", endpoints_.endpoint, "--name", name, "--sensor",
         "simulated", "--threads", "1", "--prefetch", "2", "--spool", dir_.File("spool-" + name),
         "--heartbeat-ms", "200", "--log-level", "warn"},
        dir_.File(name + ".log"));
    ASSERT_TRUE(agent.ok());
    agents_[i] = std::make_unique<ChildProcess>(std::move(*agent));
  }

  void KillAgent(int i) {
    agents_[i]->Signal(SIGKILL);
    (void)agents_[i]->Wait(10);
  }

  void KillController() {
    serve_->Signal(SIGKILL);
    (void)serve_->Wait(10);
  }

  ChildProcess& agent(int i) { return *agents_[i]; }
  ChildProcess& serve() { return *serve_; }
  const Endpoints& endpoints() const { return endpoints_; }

 private:
  const TempDir& dir_;
  std::unique_ptr<ChildProcess> serve_;
  std::map<int, std::unique_ptr<ChildProcess>> agents_;
  Endpoints endpoints_;
};

TEST(ChaosTest, EveryJobIsMeasuredExactlyOnceDespiteKillsStopsAndARestart) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job";
#endif
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  {
    std::ofstream f(dir.File("chaos.yaml"));
    f << CampaignYaml();
  }
  const std::string db = dir.File("chaos.db");
  Fleet fleet(dir);
  fleet.StartController("tcp://127.0.0.1:*", "ipc://" + dir.File("admin"));
  if (HasFatalFailure()) return;
  // The restarted controller must come back where the agents look for it.
  const Endpoints first = fleet.endpoints();
  for (int i = 0; i < kAgents; ++i) fleet.StartAgent(i);
  ASSERT_EQ(RunCli({"submit", dir.File("chaos.yaml"), "--admin", first.admin}, dir.File("submit.log"), 30), 0)
      << Slurp(dir.File("submit.log"));

  const int64_t planned = QueryInt(db, "SELECT COUNT(*) FROM jobs");
  ASSERT_GE(planned, 1000);

  std::mt19937 rng(20261122);
  int kills = 0;
  bool controller_restarted = false, stopped = false, continued = false;
  int stopped_agent = -1;
  auto stop_time = std::chrono::steady_clock::now();
  auto next_kill = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  // Kills are paced by progress as well as by time: on a busy machine an agent restarting
  // every 1.5 s (each start loads libtorch) would measure little else, and the test would
  // time out with nothing wrong.
  constexpr int64_t kJobsBetweenKills = 20;
  int64_t done_at_last_kill = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(360);
  int64_t done = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto states = JobStates(db);
    done = states["done"];
    if (done == planned) break;
    const auto now = std::chrono::steady_clock::now();
    if (!controller_restarted && done >= planned * 3 / 10) {
      fleet.KillController();
      fleet.StartController(first.endpoint, first.admin);
      if (HasFatalFailure()) return;
      controller_restarted = true;
    }
    if (!stopped && done >= planned / 2) {
      stopped_agent = static_cast<int>(rng() % kAgents);
      fleet.agent(stopped_agent).Signal(SIGSTOP);
      stop_time = now;
      stopped = true;
    }
    if (stopped && !continued && now - stop_time > std::chrono::seconds(2)) {
      fleet.agent(stopped_agent).Signal(SIGCONT);  // well past 3 x 200 ms of liveness
      continued = true;
    }
    if (now >= next_kill && done < planned * 95 / 100 &&
        done - done_at_last_kill >= kJobsBetweenKills) {
      int victim = static_cast<int>(rng() % kAgents);
      if (victim == stopped_agent && stopped && !continued) victim = (victim + 1) % kAgents;
      fleet.KillAgent(victim);
      fleet.StartAgent(victim);
      ++kills;
      done_at_last_kill = done;
      next_kill = now + std::chrono::milliseconds(1500);
    }
  }
  if (stopped && !continued) fleet.agent(stopped_agent).Signal(SIGCONT);

  EXPECT_TRUE(controller_restarted);
  EXPECT_TRUE(stopped && continued);
  EXPECT_GE(kills, 3);
  auto states = JobStates(db);
  EXPECT_EQ(states["done"], planned) << "jobs by state: queued " << states["queued"] << ", leased "
                                     << states["leased"] << ", quarantined "
                                     << states["quarantined"] << ", failed " << states["failed"];
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM measurements"), planned);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(DISTINCT job_id) FROM measurements"), planned);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM jobs j WHERE NOT EXISTS "
                         "(SELECT 1 FROM measurements m WHERE m.job_id = j.id)"),
            0);
  std::cerr << "chaos: " << planned << " jobs, " << kills << " agent kills, controller restarted, "
            << "agent " << stopped_agent << " stopped 2 s\n";

  for (int i = 0; i < kAgents; ++i) fleet.agent(i).Signal(SIGTERM);
  for (int i = 0; i < kAgents; ++i) (void)fleet.agent(i).Wait(30);
  fleet.serve().Signal(SIGTERM);
  auto code = fleet.serve().Wait(30);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace wattfleet
