// The PostgreSQL store's queries over one campaign's jobs: inserting jobs (at planning time
// and while the campaign runs, for active profiling), listing a campaign's jobs with their
// measurements, and reading back the campaign's stored YAML.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "pg_store.h"
#include "wattfleet/store/store.h"
#include "store_values.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace pg {

Result<std::vector<int64_t>> InsertJobs(PGconn* conn, int64_t campaign_id,
                                        const std::vector<JobSpec>& jobs, int64_t now_ms) {
  std::vector<int64_t> ids;
  if (jobs.empty()) return ids;
  // The spec BYTEA must carry the job's own id: the ids are taken from the sequence first (one
  // round trip for all of them), then every row is written whole. Sorted, so that job ids
  // follow the plan's order as they do in SQLite (other controllers may take ids in between).
  WF_ASSIGN_OR_RETURN(const Rows reserved,
                      Exec(conn,
                           "SELECT nextval(pg_get_serial_sequence('jobs', 'id')) "
                           "FROM generate_series(1, $1::bigint)",
                           Params::Of(static_cast<int64_t>(jobs.size()))));
  if (reserved.size() != static_cast<int>(jobs.size())) {
    return Status::Internal("postgresql: the job id sequence returned " +
                            std::to_string(reserved.size()) + " ids for " +
                            std::to_string(jobs.size()) + " jobs");
  }
  for (int i = 0; i < reserved.size(); ++i) ids.push_back(reserved.Int(i, 0));
  std::sort(ids.begin(), ids.end());

  std::vector<Params> rows;
  rows.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobSpec& job = jobs[i];
    JobSpec stored = job;
    stored.job_id = ids[i];
    stored.campaign_id = campaign_id;
    stored.attempt = 0;
    const std::string encoded = Encode(stored);
    rows.push_back(Params::Of(ids[i], campaign_id, JobKindName(job.kind), job.device_class,
                              job.subject, ModeName(job.mode), DTypeName(job.dtype), job.batch,
                              Bytes{encoded}, now_ms));
  }
  WF_RETURN_IF_ERROR(InsertRows(conn,
                                "INSERT INTO jobs(id, campaign_id, kind, device_class, "
                                "subject, mode, dtype, batch, spec, state, attempts, "
                                "updated_ms)",
                                "(?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?)", rows, "",
                                jobs.size() == 1 ? "job for '" + jobs[0].subject + "'"
                                                 : "jobs of campaign " +
                                                       std::to_string(campaign_id)));
  return ids;
}

Result<Rows> CampaignRow(PGconn* conn, int64_t campaign_id, const std::string& columns,
                         const std::string& lock) {
  WF_ASSIGN_OR_RETURN(
      Rows q, Exec(conn, "SELECT " + columns + " FROM campaigns WHERE id = $1" + lock,
                   Params::Of(campaign_id)));
  if (q.empty()) return Status::NotFound("unknown campaign " + std::to_string(campaign_id));
  return q;
}

Result<CampaignSource> GetCampaignSource(PGconn* conn, int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(const Rows q,
                      CampaignRow(conn, campaign_id, "name, state, source_path, yaml"));
  return CampaignSource{q.Text(0, 0), q.Text(0, 1), q.Text(0, 2), q.Text(0, 3)};
}

Result<std::vector<CampaignJob>> ListCampaignJobs(PGconn* conn, int64_t campaign_id,
                                                  const CampaignJobFilter& filter) {
  // left() rather than LIKE: a subject may contain LIKE's wildcards.
  WF_ASSIGN_OR_RETURN(
      const Rows q,
      Exec(conn,
           "SELECT j.id, j.state, j.spec, m.id IS NOT NULL, m.energy_per_iter_j, "
           "m.time_per_iter_s, COALESCE(j.last_error, '') FROM jobs j "
           "LEFT JOIN measurements m ON m.job_id = j.id "
           "WHERE j.campaign_id = $1 AND j.kind = $2 "
           "AND ($3::text = '' OR j.device_class = $3::text) "
           "AND left(j.subject, length($4::text)) = $4::text ORDER BY j.id",
           Params::Of(campaign_id, JobKindName(filter.kind), filter.device_class,
                      filter.subject_prefix)));
  std::vector<CampaignJob> jobs;
  jobs.reserve(static_cast<size_t>(q.size()));
  for (int row = 0; row < q.size(); ++row) {
    const int64_t id = q.Int(row, 0);
    CampaignJob job;
    const std::string state = q.Text(row, 1);
    const std::optional<JobState> parsed = ParseJobState(state);
    if (!parsed) {
      return Status::Corruption("job " + std::to_string(id) + " has unknown state '" + state +
                                "'");
    }
    job.state = *parsed;
    auto spec = DecodeJob(q.BytesAt(row, 2));
    if (!spec.ok()) return spec.status().WithContext("stored spec of job " + std::to_string(id));
    job.spec = std::move(spec).value();
    // The columns are authoritative, as in LoadActiveJobs.
    job.spec.job_id = id;
    job.spec.campaign_id = campaign_id;
    job.measured = q.Bool(row, 3);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    job.energy_per_iter_j = q.IsNull(row, 4) ? nan : q.Double(row, 4);
    job.time_per_iter_s = q.IsNull(row, 5) ? nan : q.Double(row, 5);
    job.last_error = q.Text(row, 6);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Result<ActiveJob> AddJob(PGconn* conn, int64_t campaign_id, const JobSpec& job, int64_t now_ms) {
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn));
  {
    // FOR SHARE: a controller finishing or cancelling the campaign at the same moment waits
    // for this insert (or this one for it), so no job lands in a campaign that has ended.
    WF_ASSIGN_OR_RETURN(const Rows c, CampaignRow(conn, campaign_id, "state", " FOR SHARE"));
    WF_ASSIGN_OR_RETURN(const CampaignState state, ParseCampaignState(campaign_id, c.Text(0, 0)));
    WF_RETURN_IF_ERROR(CheckCampaignTakesJobs(campaign_id, state));
  }
  WF_ASSIGN_OR_RETURN(const std::vector<int64_t> ids, InsertJobs(conn, campaign_id, {job}, now_ms));
  WF_RETURN_IF_ERROR(tx.Commit());
  return NewQueuedJob(job, campaign_id, ids.at(0));
}

}  // namespace pg
}  // namespace wattfleet
