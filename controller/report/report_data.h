// What `wattfleet report` shows besides the estimators: the campaigns with their jobs by
// state, and when each agent was busy measuring. Read from the dataset read-only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

class DatasetReader;

// Quality flags from the most to the least telling of a measurement's conditions: shared
// with other work, then below idle, a doubtful idle, a missed CI target.
inline constexpr const char* kFlagOrder[] = {kFlagInterference, kFlagBelowIdle, kFlagIdleStale,
                                             kFlagCi};

struct CampaignSummary {
  int64_t id = 0;
  std::string name;
  std::string state;  // "running" | "done" | "cancelled"
  std::map<std::string, int64_t> jobs;  // job state ("planned", "queued", ...) -> count
  // Measurements with quality flags (QualityFlags in job.h): how many, and per flag (a
  // measurement with two flags counts under both).
  int64_t flagged = 0;
  std::map<std::string, int64_t> flags;
  // Each flagged measurement once, under the first of its flags in kFlagOrder: what a bar
  // of measurements can stack without counting one twice.
  std::map<std::string, int64_t> first_flag;
};

// One stored measurement seen as work of the agent that made it.
//
// Busy time: measurements.created_ms is when the controller stored the result; the agent
// sends it right after the job's protocol ends (the cool-down included), so the job is taken
// to have occupied its agent during [end_ms - busy_ms, end_ms], where busy_ms is the
// protocol's own duration: the warm-up (the job's warmup_ms), every timed window (the sum of
// the time_s of measurements.repeats_json) and the cool-down (cooldown_ms). Building the
// module, the search for the window's iteration count, the idle baseline (cached per agent)
// and the network are not counted, so busy fractions are a lower bound and the start times
// are late by the result's transit time.
struct Activity {
  int64_t campaign_id = 0;
  std::string agent;         // measurements.agent
  std::string device_class;  // of the job
  int64_t end_ms = 0;        // unix ms
  double busy_ms = 0;
};

struct ReportData {
  std::vector<CampaignSummary> campaigns;  // by id
  std::vector<Activity> activity;          // by end_ms
};

// From the dataset `db` names (an SQLite file or a postgresql:// URI), read-only.
// InvalidArgument naming --db when it is missing or not a wattfleet dataset.
Result<ReportData> LoadReportData(const std::string& db);
// The same from an open reader (one snapshot shared with the rest of the report).
Result<ReportData> LoadReportData(DatasetReader& reader);

}  // namespace wattfleet
