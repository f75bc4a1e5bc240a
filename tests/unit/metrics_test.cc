#include "wattfleet/dispatch/metrics_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

// A TCP connection from `from` (any 127/8 address: a different client host, as the server
// sees it) to 127.0.0.1:port; non-blocking, so a full backlog does not hold the test.
int Connect(const char* from, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &src.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  return fd;
}

// Sends `request` (as far as the socket takes it) and returns what comes back within
// `seconds`, until the peer closes or a whole header block is in.
std::string Exchange(int fd, const std::string& request, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  size_t sent = 0;
  std::string got;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    if ((p.revents & POLLOUT) && sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      if (got.find("\r\n\r\n") != std::string::npos) break;
    }
  }
  return got;
}

size_t OpenDescriptors() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

// A body of any size is refused before it is read: the 413 comes back while the client is
// still sending, and the server holds none of it.
TEST(MetricsServer, ABodyIsRefusedUnread) {
  DispatcherCounters c;
  auto server = MetricsServer::Start("127.0.0.1:0", c);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int fd = Connect("127.0.0.1", (*server)->port());
  ASSERT_GE(fd, 0);
  const std::string request = "POST /metrics HTTP/1.1\r\nHost: x\r\n"
                              "Content-Length: 805306368\r\n\r\n" + std::string(1 << 20, 'x');
  const std::string reply = Exchange(fd, request, 20);
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 200);

  // Headers past the connection's memory are refused too.
  const int big = Connect("127.0.0.1", (*server)->port());
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                           std::string(64 << 10, 'a') + "\r\n\r\n";
  const std::string refused = Exchange(big, huge, 20);
  ::close(big);
  EXPECT_EQ(refused.rfind("HTTP/1.1 4", 0), 0u) << refused.substr(0, 200);
}

// Slow and idle clients hold no worker and only a bounded number of descriptors: with
// hundreds of idle connections and two that trickle their headers, a scrape from another
// host is still answered, and the server holds at most its cap of connections.
TEST(MetricsServer, IdleAndSlowClientsNeitherBlockScrapesNorTakeDescriptors) {
  DispatcherCounters c;
  c.results_stored = 7;
  auto server = MetricsServer::Start("127.0.0.1:0", c);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  const size_t before = OpenDescriptors();
  constexpr int kIdle = 400;
  std::vector<int> idle;
  for (int i = 0; i < kIdle; ++i) idle.push_back(Connect("127.0.0.1", port));
  std::vector<int> slow = {Connect("127.0.0.3", port), Connect("127.0.0.4", port)};
  for (int fd : slow) Exchange(fd, "GET /metrics HTTP/1.1\r\n", 0.2);
  // Let the server take (and refuse) what it will.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (int fd : slow) Exchange(fd, "X-Slow: 1\r\n", 0.1);

  const int scrape = Connect("127.0.0.2", port);
  const std::string reply = Exchange(scrape, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 20);
  ::close(scrape);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply.substr(0, 200);

  // The test's own sockets, plus what the server accepted: its cap, not one per client.
  const size_t during = OpenDescriptors();
  EXPECT_LE(during, before + kIdle + slow.size() + 128 + 8) << "server holds " << during - before - kIdle;
  for (int fd : idle) ::close(fd);
  for (int fd : slow) ::close(fd);
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
