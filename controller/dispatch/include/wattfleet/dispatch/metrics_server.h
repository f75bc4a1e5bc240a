// Prometheus metrics over HTTP (`wattfleet serve --metrics 127.0.0.1:9464`): GET /metrics in
// the text exposition format, read from the dispatcher's atomic counters, so that scraping
// never touches the dispatcher's thread or its store.
#pragma once

#include <memory>
#include <string>

#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

class MetricsServer {
 public:
  // Listens on HOST:PORT (port 0 picks one) in a thread of its own. Errors name the address.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                      const DispatcherCounters& counters);
  virtual ~MetricsServer() = default;
  // The port actually bound.
  virtual int port() const = 0;
};

// The exposition text for a snapshot of the counters (also used by tests): the counters,
// the per-agent and per-device-class series, uptime, process_start_time_seconds
// (`process_start_s`, Unix seconds) and wattfleet_build_info. No rates: Prometheus computes
// them from the counters (rate(wattfleet_results_stored_total[5m])).
std::string FormatMetrics(const DispatcherCounters& counters, double uptime_s,
                          double process_start_s);

}  // namespace wattfleet
