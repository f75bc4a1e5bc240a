// What the report shows of a dataset (report_data.h), from its records (DatasetReader, either
// backend): campaigns with their jobs by state, and every measurement with its job's protocol
// settings (for the busy time).
#include "report_data.h"


#include <algorithm>

#include <nlohmann/json.hpp>

#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

// Sum of the windows' wall time.
double WindowsSeconds(const std::vector<Repeat>& repeats) {
  double total = 0;
  for (const Repeat& w : repeats) {
    if (w.time_s > 0) total += w.time_s;
  }
  return total;
}

}  // namespace

Result<ReportData> LoadReportData(const std::string& db) {
  WF_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, OpenDatasetReader(db));
  return LoadReportData(*reader);
}

Result<ReportData> LoadReportData(DatasetReader& reader) {
  ReportData data;
  WF_ASSIGN_OR_RETURN(const std::vector<CampaignRecord> campaigns, reader.Campaigns());
  for (const CampaignRecord& r : campaigns) {
    CampaignSummary c;
    c.id = r.id;
    c.name = r.name;
    c.state = r.state;
    c.jobs = r.jobs;
    data.campaigns.push_back(std::move(c));
  }
  // Measurements by the time they were stored.
  std::vector<Activity> activity;
  WF_RETURN_IF_ERROR(reader.ForEachMeasurement([&](const MeasurementRecord& r) -> Status {
    Activity a;
    a.campaign_id = r.campaign_id;
    a.agent = r.agent;
    a.device_class = r.device_class;
    a.end_ms = r.created_ms;
    // Windows that cannot be read back count as none.
    const Result<std::vector<Repeat>> windows = RepeatsOf(r);
    a.busy_ms = windows.ok() ? 1000 * WindowsSeconds(*windows) : 0.0;
    // A spec this build cannot decode (a newer version's) leaves the windows alone.
    if (Result<JobSpec> spec = DecodeJob(r.spec); spec.ok()) {
      a.busy_ms += static_cast<double>(std::max<int64_t>(0, spec->settings.warmup_ms) +
                                       std::max<int64_t>(0, spec->settings.cooldown_ms));
    }
    // What the protocol doubts, per campaign.
    {
      const std::vector<std::string> flags = QualityFlags(r.m);
      auto c = std::find_if(data.campaigns.begin(), data.campaigns.end(),
                            [&](const CampaignSummary& x) { return x.id == a.campaign_id; });
      if (!flags.empty() && c != data.campaigns.end()) {
        ++c->flagged;
        for (const std::string& f : flags) ++c->flags[f];
        std::string first = flags.front();  // a flag this build does not rank: its own
        for (const char* f : kFlagOrder) {
          if (std::find(flags.begin(), flags.end(), f) != flags.end()) {
            first = f;
            break;
          }
        }
        ++c->first_flag[first];
      }
    }
    activity.push_back(std::move(a));
    return Status::OK();
  }));
  // The scan is in storage order; the activity plot reads them by time (ties by storage).
  std::stable_sort(activity.begin(), activity.end(),
                   [](const Activity& x, const Activity& y) { return x.end_ms < y.end_ms; });
  data.activity = std::move(activity);
  return data;
}

}  // namespace wattfleet
