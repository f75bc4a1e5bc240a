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

// The exposition text for a snapshot of the counters (also used by tests).
// wattfleet_results_per_second is then the average since start (results_stored / uptime_s):
// without samples over time there is nothing better to report.
std::string FormatMetrics(const DispatcherCounters& counters, double uptime_s);
// The same with the rate gauge given; the server passes the rate over its last ~10 s.
std::string FormatMetrics(const DispatcherCounters& counters, double uptime_s,
                          double results_per_second);

}  // namespace wattfleet
