#include "wattfleet/dispatch/agent_totals.h"

#include <cmath>

namespace wattfleet {

void AgentTotals::AddStored(const std::string& agent, const std::string& device_class,
                            double joules, bool estimate) {
  std::lock_guard<std::mutex> lock(mu_);
  AgentRow& row = agents_[{agent, device_class}];
  row.agent = agent;
  row.device_class = device_class;
  ++row.results_stored;
  // A counter never goes down: a window that read nonsense adds nothing.
  if (std::isfinite(joules) && joules > 0) energy_[{device_class, estimate}] += joules;
}

void AgentTotals::AddFailure(const std::string& agent, const std::string& device_class) {
  std::lock_guard<std::mutex> lock(mu_);
  AgentRow& row = agents_[{agent, device_class}];
  row.agent = agent;
  row.device_class = device_class;
  ++row.failures;
}

std::vector<AgentTotals::AgentRow> AgentTotals::Agents() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AgentRow> out;
  for (const auto& [key, row] : agents_) out.push_back(row);
  return out;
}

std::vector<AgentTotals::EnergyRow> AgentTotals::Energy() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<EnergyRow> out;
  for (const auto& [key, joules] : energy_) out.push_back({key.first, key.second, joules});
  return out;
}

}  // namespace wattfleet
