// End to end on loopback: the real `wattfleet serve`, two real `wattfleet-agent` processes
// (modeled sensor: real /proc/stat, real libtorch execution) and the real CLI. Every planned job
// must end with exactly one stored measurement.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/plan/planner.h"
#include "process.h"
#include "wattfleet/store/store.h"
#include "harness.h"
#include "../unit/exported.h"

namespace wattfleet {
namespace {

using wattfleet::testing::Exists;
using wattfleet::testing::Slurp;

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }

  int RunCli(const std::vector<std::string>& args, const std::string& log, double timeout_s) {
    return wattfleet::testing::RunCli(args, log, timeout_s);
  }

  void WriteCampaign(const std::string& path) {
    std::ofstream f(path);
    f << "name: e2e\n"
         "mode: inference\n"
         "batch_size: 4\n"
         "devices: [{class: cpu}]\n"
         "measurement: {warmup_ms: 10, min_window_ms: 100, target_rel_ci: 0.5,"
         " min_repeats: 2, max_repeats: 3, cooldown_ms: 0}\n"
         "architectures:\n"
         "  - zoo: lenet5\n"
         "  - family: mlp\n"
         "    sweep: {depth: [1, 2], width: [16], input: [[1, 28, 28]]}\n"
         "plan: {layers: distinct, whole_models: true}\n";
  }

  // Removed at the end unless the test failed (then its logs are kept and named).
  wattfleet::testing::TempDir tmp_;
  std::string dir_ = tmp_.path();
};

TEST_F(EndToEndTest, EveryPlannedJobHasExactlyOneMeasurement) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF)";
#endif
  const std::string db = dir_ + "/data.db";
  const std::string campaign_path = dir_ + "/e2e.yaml";
  const std::string ready = dir_ + "/ready.json";
  WriteCampaign(campaign_path);
  auto campaign = LoadCampaignFile(campaign_path);
  ASSERT_TRUE(campaign.ok()) << campaign.status().ToString();
  auto plan = MakePlan(*campaign);
  ASSERT_TRUE(plan.ok());
  const size_t planned = plan->jobs.size();
  ASSERT_GT(planned, 15u);

  auto serve = ChildProcess::Start({WATTFLEET_BIN, "serve", "--db", db, "--bind",
                                    "tcp://127.0.0.1:*", "--admin", "ipc://" + dir_ + "/admin",
                                    "--heartbeat-ms", "200", "--ready-file", ready},
                                   dir_ + "/serve.log");
  ASSERT_TRUE(serve.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!Exists(ready) && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(serve->Running()) << Slurp(dir_ + "/serve.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(Exists(ready)) << "controller never listened";
  const auto endpoints = nlohmann::json::parse(Slurp(ready));
  const std::string endpoint = endpoints["endpoint"];
  const std::string admin = endpoints["admin"];
  EXPECT_EQ(endpoint.rfind("tcp://127.0.0.1:", 0), 0u);

  std::vector<ChildProcess> agents;
  for (int i = 1; i <= 2; ++i) {
    const std::string name = "e2e-agent-" + std::to_string(i);
    auto agent = ChildProcess::Start(
        {WATTFLEET_AGENT_BIN, "--controller", endpoint, "--name", name, "--sensor", "modeled",
         "--threads", "1", "--spool", dir_ + "/spool-" + name, "--heartbeat-ms", "200"},
        dir_ + "/" + name + ".log");
    ASSERT_TRUE(agent.ok());
    agents.push_back(std::move(*agent));
  }

  ASSERT_EQ(RunCli({"submit", campaign_path, "--admin", admin, "--wait", "--json"},
                   dir_ + "/submit.log", 200),
            0)
      << Slurp(dir_ + "/submit.log");

  ASSERT_EQ(RunCli({"status", "--admin", admin, "--json"}, dir_ + "/status.json", 20), 0);
  const auto status = nlohmann::json::parse(Slurp(dir_ + "/status.json"));
  ASSERT_EQ(status["campaigns"].size(), 1u);
  EXPECT_EQ(status["campaigns"][0]["state"], "done");
  EXPECT_EQ(status["campaigns"][0]["jobs"]["done"], planned);
  EXPECT_EQ(status["agents"].size(), 2u);
  // Each agent's meter, as it characterised it at start-up: a model is not polled, and its
  // windows are sized from the period it declares.
  for (const auto& a : status["agents"]) {
    EXPECT_EQ(a["sensor_character"]["method"], "model") << a.dump();
    EXPECT_GE(a["sensor_character"]["effective_period_s"].get<double>(), 0.01) << a.dump();
    EXPECT_NE(a.value("sensor_summary", "").find("model"), std::string::npos) << a.dump();
  }
  // Cancelling an ended campaign changes nothing, and says so as one document with --json.
  const testing::CliRun cancel =
      testing::RunCliSplit(dir_, {"cancel", "1", "--admin", admin, "--json"}, 20);
  ASSERT_EQ(cancel.code, 0) << cancel.err;
  const auto cancelled = nlohmann::json::parse(cancel.out);
  EXPECT_EQ(cancelled["id"], 1);
  EXPECT_EQ(cancelled["cancelled_jobs"], 0);
  // By name as by id: status shows the campaigns of that name; cancel wants a running one,
  // and an unknown name is an error that lists the campaigns there are.
  const testing::CliRun by_name =
      testing::RunCliSplit(dir_, {"status", "e2e", "--admin", admin, "--json"}, 20);
  ASSERT_EQ(by_name.code, 0) << by_name.err;
  EXPECT_EQ(nlohmann::json::parse(by_name.out)["campaigns"][0]["id"], 1);
  const testing::CliRun unknown =
      testing::RunCliSplit(dir_, {"status", "nosuch", "--admin", admin}, 20);
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("nosuch: no campaign of that name or id"), std::string::npos)
      << unknown.err;
  EXPECT_NE(unknown.err.find("e2e (#1)"), std::string::npos) << unknown.err;
  const testing::CliRun ended =
      testing::RunCliSplit(dir_, {"cancel", "e2e", "--admin", admin}, 20);
  EXPECT_EQ(ended.code, 2);
  EXPECT_NE(ended.err.find("no campaign of that name is running (#1 done)"), std::string::npos)
      << ended.err;
  // The same for people: each agent's sensor under it, and the flagged count when there is one.
  ASSERT_EQ(RunCli({"status", "--admin", admin}, dir_ + "/status.txt", 20), 0);
  const std::string status_text = Slurp(dir_ + "/status.txt");
  EXPECT_NE(status_text.find("    sensor: model"), std::string::npos) << status_text;
  // With what the modeled estimate assumes (docs/measurement.md, "Modeled").
  EXPECT_NE(status_text.find("15 W per core x "), std::string::npos) << status_text;
  const int64_t flagged_now = status["campaigns"][0].value("flagged", int64_t{-1});
  EXPECT_GE(flagged_now, 0);
  EXPECT_EQ(status_text.find("measurement(s) flagged") != std::string::npos, flagged_now > 0)
      << status_text;

  // Drain: agents and controller exit cleanly on SIGTERM.
  for (ChildProcess& a : agents) {
    a.Signal(SIGTERM);
    auto code = a.Wait(30);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 0);
  }
  serve->Signal(SIGTERM);
  auto code = serve->Wait(30);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << Slurp(dir_ + "/serve.log");

  auto store = OpenSqliteStore(db);
  ASSERT_TRUE(store.ok());
  auto rows = testing::Exported(db);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), planned);
  std::set<int64_t> job_ids;
  for (const ExportRow& r : *rows) {
    EXPECT_TRUE(job_ids.insert(r.job_id).second) << "job " << r.job_id << " stored twice";
    EXPECT_EQ(r.m.sensor, "modeled");
    EXPECT_GT(r.m.time_per_iter_s, 0);
    EXPECT_GT(r.m.energy_per_iter_j, 0);
    EXPECT_GE(r.m.repeats.size(), 2u);
    // The sensor's own bound, beside the CI: positive, and far below the figure itself.
    EXPECT_GT(r.m.energy_bound_j, 0) << r.job_id;
    EXPECT_LT(r.m.energy_bound_j, r.m.energy_per_iter_j) << r.job_id;
    EXPECT_GE(r.m.sensor_update_period_s, 0.01) << r.job_id;
    // What the modeled energy rests on, stored with it.
    EXPECT_NE(r.m.energy_model.find(" W per core x "), std::string::npos) << r.job_id;
    EXPECT_TRUE(r.device == "e2e-agent-1" || r.device == "e2e-agent-2") << r.device;
  }
  EXPECT_EQ(job_ids.size(), planned);
  // status counted the flagged measurements the dataset holds, flag by flag.
  int64_t flagged = 0;
  std::map<std::string, int64_t> flags;
  for (const ExportRow& r : *rows) {
    const std::vector<std::string> f = QualityFlags(r.m);
    flagged += f.empty() ? 0 : 1;
    for (const std::string& name : f) ++flags[name];
  }
  EXPECT_EQ(status["campaigns"][0]["flagged"].get<int64_t>(), flagged);
  using FlagCounts = std::map<std::string, int64_t>;
  EXPECT_EQ(status["campaigns"][0]["flags"].get<FlagCounts>(), flags);
  // Stored with the device: what each agent's meter resolves.
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
    sqlite3_stmt* q = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT name, capabilities_json FROM devices", -1, &q,
                                 nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(raw);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(q, &sqlite3_finalize);
    int devices = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
      ++devices;
      const auto caps =
          nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(q, 1)));
      EXPECT_EQ(caps["sensor_character"]["method"], "model") << caps.dump();
    }
    EXPECT_EQ(devices, 2);
  }

  // The spools are empty: every result was acknowledged.
  for (int i = 1; i <= 2; ++i) {
    const std::string spool = dir_ + "/spool-e2e-agent-" + std::to_string(i);
    std::string cmd = "test -z \"$(ls '" + spool + "')\"";  // hidden: the spool's key
    EXPECT_EQ(std::system(cmd.c_str()), 0) << spool << " still holds results";
  }

  // The public CSV export: one header row, one row per measurement.
  const std::string csv = dir_ + "/out.csv";
  ASSERT_EQ(RunCli({"export", "--db", db, "--format", "csv", "--out", csv}, dir_ + "/export.log", 30), 0);
  std::ifstream in(csv);
  std::string header;
  std::getline(in, header);
  for (const char* column : {"campaign", "job_id", "attempt", "device", "sensor", "kind",
                             "layer_key", "layer_type", "architecture", "mode", "batch", "macs",
                             "params", "energy_j", "energy_dynamic_j", "time_s", "repeats",
                             "rel_ci", "idle_w"}) {
    EXPECT_NE(header.find(column), std::string::npos) << column;
  }
  // `--out -` is stdout (the count stays on stderr), byte for byte the file, and no file "-".
  const testing::CliRun piped =
      testing::RunCliSplit(dir_, {"export", "--db", db, "--format", "csv", "--out", "-"}, 30);
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(piped.out, Slurp(csv));
  EXPECT_NE(piped.err.find("measurements written"), std::string::npos) << piped.err;
  EXPECT_FALSE(std::ifstream(dir_ + "/-").good());

  // Bad numbers at the door: an unknown campaign is not an empty export, a campaign id past
  // int64 is not another campaign, a negative thread count is refused with its range.
  const std::string none = dir_ + "/none.csv";
  EXPECT_EQ(RunCli({"export", "--db", db, "--campaign", "999", "--out", none},
                   dir_ + "/export-999.log", 30), 2);
  EXPECT_FALSE(std::ifstream(none).good());
  EXPECT_EQ(RunCli({"cancel", "99999999999999999999999", "--admin", "tcp://127.0.0.1:1"},
                   dir_ + "/cancel.log", 30), 2);
  std::ifstream cancel_log(dir_ + "/cancel.log");
  const std::string cancel_text((std::istreambuf_iterator<char>(cancel_log)),
                                std::istreambuf_iterator<char>());
  EXPECT_NE(cancel_text.find("is not a campaign id"), std::string::npos) << cancel_text;
  EXPECT_EQ(RunCli({"run", "--threads", "-1", "x.yaml"}, dir_ + "/threads.log", 30), 2);
  std::ifstream threads_log(dir_ + "/threads.log");
  const std::string threads_text((std::istreambuf_iterator<char>(threads_log)),
                                 std::istreambuf_iterator<char>());
  EXPECT_NE(threads_text.find("0 to 1024"), std::string::npos) << threads_text;
  EXPECT_LT(threads_text.size(), 300u) << threads_text;
}

// Measurements of `campaign` stored so far, read as `export` would but on a read-only
// connection, which a busy controller's writes never hold up.
size_t MeasuredIn(const std::string& db, int64_t campaign) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return 0;
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
  sqlite3_busy_timeout(raw, 1000);
  const std::string sql = "SELECT COUNT(*) FROM measurements m JOIN jobs j ON j.id = m.job_id "
                          "WHERE j.campaign_id = " + std::to_string(campaign);
  sqlite3_stmt* q = nullptr;
  if (sqlite3_prepare_v2(raw, sql.c_str(), -1, &q, nullptr) != SQLITE_OK) return 0;
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(q, &sqlite3_finalize);
  return sqlite3_step(q) == SQLITE_ROW ? static_cast<size_t>(sqlite3_column_int64(q, 0)) : 0;
}

// The processes whose parent is `parent` (from /proc/PID/stat, field 4).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = Slurp("/proc/" + name + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// Starts `wattfleet run` on the campaign and SIGKILLs it, with its agents, once campaign
// `campaign` holds at least `measured` measurements: an interrupted run, as a crash or a
// closed terminal leaves.
void RunAndKill(const std::vector<std::string>& args, const std::string& db,
                const std::string& log, int64_t campaign, size_t measured,
                const std::function<void()>& meanwhile = {}) {
  auto run = ChildProcess::Start(args, log);
  ASSERT_TRUE(run.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  size_t rows = 0;
  while (std::chrono::steady_clock::now() < deadline && run->Running()) {
    rows = MeasuredIn(db, campaign);
    if (rows >= measured) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(run->Running()) << "the run ended before it could be interrupted:\n"
                              << Slurp(log);
  ASSERT_GE(rows, measured) << Slurp(log);
  if (meanwhile) meanwhile();
  // Its agents: reached over a Unix socket in a folder of mode 0700, never a TCP port.
  const std::vector<pid_t> agents = ChildrenOf(run->pid());
  ASSERT_FALSE(agents.empty());
  for (pid_t agent : agents) {
    const std::string cmdline = Slurp("/proc/" + std::to_string(agent) + "/cmdline");
    const size_t at = cmdline.find("ipc://");
    ASSERT_NE(at, std::string::npos) << "an agent of `run` not on ipc://";
    const std::string socket = cmdline.substr(at + 6, cmdline.find('\0', at) - at - 6);
    struct stat st {};
    ASSERT_EQ(::stat(socket.substr(0, socket.rfind('/')).c_str(), &st), 0) << socket;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << socket;
  }
  run->Signal(SIGKILL);
  ASSERT_TRUE(run->Wait(30).ok());
  // Its agents die with it, killed or not: none is left to share the next run's spools.
  const auto gone_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (pid_t agent : agents) {
    while (::kill(agent, 0) == 0 && std::chrono::steady_clock::now() < gone_by) {
      // Reaped by init: a zombie's /proc/PID/stat says Z until then.
      const std::string stat = Slurp("/proc/" + std::to_string(agent) + "/stat");
      if (stat.find(") Z ") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::string stat = Slurp("/proc/" + std::to_string(agent) + "/stat");
    EXPECT_TRUE(::kill(agent, 0) != 0 || stat.find(") Z ") != std::string::npos)
        << "agent " << agent << " outlived its `run`";
  }
}

TEST_F(EndToEndTest, AnInterruptedRunIsResumedAndFreshStartsOver) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF)";
#endif
  const std::string db = dir_ + "/data.db";
  const std::string campaign_path = dir_ + "/e2e.yaml";
  WriteCampaign(campaign_path);
  auto campaign = LoadCampaignFile(campaign_path);
  ASSERT_TRUE(campaign.ok());
  auto plan = MakePlan(*campaign);
  ASSERT_TRUE(plan.ok());
  const size_t planned = plan->jobs.size();
  const std::vector<std::string> run = {WATTFLEET_BIN, "run",       campaign_path, "--agents",
                                        "1",           "--sensor",  "modeled",     "--threads",
                                        "1",           "--db",      db};

  // Interrupted once; then --fresh, interrupted too: the first is cancelled, not resumed.
  // While it runs, a second run on the same dataset is refused (it would share its agents'
  // names and spools).
  RunAndKill(run, db, dir_ + "/run1.log", 1, 2, [&] {
    std::vector<std::string> second(run.begin() + 1, run.end());
    EXPECT_EQ(RunCli(second, dir_ + "/second.log", 60), 1) << Slurp(dir_ + "/second.log");
    EXPECT_NE(Slurp(dir_ + "/second.log").find("another `wattfleet run`"), std::string::npos)
        << Slurp(dir_ + "/second.log");
  });
  std::vector<std::string> fresh = run;
  fresh.push_back("--fresh");
  RunAndKill(fresh, db, dir_ + "/run2.log", 2, 2);
  EXPECT_NE(Slurp(dir_ + "/run2.log").find("#1 was unfinished: cancelled"), std::string::npos)
      << Slurp(dir_ + "/run2.log");

  std::map<int64_t, int64_t> measured_before;  // job id -> when it was measured
  {
    auto store = OpenSqliteStore(db);
    ASSERT_TRUE(store.ok());
    auto rows = testing::Exported(db, 2);
    ASSERT_TRUE(rows.ok());
    for (const ExportRow& r : *rows) measured_before[r.job_id] = r.measured_at_ms;
  }
  ASSERT_GE(measured_before.size(), 1u);
  ASSERT_LT(measured_before.size(), planned);

  // The same file again: campaign #2 goes on where it stopped.
  std::vector<std::string> again(run.begin() + 1, run.end());
  ASSERT_EQ(RunCli(again, dir_ + "/run3.log", 300), 0) << Slurp(dir_ + "/run3.log");
  EXPECT_NE(Slurp(dir_ + "/run3.log").find("resuming campaign e2e #2"), std::string::npos)
      << Slurp(dir_ + "/run3.log");

  auto store = OpenSqliteStore(db);
  ASSERT_TRUE(store.ok());
  auto campaigns = (*store)->ListCampaigns();
  ASSERT_TRUE(campaigns.ok());
  ASSERT_EQ(campaigns->size(), 2u) << "a run of the same campaign started another one";
  EXPECT_EQ((*campaigns)[0].state, "cancelled");
  EXPECT_EQ((*campaigns)[1].state, "done");
  EXPECT_EQ((*campaigns)[1].jobs["done"], static_cast<int64_t>(planned));
  auto rows = testing::Exported(db, 2);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), planned);
  std::set<int64_t> ids;
  for (const ExportRow& r : *rows) {
    EXPECT_TRUE(ids.insert(r.job_id).second) << "job " << r.job_id << " stored twice";
    // What the interrupted run measured was kept, not measured again.
    if (auto b = measured_before.find(r.job_id); b != measured_before.end()) {
      EXPECT_EQ(r.measured_at_ms, b->second) << "job " << r.job_id << " measured again";
    }
  }
}

// Ctrl-C (SIGINT) of a run: it stops, says how far it got and how to resume.
TEST_F(EndToEndTest, AnInterruptedRunSaysHowToResume) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "agents built without libtorch refuse every job (WATTFLEET_WITH_TORCH=OFF)";
#endif
  const std::string db = dir_ + "/ctrl-c.db";
  const std::string campaign_path = dir_ + "/e2e.yaml";
  WriteCampaign(campaign_path);
  const std::string log = dir_ + "/ctrl-c.log";
  auto run = ChildProcess::Start({WATTFLEET_BIN, "run", campaign_path, "--agents", "1",
                                  "--sensor", "modeled", "--threads", "1", "--db", db},
                                 log);
  ASSERT_TRUE(run.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (std::chrono::steady_clock::now() < deadline && run->Running() &&
         MeasuredIn(db, 1) < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(run->Running()) << Slurp(log);
  run->Signal(SIGINT);
  auto code = run->Wait(120);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1) << Slurp(log);
  const std::string out = Slurp(log);
  EXPECT_NE(out.find("interrupted: "), std::string::npos) << out;
  EXPECT_NE(out.find("Run the same command again to resume"), std::string::npos) << out;
}

TEST_F(EndToEndTest, InvalidCampaignIsRejectedWithPositionAndNothingStored) {
  const std::string db = dir_ + "/never.db";
  const std::string bad = dir_ + "/bad.yaml";
  {
    std::ofstream f(bad);
    f << "name: bad\ndevices: [{class: cpu}]\nbatch_size: lots\narchitectures: [{zoo: lenet5}]\n";
  }
  const std::string log = dir_ + "/run.log";
  EXPECT_EQ(RunCli({"run", bad, "--db", db, "--agents", "1"}, log, 30), 2);
  const std::string out = Slurp(log);
  EXPECT_NE(out.find(bad + ":3:13:"), std::string::npos) << out;
  EXPECT_FALSE(Exists(db)) << "a rejected campaign must leave nothing behind";

  EXPECT_EQ(RunCli({"plan", bad}, log, 30), 2);
  EXPECT_EQ(RunCli({"run", bad, "--agents", "zero"}, log, 30), 2);  // bad flag

  // A valid campaign past the operator's job bound: refused before anything is built or
  // stored, by `plan` (previewing a controller's bound) and by `run` alike.
  const std::string quickstart =
      std::string(WATTFLEET_SOURCE_DIR) + "/experiments/quickstart.yaml";
  EXPECT_EQ(RunCli({"plan", quickstart, "--max-campaign-jobs", "10"}, log, 30), 2);
  EXPECT_NE(Slurp(log).find("would plan 28 jobs"), std::string::npos) << Slurp(log);
  EXPECT_EQ(RunCli({"run", quickstart, "--db", db, "--agents", "1", "--max-campaign-jobs", "10"},
                   log, 30),
            2);
  EXPECT_NE(Slurp(log).find("more than the 10 this controller allows"), std::string::npos)
      << Slurp(log);
  EXPECT_FALSE(Exists(db));
}

}  // namespace
}  // namespace wattfleet
