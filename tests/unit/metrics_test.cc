#include "wattfleet/dispatch/metrics_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace wattfleet {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const auto& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

void SetCounters(DispatcherCounters& c) {
  c.results_stored = 42;
  c.results_duplicate = 3;
  c.failures = 5;
  c.retries = 4;
  c.lease_expiries = 2;
  c.malformed = 7;
  c.auth_denied = 1;
  c.results_refused = 12;
  c.agents_refused = 13;
  c.agents_alive = 6;
  c.jobs_active = 11;
  c.jobs_queued = 8;
  c.jobs_leased = 3;
  c.jobs_quarantined = 9;
  c.jobs_failed = 10;
  c.by_agent.AddStored("gpu-1", "cuda", 10.0, false);
  c.by_agent.AddStored("gpu-1", "cuda", 10.0, false);
  c.by_agent.AddFailure("gpu-1", "cuda");
  c.by_agent.AddStored("cpu-1", "cpu", 2.5, true);
  c.by_agent.AddStored("cpu-1", "cpu", -1.0, true);  // nonsense adds no energy
}

// When this test process started (Unix seconds), as its first static initialiser saw it.
const double kTestStarted =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

TEST(FormatMetrics, ExactSampleLines) {
  DispatcherCounters c;
  SetCounters(c);
  c.by_agent.AddStored("lab \"b\"\\x", "cpu", 1.0, false);  // quotes and a backslash, escaped
  const std::string text = FormatMetrics(c, 12.5, 1700000000.5);
  for (const char* line : {
           "wattfleet_results_stored_total 42",
           "wattfleet_results_duplicate_total 3",
           "wattfleet_job_failures_total 5",
           "wattfleet_retries_total 4",
           "wattfleet_lease_expiries_total 2",
           "wattfleet_malformed_frames_total 7",
           "wattfleet_auth_denied_total 1",
           "wattfleet_results_refused_total 12",
           "wattfleet_agents_refused_total 13",
           "wattfleet_agents_alive 6",
           "wattfleet_jobs{state=\"queued\"} 8",
           "wattfleet_jobs{state=\"leased\"} 3",
           "wattfleet_jobs_active 11",
           "wattfleet_jobs_quarantined_total 9",
           "wattfleet_jobs_failed_total 10",
           "wattfleet_uptime_seconds 12.500",
           "process_start_time_seconds 1700000000.500",
           "wattfleet_agent_results_stored_total{agent=\"gpu-1\",device_class=\"cuda\"} 2",
           "wattfleet_agent_results_stored_total{agent=\"cpu-1\",device_class=\"cpu\"} 2",
           "wattfleet_agent_job_failures_total{agent=\"gpu-1\",device_class=\"cuda\"} 1",
           "wattfleet_agent_job_failures_total{agent=\"cpu-1\",device_class=\"cpu\"} 0",
           "wattfleet_agent_results_stored_total{agent=\"lab \\\"b\\\"\\\\x\",device_class=\"cpu\"} 1",
           "wattfleet_measured_energy_joules_total{device_class=\"cuda\",estimate=\"false\"} 20.000",
           "wattfleet_measured_energy_joules_total{device_class=\"cpu\",estimate=\"true\"} 2.500",
           "wattfleet_measured_energy_joules_total{device_class=\"cpu\",estimate=\"false\"} 1.000",
           "# TYPE wattfleet_measured_energy_joules_total counter",
           "# TYPE wattfleet_build_info gauge",
           "# TYPE process_start_time_seconds gauge",
           "# TYPE wattfleet_results_stored_total counter",
           "# TYPE wattfleet_agents_alive gauge",
           "# TYPE wattfleet_jobs gauge",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << "missing: " << line << "\n" << text;
  }
  // The build, as labels; no precomputed rate (Prometheus computes rates from counters).
  EXPECT_TRUE(std::regex_search(
      text, std::regex("\nwattfleet_build_info\\{version=\"[0-9.]+\",revision=\"[^\"]+\"\\} 1\n")))
      << text;
  EXPECT_EQ(text.find("per_second"), std::string::npos) << text;
}

// Every line is a HELP, a TYPE or a sample; each family has exactly one HELP and one TYPE,
// both before its samples; every sample belongs to a declared family.
TEST(FormatMetrics, ValidExpositionSyntax) {
  DispatcherCounters c;
  SetCounters(c);
  const std::string text = FormatMetrics(c, 3.0, 1700000000.0);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');

  const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
  const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? (-?[0-9]+(\.[0-9]+)?))");
  std::map<std::string, int> helps, types;
  std::set<std::string> sampled;
  for (const auto& line : Lines(text)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      EXPECT_EQ(sampled.count(m[1]), 0u) << "HELP after samples: " << line;
      ++helps[m[1]];
    } else if (std::regex_match(line, m, type)) {
      EXPECT_EQ(sampled.count(m[1]), 0u) << "TYPE after samples: " << line;
      ++types[m[1]];
    } else if (std::regex_match(line, m, sample)) {
      EXPECT_EQ(types.count(m[1]), 1u) << "sample of an undeclared metric: " << line;
      sampled.insert(m[1]);
    } else {
      ADD_FAILURE() << "not exposition syntax: \"" << line << "\"";
    }
  }
  EXPECT_EQ(helps.size(), 20u);  // 14 counters, 6 gauges
  for (const auto& [name, n] : helps) EXPECT_EQ(n, 1) << name;
  for (const auto& [name, n] : types) EXPECT_EQ(n, 1) << name;
  EXPECT_EQ(helps.size(), types.size());
  EXPECT_EQ(sampled.size(), types.size());
}

TEST(MetricsServer, ServesCountersOverHttp) {
  DispatcherCounters c;
  c.results_stored = 1234;
  c.jobs_queued = 17;
  auto server = MetricsServer::Start("127.0.0.1:0", c);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
      << res->get_header_value("Content-Type");
  EXPECT_TRUE(HasLine(res->body, "wattfleet_results_stored_total 1234")) << res->body;
  EXPECT_TRUE(HasLine(res->body, "wattfleet_jobs{state=\"queued\"} 17")) << res->body;

  // The server reads the live counters on every scrape.
  c.results_stored = 1300;
  res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_TRUE(HasLine(res->body, "wattfleet_results_stored_total 1300")) << res->body;

  res = client.Get("/other");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = client.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(MetricsServer, ProcessStartTimeIsThisProcesssStart) {
  DispatcherCounters c;
  auto server = MetricsServer::Start("127.0.0.1:0", c);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(res->body, m,
                                std::regex(R"(\nprocess_start_time_seconds ([0-9.]+)\n)")))
      << res->body;
  // procfs counts in clock ticks (10 ms) from a boot time in whole seconds.
  EXPECT_NEAR(std::stod(m[1]), kTestStarted, 30.0);
}

TEST(MetricsServer, StartsAndStopsAtOnce) {
  // The destructor must not hang when it races the listener thread's start.
  DispatcherCounters c;
  for (int i = 0; i < 5; ++i) {
    auto server = MetricsServer::Start("127.0.0.1:0", c);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
  }
}

TEST(MetricsServer, BadAddressesAreInvalidArgument) {
  DispatcherCounters c;
  for (const char* address :
       {"nonsense", "127.0.0.1:99999", "127.0.0.1:", ":9464", "127.0.0.1:12ab", "::1:9464",
        "[::1]9464", ""}) {
    auto server = MetricsServer::Start(address, c);
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument) << address;
    EXPECT_NE(server.status().message().find(std::string("\"") + address + "\""),
              std::string::npos)
        << server.status().message();
  }
}

TEST(MetricsServer, PortInUseIsInvalidArgument) {
  DispatcherCounters c;
  auto first = MetricsServer::Start("127.0.0.1:0", c);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsServer::Start(address, c);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(second.status().message().find(address), std::string::npos)
      << second.status().message();
}

}  // namespace
}  // namespace wattfleet
