// `wattfleet-agent probe` (the real binary) on a fake sysfs tree: the meter it would use and
// that meter's character (agent/monitor/characterise.cc), as text and as JSON.
#include <gtest/gtest.h>
#include <stdio.h>

#include <nlohmann/json.hpp>

#include <string>

#include "../unit/sysfs_fake.h"

namespace wattfleet {
namespace {

using namespace testing_sysfs;  // NOLINT

std::string Output(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(AgentProbe, ShowsItsMeterAndWhyAMeterCannotOpen) {
  TempDir dir;
  RaplDomain(dir, "intel-rapl:0", "package-0", 5000, 262143328850LL);
  const std::string agent = std::string(WATTFLEET_AGENT_BIN) + " --sensor rapl --sysfs-root '" +
                            dir.path() + "' probe";
  // A frozen fake counter: stuck, said in both forms, after polling for at most ~2 s.
  const auto j = nlohmann::json::parse(Output("timeout 60 " + agent + " --json 2>/dev/null"));
  ASSERT_TRUE(j.contains("meter")) << j.dump();
  EXPECT_EQ(j["meter"]["backend"], "rapl");
  EXPECT_EQ(j["meter"]["character"]["method"], "energy counter");
  EXPECT_EQ(j["meter"]["character"]["stuck"], true);
  EXPECT_DOUBLE_EQ(j["meter"]["character"]["resolution_j"].get<double>(), 1e-6);
  EXPECT_NE(j["meter"]["character"]["note"].get<std::string>().find("no dram domain"),
            std::string::npos);
  const std::string text = Output("timeout 60 " + agent + " 2>/dev/null");
  EXPECT_NE(text.find("meter       rapl: energy counter, STUCK"), std::string::npos) << text;
  // A meter that cannot open says why, in place of its character.
  const auto none = nlohmann::json::parse(Output(
      "timeout 60 " + std::string(WATTFLEET_AGENT_BIN) + " --sensor hwmon --sysfs-root '" +
      dir.path() + "' probe --json 2>/dev/null"));
  EXPECT_NE(none["meter"].value("error", "").find("ina3221"), std::string::npos)
      << none.dump();
}

// The modeled meter says what it assumes, with the figure the agent was given.
TEST(AgentProbe, TheModeledMeterSaysWhatItAssumes) {
  const std::string agent = std::string(WATTFLEET_AGENT_BIN) +
                            " --sensor modeled --modeled-core-w 7.5 probe";
  const std::string text = Output("timeout 60 " + agent + " 2>/dev/null");
  EXPECT_NE(text.find("modeled: TDP x utilisation x time"), std::string::npos) << text;
  EXPECT_NE(text.find("7.5 W per core x "), std::string::npos) << text;
  const auto j = nlohmann::json::parse(Output("timeout 60 " + agent + " --json 2>/dev/null"));
  EXPECT_NE(j["meter"]["character"]["note"].get<std::string>().find("7.5 W per core x "),
            std::string::npos)
      << j.dump();
  const std::string plain = Output("timeout 60 " + std::string(WATTFLEET_AGENT_BIN) +
                                   " --sensor modeled probe 2>/dev/null");
  EXPECT_NE(plain.find("15 W per core x "), std::string::npos) << plain;
  EXPECT_NE(plain.find("the default; --modeled-core-w sets it"), std::string::npos) << plain;
}

// The BLAS the agent's matrix products run through, as loaded in the agent's own process.
TEST(AgentProbe, NamesTheBlasItRuns) {
#ifndef WATTFLEET_E2E_WITH_TORCH
  GTEST_SKIP() << "an agent without libtorch loads no BLAS";
#endif
  const std::string agent = std::string(WATTFLEET_AGENT_BIN) + " --sensor modeled probe";
  const auto j = nlohmann::json::parse(Output("timeout 60 " + agent + " --json 2>/dev/null"));
  ASSERT_TRUE(j.contains("blas")) << j.dump();
  ASSERT_TRUE(j["blas"].is_object()) << j.dump();  // libtorch links one
  const std::string path = j["blas"]["path"].get<std::string>();
  EXPECT_EQ(path.front(), '/') << path;
  const std::string text = Output("timeout 60 " + agent + " 2>/dev/null");
  EXPECT_NE(text.find("blas        " + j["blas"]["kind"].get<std::string>() + ", " + path),
            std::string::npos)
      << text;
}

TEST(AgentProbe, VersionSaysTheReleaseTheRevisionAndTheLibtorch) {
  const std::string v = Output(std::string("timeout 60 ") + WATTFLEET_AGENT_BIN + " --version");
  EXPECT_EQ(v.rfind(std::string("wattfleet-agent ") + WATTFLEET_VERSION + " (git ", 0), 0u) << v;
  EXPECT_TRUE(v.find("libtorch") != std::string::npos) << v;
}

}  // namespace
}  // namespace wattfleet
