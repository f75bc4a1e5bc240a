#include "wattfleet/dispatch/metrics_server.h"

#include "wattfleet/common/version.h"

#include <httplib.h>
#include <unistd.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <string_view>
#include <mutex>
#include <thread>
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
  if (!address.empty() && address.front() == '[') {
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

class HttpMetricsServer final : public MetricsServer {
 public:
  explicit HttpMetricsServer(const DispatcherCounters& counters)
      : counters_(counters),
        started_(SteadyClock::now()),
        process_start_s_(ProcessStartUnixSeconds()) {}

  ~HttpMetricsServer() override {
    if (listener_.joinable()) {
      // Server::stop() does nothing until listen_after_bind() has marked the server running,
      // so a destructor racing a fresh start would otherwise join a listener that never ends.
      while (!server_.is_running() && !listen_done_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      server_.stop();
      listener_.join();  // also joins the handler pool: no handler runs past this point
    }
  }

  Status Listen(const std::string& address) {
    WF_ASSIGN_OR_RETURN(HostPort hp, ParseAddress(address));
    if (!IsLoopbackHost(hp.host)) {
      spdlog::warn("metrics: {} is not a loopback address; anyone who can reach it can read the "
                   "metrics (there is no authentication)",
                   address);
    }
    // A scrape is one small request every few seconds: two workers instead of httplib's
    // default of one per core. httplib takes ownership of the raw pointer (its API).
    server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
    // httplib's default options add SO_REUSEPORT, which would let a second controller bind
    // the same port and silently take half the scrapes; SO_REUSEADDR alone still allows a
    // restart while old connections sit in TIME_WAIT.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server_.set_read_timeout(5);
    server_.set_write_timeout(5);
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      const double uptime =
          std::chrono::duration<double>(SteadyClock::now() - started_).count();
      res.set_content(FormatMetrics(counters_, uptime, process_start_s_),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
    // Unknown paths fall through to httplib's 404; give it a body a person can read.
    server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.status == 404) res.set_content("not found; try /metrics\n", "text/plain");
    });

    errno = 0;
    if (hp.port == 0) {
      port_ = server_.bind_to_any_port(hp.host);
    } else {
      port_ = server_.bind_to_port(hp.host, hp.port) ? hp.port : -1;
    }
    if (port_ < 0) {
      const int err = errno;
      return Status::InvalidArgument("metrics address \"" + address + "\": cannot listen" +
                                     (err != 0 ? std::string(": ") + std::strerror(err) : ""));
    }

    try {
      listener_ = std::thread([this, address] {
        // Nothing may escape a thread (std::terminate); log and give up serving instead.
        try {
          if (!server_.listen_after_bind()) spdlog::error("metrics: {} stopped listening", address);
        } catch (const std::exception& e) {
          spdlog::error("metrics: {}: {}", address, e.what());
        }
        listen_done_.store(true);
      });
    } catch (const std::system_error& e) {
      return Status::Internal(std::string("metrics: cannot start a thread: ") + e.what());
    }
    return Status::OK();
  }

  int port() const override { return port_; }

 private:
  const DispatcherCounters& counters_;
  const SteadyClock::time_point started_;
  httplib::Server server_;
  int port_ = -1;

  const double process_start_s_;

  std::atomic<bool> listen_done_{false};
  std::thread listener_;
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
