// Results and failures per agent and device class, and the energy measured per device class,
// since the controller started: the labelled series of the Prometheus endpoint. Written by
// the dispatcher's thread, read by scrapes, hence the lock (a handful of updates per job).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace wattfleet {

class AgentTotals {
 public:
  struct AgentRow {
    std::string agent;
    std::string device_class;
    int64_t results_stored = 0;
    int64_t failures = 0;
  };
  struct EnergyRow {
    std::string device_class;
    bool estimate = false;  // the modeled meter's energy: an estimate, kept apart
    double joules = 0;
  };

  // A stored result and the energy its windows read (J, idle included).
  void AddStored(const std::string& agent, const std::string& device_class, double joules,
                 bool estimate);
  void AddFailure(const std::string& agent, const std::string& device_class);

  // Sorted by agent, then class; by class, then estimate.
  std::vector<AgentRow> Agents() const;
  std::vector<EnergyRow> Energy() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, AgentRow> agents_;
  std::map<std::pair<std::string, bool>, double> energy_;
};

}  // namespace wattfleet
