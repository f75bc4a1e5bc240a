#include "store_values.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace wattfleet {

std::string PayloadHash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, h);
  return buf;
}

std::optional<double> Figure(double v) {
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::string RepeatsJson(const std::vector<Repeat>& repeats) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Repeat& r : repeats)
    arr.push_back({{"iterations", r.iterations}, {"time_s", r.time_s}, {"energy_j", r.energy_j}});
  return arr.dump();
}

std::string ParamsJson(const std::map<std::string, double>& params) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : params) obj[k] = v;
  return obj.dump();
}

ActiveJob NewQueuedJob(const JobSpec& job, int64_t campaign_id, int64_t job_id) {
  ActiveJob added;
  added.spec = job;
  added.spec.job_id = job_id;
  added.spec.campaign_id = campaign_id;
  added.spec.attempt = 0;
  added.state = JobState::kQueued;
  return added;
}

void AddFlagged(std::string_view flags_text, int64_t count, CampaignStatus* campaign) {
  campaign->flagged += count;
  size_t start = 0;
  while (start <= flags_text.size()) {
    const size_t end = std::min(flags_text.find(';', start), flags_text.size());
    if (end > start) campaign->flags[std::string(flags_text.substr(start, end - start))] += count;
    start = end + 1;
  }
}

}  // namespace wattfleet
