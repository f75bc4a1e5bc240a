#include "wattfleet/dispatch/metrics_server.h"

#include "wattfleet/common/version.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <string_view>
#include <memory>
#include <utility>

namespace wattfleet {
namespace {

using SteadyClock = std::chrono::steady_clock;

// One metric family: its HELP and TYPE lines, then its samples.
void Family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void Sample(std::string& out, const char* name, const char* labels, int64_t value) {
  out += name;
  out += labels;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void Sample(std::string& out, const char* name, const char* labels, double value) {
  // snprintf rather than iostreams: the format is fixed and needs no locale-aware stream.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  out += name;
  out += labels;
  out += ' ';
  out += buf;
  out += '\n';
}

// A label value as the exposition format quotes it: backslash, quote and newline escaped.
std::string LabelValue(std::string_view v) {
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '\\' || ch == '"') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// When this process started, in Unix seconds: the boot time (/proc/stat's btime) plus the
// process's start in ticks after boot (/proc/self/stat, field 22). 0 when procfs says nothing.
double ProcessStartUnixSeconds() {
  std::ifstream stat("/proc/stat");
  double btime = 0;
  for (std::string line; std::getline(stat, line);) {
    if (line.rfind("btime ", 0) == 0) btime = std::strtod(line.c_str() + 6, nullptr);
  }
  std::ifstream self("/proc/self/stat");
  std::string line;
  std::getline(self, line);
  const size_t close = line.rfind(')');
  if (btime <= 0 || close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 1));
  std::string tok;
  for (int field = 3; field <= 22 && fields >> tok; ++field) {
    if (field == 22) {
      const long hz = ::sysconf(_SC_CLK_TCK);
      return btime + std::strtod(tok.c_str(), nullptr) / static_cast<double>(hz > 0 ? hz : 100);
    }
  }
  return 0;
}

void Counter(std::string& out, const char* name, const char* help,
             const std::atomic<int64_t>& value) {
  Family(out, name, "counter", help);
  Sample(out, name, "", value.load());
}

void Gauge(std::string& out, const char* name, const char* help,
           const std::atomic<int64_t>& value) {
  Family(out, name, "gauge", help);
  Sample(out, name, "", value.load());
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct HostPort {
  std::string host;
  int port = 0;
};

// "HOST:PORT" or "[V6]:PORT"; the port is 0..65535 (0: the kernel picks one).
Result<HostPort> ParseAddress(const std::string& address) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("metrics address \"" + address + "\": " + why);
  };
  HostPort hp;
  std::string port;
  if (!address.empty() && address.find_first_not_of("0123456789") == std::string::npos) {
    // A port alone is on loopback: the endpoint has no authentication.
    hp.host = "127.0.0.1";
    port = address;
  } else if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return bad("expected HOST:PORT or [IPV6]:PORT");
    }
    hp.host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) return bad("expected HOST:PORT");
    hp.host = address.substr(0, colon);
    port = address.substr(colon + 1);
    // An unbracketed IPv6 address would make the port ambiguous.
    if (hp.host.find(':') != std::string::npos) return bad("write IPv6 hosts as [HOST]:PORT");
  }
  if (hp.host.empty()) return bad("empty host");
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return bad("the port must be a number from 0 to 65535");
  }
  hp.port = std::stoi(port);
  if (hp.port > 65535) return bad("the port must be a number from 0 to 65535");
  return hp;
}

// The bounds that keep the endpoint from costing the controller anything it needs for its
// agents: one event-driven thread (a slow client holds no worker), a cap on connections (the
// file descriptors agents need stay free), a few per client address (one host cannot take
// them all), an idle timeout, and a small per-connection memory pool, which bounds the URI
// and headers (MHD answers 414 or 431 past it).
constexpr unsigned kMaxConnections = 128;
constexpr unsigned kMaxConnectionsPerAddress = 16;
constexpr unsigned kIdleTimeoutS = 5;
constexpr size_t kConnectionMemoryBytes = 16u << 10;

// A listening TCP socket on `hp`: SO_REUSEADDR (a restart while old connections sit in
// TIME_WAIT) but never SO_REUSEPORT, which would let a second controller bind the same port
// and silently take half the scrapes.
Result<int> ListenOn(const HostPort& hp, const std::string& address, bool* ipv6) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(hp.port);
  const int gai = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) {
    return Status::InvalidArgument("metrics address \"" + address + "\": " + ::gai_strerror(gai));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  int err = 0;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
      *ipv6 = ai->ai_family == AF_INET6;
      return fd;
    }
    err = errno;
    ::close(fd);
  }
  return Status::InvalidArgument("metrics address \"" + address + "\": cannot listen" +
                                 (err != 0 ? std::string(": ") + std::strerror(err) : ""));
}

int BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

MHD_Result Reply(MHD_Connection* connection, unsigned status, const std::string& body,
                 const char* content_type, const char* allow = nullptr) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", content_type);
  if (allow != nullptr) MHD_add_response_header(response, "Allow", allow);
  const MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return queued;
}

class HttpMetricsServer final : public MetricsServer {
 public:
  explicit HttpMetricsServer(const DispatcherCounters& counters)
      : counters_(counters),
        started_(SteadyClock::now()),
        process_start_s_(ProcessStartUnixSeconds()) {}

  // Stops the polling thread and closes every connection and the listening socket.
  ~HttpMetricsServer() override {
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  }

  Status Listen(const std::string& address) {
    WF_ASSIGN_OR_RETURN(HostPort hp, ParseAddress(address));
    if (!IsLoopbackHost(hp.host)) {
      spdlog::warn("metrics: {} is not a loopback address; anyone who can reach it can read the "
                   "metrics (there is no authentication)",
                   address);
    }
    bool ipv6 = false;
    WF_ASSIGN_OR_RETURN(const int fd, ListenOn(hp, address, &ipv6));
    port_ = BoundPort(fd);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (ipv6) flags |= MHD_USE_IPv6;
    daemon_ = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &HttpMetricsServer::Handle, this,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, kMaxConnectionsPerAddress,
        MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemoryBytes,
        MHD_OPTION_END);
    if (daemon_ == nullptr) {
      ::close(fd);
      return Status::Internal("metrics: " + address + ": the HTTP server did not start");
    }
    return Status::OK();
  }

  int port() const override { return port_; }

 private:
  // Called by MHD once the request line and headers are in, before any body is read: every
  // answer is given then, so a body is never read (413), whatever its size.
  static MHD_Result Handle(void* self, MHD_Connection* connection, const char* url,
                           const char* method, const char* /*version*/,
                           const char* /*upload_data*/, size_t* /*upload_data_size*/,
                           void** /*request_state*/) {
    return static_cast<HttpMetricsServer*>(self)->Answer(connection, url, method);
  }

  MHD_Result Answer(MHD_Connection* connection, std::string_view url, std::string_view method) {
    const char* length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char* chunked = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (chunked != nullptr || (length != nullptr && std::string_view(length) != "0")) {
      return Reply(connection, MHD_HTTP_CONTENT_TOO_LARGE, "a request body is not accepted\n",
                   "text/plain");
    }
    if (method != "GET" && method != "HEAD") {
      return Reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n", "text/plain",
                   "GET, HEAD");
    }
    if (url != "/metrics") {
      return Reply(connection, MHD_HTTP_NOT_FOUND, "not found; try /metrics\n", "text/plain");
    }
    const double uptime = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    return Reply(connection, MHD_HTTP_OK, FormatMetrics(counters_, uptime, process_start_s_),
                 "text/plain; version=0.0.4; charset=utf-8");
  }

  const DispatcherCounters& counters_;
  const SteadyClock::time_point started_;
  const double process_start_s_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = -1;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                            const DispatcherCounters& counters) {
  auto server = std::make_unique<HttpMetricsServer>(counters);
  WF_RETURN_IF_ERROR(server->Listen(address));
  return std::unique_ptr<MetricsServer>(std::move(server));
}

std::string FormatMetrics(const DispatcherCounters& c, double uptime_s,
                          double process_start_s) {
  std::string out;
  out.reserve(2048);
  Counter(out, "wattfleet_results_stored_total", "Results stored (first copy of each job).",
          c.results_stored);
  Counter(out, "wattfleet_results_duplicate_total",
          "Results received again for a job already stored, and dropped.", c.results_duplicate);
  Counter(out, "wattfleet_job_failures_total", "Failures reported by agents for a job.",
          c.failures);
  Counter(out, "wattfleet_retries_total", "Jobs requeued for another attempt.", c.retries);
  Counter(out, "wattfleet_lease_expiries_total", "Leases that ran out before a result came.",
          c.lease_expiries);
  Counter(out, "wattfleet_malformed_frames_total", "Malformed messages received and dropped.",
          c.malformed);
  Counter(out, "wattfleet_auth_denied_total",
          "CURVE handshakes refused because the key is not enrolled.", c.auth_denied);
  Counter(out, "wattfleet_results_refused_total",
          "Results and NACKs for a lease the sender was not handed; never stored.",
          c.results_refused);
  Counter(out, "wattfleet_agents_refused_total",
          "Peers refused for their name: invalid, in use by a connected agent, or not their key's.",
          c.agents_refused);
  Counter(out, "wattfleet_jobs_quarantined_total",
          "Jobs quarantined after too many infrastructure failures, since start.",
          c.jobs_quarantined);
  Counter(out, "wattfleet_jobs_failed_total", "Jobs ended FAILED (never retried), since start.",
          c.jobs_failed);

  Gauge(out, "wattfleet_agents_alive", "Agents registered and heartbeating.", c.agents_alive);
  Family(out, "wattfleet_jobs", "gauge", "Active jobs by state.");
  Sample(out, "wattfleet_jobs", "{state=\"queued\"}", c.jobs_queued.load());
  Sample(out, "wattfleet_jobs", "{state=\"leased\"}", c.jobs_leased.load());
  Gauge(out, "wattfleet_jobs_active", "Active jobs (queued + leased).", c.jobs_active);
  // Per agent and device class, since start (rates are Prometheus's to compute).
  const std::vector<AgentTotals::AgentRow> agents = c.by_agent.Agents();
  Family(out, "wattfleet_agent_results_stored_total", "counter",
         "Results stored, by the agent that measured them and its device class.");
  auto labels = [](const AgentTotals::AgentRow& a) {
    return "{agent=" + LabelValue(a.agent) + ",device_class=" + LabelValue(a.device_class) + "}";
  };
  for (const AgentTotals::AgentRow& a : agents) {
    Sample(out, "wattfleet_agent_results_stored_total", labels(a).c_str(), a.results_stored);
  }
  Family(out, "wattfleet_agent_job_failures_total", "counter",
         "Failures reported for a job, by agent and device class.");
  for (const AgentTotals::AgentRow& a : agents) {
    Sample(out, "wattfleet_agent_job_failures_total", labels(a).c_str(), a.failures);
  }
  Family(out, "wattfleet_measured_energy_joules_total", "counter",
         "Energy the stored results' windows read (J, idle included), by device class; "
         "estimate=\"true\" for the modeled meter's, which is an estimate.");
  for (const AgentTotals::EnergyRow& e : c.by_agent.Energy()) {
    Sample(out, "wattfleet_measured_energy_joules_total",
           ("{device_class=" + LabelValue(e.device_class) +
            ",estimate=" + LabelValue(e.estimate ? "true" : "false") + "}")
               .c_str(),
           e.joules);
  }
  Family(out, "wattfleet_uptime_seconds", "gauge", "Seconds since the metrics server started.");
  Sample(out, "wattfleet_uptime_seconds", "", uptime_s);
  Family(out, "process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch in seconds.");
  Sample(out, "process_start_time_seconds", "", process_start_s);
  Family(out, "wattfleet_build_info", "gauge",
         "The running build: version and git revision, as labels; always 1.");
  Sample(out, "wattfleet_build_info",
         ("{version=" + LabelValue(Version()) + ",revision=" + LabelValue(GitRevision()) + "}")
             .c_str(),
         int64_t{1});
  return out;
}

}  // namespace wattfleet
