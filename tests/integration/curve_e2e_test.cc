// CurveZMQ with the real binaries: `wattfleet keys generate`, `wattfleet serve --curve-secret
// --agents-dir` on a wildcard address, an enrolled `wattfleet-agent` registers, an agent with a
// key pair that was never enrolled does not.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.h"
#include "process.h"

namespace wattfleet {
namespace {

using wattfleet::testing::Exists;
using wattfleet::testing::Slurp;

class CurveEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }

  int RunCli(const std::vector<std::string>& args, const std::string& log, double timeout_s) {
    return wattfleet::testing::RunCli(args, log, timeout_s);
  }
  // The names of the agents the controller knows, from `wattfleet status --json`.
  std::vector<std::string> AgentNames(const std::string& admin) {
    const std::string out = dir_ + "/status.json";
    ::unlink(out.c_str());
    std::vector<std::string> args = {"status", "--admin", admin, "--json"};
    args.insert(args.end(), admin_keys_.begin(), admin_keys_.end());
    if (RunCli(args, out, 20) != 0) return {};
    std::vector<std::string> names;
    try {
      const auto status = nlohmann::json::parse(Slurp(out));  // must outlive the loop
      for (const auto& a : status.at("agents")) {
        names.push_back(a.value("name", ""));
      }
    } catch (const std::exception&) {
    }
    return names;
  }
  ChildProcess StartAgent(const std::string& name, const std::string& endpoint,
                          const std::string& server_key, const std::string& keypair) {
    auto agent = ChildProcess::Start(
        {WATTFLEET_AGENT_BIN, "--controller", endpoint, "--name", name, "--sensor", "modeled",
         "--threads", "1", "--spool", dir_ + "/spool-" + name, "--heartbeat-ms", "200",
         "--curve-server-key", server_key, "--curve-keypair", keypair},
        dir_ + "/" + name + ".log");
    EXPECT_TRUE(agent.ok()) << agent.status().ToString();
    return std::move(*agent);
  }
  // --admin-key and --controller-key for a TCP admin socket.
  std::vector<std::string> admin_keys_;
  // Removed at the end unless the test failed (then its logs are kept and named).
  wattfleet::testing::TempDir tmp_;
  std::string dir_ = tmp_.path();
};

TEST_F(CurveEndToEndTest, OnlyTheEnrolledAgentRegisters) {
  const std::string keys = dir_ + "/keys";
  ASSERT_EQ(RunCli({"keys", "generate", "--out", keys, "--agent", "good", "--admin", "ops"},
                   dir_ + "/keys.log", 30),
            0)
      << Slurp(dir_ + "/keys.log");
  // Existing files are never overwritten: a second run is bad input.
  EXPECT_EQ(RunCli({"keys", "generate", "--out", keys, "--agent", "good"}, dir_ + "/keys2.log", 30),
            2);
  // A pair generated elsewhere and never enrolled in keys/agents.
  const std::string other = dir_ + "/other";
  ASSERT_EQ(RunCli({"keys", "generate", "--out", other, "--agent", "rogue"}, dir_ + "/keys3.log",
                   30),
            0);

  const std::string ready = dir_ + "/ready.json";
  auto serve = ChildProcess::Start(
      {WATTFLEET_BIN, "serve", "--db", dir_ + "/data.db", "--bind", "tcp://0.0.0.0:*", "--admin",
       "tcp://127.0.0.1:*", "--admin-keys", keys + "/admins", "--heartbeat-ms", "200",
       "--ready-file", ready, "--curve-secret", keys + "/controller.key_secret", "--agents-dir",
       keys + "/agents"},
      dir_ + "/serve.log");
  ASSERT_TRUE(serve.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!Exists(ready) && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(serve->Running()) << Slurp(dir_ + "/serve.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(Exists(ready)) << "controller never listened: " << Slurp(dir_ + "/serve.log");
  const auto endpoints = nlohmann::json::parse(Slurp(ready));
  std::string endpoint = endpoints["endpoint"];
  const std::string admin = endpoints["admin"];
  // Bound on every interface; the agents dial loopback.
  ASSERT_EQ(endpoint.rfind("tcp://0.0.0.0:", 0), 0u) << endpoint;
  endpoint = "tcp://127.0.0.1:" + endpoint.substr(std::string("tcp://0.0.0.0:").size());

  // The TCP admin socket answers an enrolled administrator only: without keys the CLI says
  // what it needs (exit 2); with an agent's key the handshake is refused (no answer).
  EXPECT_EQ(RunCli({"status", "--admin", admin}, dir_ + "/nokey.log", 20), 2);
  EXPECT_NE(Slurp(dir_ + "/nokey.log").find("--admin-key"), std::string::npos)
      << Slurp(dir_ + "/nokey.log");
  EXPECT_NE(RunCli({"status", "--admin", admin, "--admin-key", keys + "/good.key_secret",
                    "--controller-key", keys + "/controller.key"},
                   dir_ + "/agentkey.log", 30),
            0);
  EXPECT_NE(Slurp(dir_ + "/serve.log").find("refused administrator"), std::string::npos)
      << Slurp(dir_ + "/serve.log");
  admin_keys_ = {"--admin-key", keys + "/ops.key_secret", "--controller-key",
                 keys + "/controller.key"};

  ChildProcess good =
      StartAgent("good", endpoint, keys + "/controller.key", keys + "/good.key_secret");
  ChildProcess rogue =
      StartAgent("rogue", endpoint, keys + "/controller.key", other + "/rogue.key_secret");

  std::vector<std::string> names;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    names = AgentNames(admin);
    if (!names.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(names, std::vector<std::string>{"good"}) << Slurp(dir_ + "/serve.log");
  // The rogue has had time to try: still not registered, and refused in the log.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(AgentNames(admin), std::vector<std::string>{"good"});
  const std::string log = Slurp(dir_ + "/serve.log");
  EXPECT_NE(log.find("refused agent"), std::string::npos) << log;

  good.Signal(SIGTERM);
  rogue.Signal(SIGTERM);
  EXPECT_TRUE(good.Wait(30).ok());
  EXPECT_TRUE(rogue.Wait(30).ok());
  serve->Signal(SIGTERM);
  auto code = serve->Wait(30);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << Slurp(dir_ + "/serve.log");
}

}  // namespace
}  // namespace wattfleet
