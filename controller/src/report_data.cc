// Three read-only queries: campaigns, their jobs counted by state, and every measurement with
// its job's protocol settings (for the busy time, report_data.h).
#include "report_data.h"


#include <algorithm>

#include <nlohmann/json.hpp>

#include "sqlite_store.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

// Sum of the windows' wall time in a repeats_json array; 0 for anything else.
double WindowsSeconds(const std::string& repeats_json) {
  const auto repeats = nlohmann::json::parse(repeats_json, nullptr, false);
  if (!repeats.is_array()) return 0;
  double s = 0;
  for (const auto& r : repeats) {
    if (!r.is_object()) continue;
    auto t = r.find("time_s");
    if (t != r.end() && t->is_number() && t->get<double>() > 0) s += t->get<double>();
  }
  return s;
}

}  // namespace

Result<ReportData> LoadReportData(const std::string& db_path) {
  WF_ASSIGN_OR_RETURN(sqlite::DbPtr db, sqlite::OpenDatasetReadOnly(db_path));
  auto not_a_dataset = [&](const Status& s) {
    return Status::InvalidArgument("--db " + db_path + ": not a wattfleet dataset (" +
                                   s.message() + ")");
  };
  // One snapshot for all three queries, while a controller may be writing.
  WF_RETURN_IF_ERROR(sqlite::Exec(db.get(), "BEGIN"));
  struct EndRead {
    sqlite3* db;
    ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end_read{db.get()};

  ReportData data;
  {
    auto q = sqlite::Stmt::Prepare(db.get(), "SELECT id, name, state FROM campaigns ORDER BY id");
    if (!q.ok()) return not_a_dataset(q.status());
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) break;
      CampaignSummary c;
      c.id = q->Int(0);
      c.name = q->Text(1);
      c.state = q->Text(2);
      data.campaigns.push_back(std::move(c));
    }
  }
  {
    auto q = sqlite::Stmt::Prepare(
        db.get(), "SELECT campaign_id, state, COUNT(*) FROM jobs GROUP BY campaign_id, state");
    if (!q.ok()) return not_a_dataset(q.status());
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) break;
      const int64_t id = q->Int(0);
      auto it = std::find_if(data.campaigns.begin(), data.campaigns.end(),
                             [&](const CampaignSummary& c) { return c.id == id; });
      if (it != data.campaigns.end()) it->jobs[q->Text(1)] = q->Int(2);
    }
  }
  {
    auto q = sqlite::Stmt::Prepare(
        db.get(),
        "SELECT j.campaign_id, m.agent, j.device_class, m.created_ms, m.repeats_json, j.spec, "
        "m.payload FROM measurements m JOIN jobs j ON j.id = m.job_id "
        "ORDER BY m.created_ms, m.id");
    if (!q.ok()) return not_a_dataset(q.status());
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) break;
      Activity a;
      a.campaign_id = q->Int(0);
      a.agent = q->Text(1);
      a.device_class = q->Text(2);
      a.end_ms = q->Int(3);
      a.busy_ms = 1000 * WindowsSeconds(q->Text(4));
      // A spec this build cannot decode (a newer version's) leaves the windows alone.
      if (Result<JobSpec> spec = DecodeJob(q->BlobAt(5)); spec.ok()) {
        a.busy_ms += static_cast<double>(std::max<int64_t>(0, spec->settings.warmup_ms) +
                                         std::max<int64_t>(0, spec->settings.cooldown_ms));
      }
      // What the protocol doubts, per campaign (a payload this build cannot decode: none).
      if (Result<Measurement> m = DecodeMeasurement(q->BlobAt(6)); m.ok()) {
        const std::vector<std::string> flags = QualityFlags(*m);
        auto c = std::find_if(data.campaigns.begin(), data.campaigns.end(),
                              [&](const CampaignSummary& x) { return x.id == a.campaign_id; });
        if (!flags.empty() && c != data.campaigns.end()) {
          ++c->flagged;
          for (const std::string& f : flags) ++c->flags[f];
        }
      }
      data.activity.push_back(std::move(a));
    }
  }
  return data;
}

}  // namespace wattfleet
