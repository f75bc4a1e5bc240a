// Column values that every Store backend derives the same way from what it is given: the
// identity of a result payload, and the JSON texts of repeats and layer parameters. Also the
// messages with which both backends refuse a stale lease or requeue.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/store/store.h"
#include "wattfleet/common/job.h"

namespace wattfleet {

// FNV-1a, 64 bit, as 16 lower-case hex digits: the identity of a result payload (a second
// delivery of the same attempt is recognised by it).
std::string PayloadHash(std::string_view bytes);

// A figure for a nullable column: NaN (the wire's "not measured") and the infinities as NULL.
std::optional<double> Figure(double v);

// [{"iterations":..,"time_s":..,"energy_j":..}, ...]
std::string RepeatsJson(const std::vector<Repeat>& repeats);

// {"name": value, ...}
std::string ParamsJson(const std::map<std::string, double>& params);

// A job just added to a campaign under `job_id`, as AddJob returns it: queued, no attempt yet.
ActiveJob NewQueuedJob(const JobSpec& job, int64_t campaign_id, int64_t job_id);

// Flagged measurements per campaign and flag text, as both backends count them for
// ListCampaigns: rows of (campaign_id, quality_flags, count).
inline constexpr const char* kFlaggedCountsSql =
    "SELECT j.campaign_id, m.quality_flags, COUNT(*) FROM measurements m "
    "JOIN jobs j ON j.id = m.job_id WHERE m.quality_flags <> '' "
    "GROUP BY j.campaign_id, m.quality_flags";
// Adds `count` measurements flagged `flags_text` ("ci;interference") to `campaign`.
void AddFlagged(std::string_view flags_text, int64_t count, CampaignStatus* campaign);

}  // namespace wattfleet
