#include "wattfleet/dispatch/metrics_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

namespace wattfleet {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The rate gauge looks this far back: long enough to smooth over one job's burst of results,
// short enough to show a stall within a couple of default (15 s) scrape intervals.
constexpr std::chrono::seconds kRateWindow{10};
constexpr std::chrono::seconds kSampleEvery{1};

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

void Sample(std::string& out, const char* name, double value) {
  // snprintf rather than iostreams: the format is fixed and needs no locale-aware stream.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  out += name;
  out += ' ';
  out += buf;
  out += '\n';
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
      : counters_(counters), started_(SteadyClock::now()) {}

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
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (sampler_.joinable()) sampler_.join();
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
      res.set_content(FormatMetrics(counters_, uptime, ResultsPerSecond()),
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

    Record(SteadyClock::now(), counters_.results_stored.load());
    try {
      sampler_ = std::thread([this] { SampleLoop(); });
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
  // One sample a second, in a thread of its own rather than on scrape: Prometheus scrapes
  // every 15 s by default, so samples taken on scrape alone would never fall inside a 10 s
  // window.
  void SampleLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, kSampleEvery, [this] { return stopping_; })) {
      const auto now = SteadyClock::now();
      const int64_t stored = counters_.results_stored.load();
      lock.unlock();
      Record(now, stored);
      lock.lock();
    }
  }

  void Record(SteadyClock::time_point t, int64_t stored) {
    std::lock_guard<std::mutex> lock(mu_);
    samples_.emplace_back(t, stored);
    // Keep the oldest sample still inside the window (and always at least one).
    while (samples_.size() > 1 && t - samples_[1].first >= kRateWindow) samples_.pop_front();
  }

  // Results stored per second between the oldest sample in the window and now.
  double ResultsPerSecond() {
    const auto now = SteadyClock::now();
    const int64_t stored = counters_.results_stored.load();
    std::lock_guard<std::mutex> lock(mu_);
    if (samples_.empty()) return 0;
    const auto& [t0, stored0] = samples_.front();
    const double dt = std::chrono::duration<double>(now - t0).count();
    // Right after start the interval is too short to mean anything.
    if (dt < 0.25) return 0;
    return static_cast<double>(stored - stored0) / dt;
  }

  const DispatcherCounters& counters_;
  const SteadyClock::time_point started_;
  httplib::Server server_;
  int port_ = -1;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                                          // guarded by mu_
  std::deque<std::pair<SteadyClock::time_point, int64_t>> samples_;  // guarded by mu_

  std::atomic<bool> listen_done_{false};
  std::thread sampler_;
  std::thread listener_;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                            const DispatcherCounters& counters) {
  auto server = std::make_unique<HttpMetricsServer>(counters);
  WF_RETURN_IF_ERROR(server->Listen(address));
  return std::unique_ptr<MetricsServer>(std::move(server));
}

std::string FormatMetrics(const DispatcherCounters& counters, double uptime_s) {
  const double average =
      uptime_s > 0 ? static_cast<double>(counters.results_stored.load()) / uptime_s : 0.0;
  return FormatMetrics(counters, uptime_s, average);
}

std::string FormatMetrics(const DispatcherCounters& c, double uptime_s,
                          double results_per_second) {
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
  Family(out, "wattfleet_results_per_second", "gauge",
         "Results stored per second over the last ~10 s.");
  Sample(out, "wattfleet_results_per_second", results_per_second);
  Family(out, "wattfleet_uptime_seconds", "gauge", "Seconds since the metrics server started.");
  Sample(out, "wattfleet_uptime_seconds", uptime_s);
  return out;
}

}  // namespace wattfleet
