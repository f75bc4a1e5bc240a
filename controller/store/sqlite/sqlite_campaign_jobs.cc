// The SQLite store's queries over one campaign's jobs: inserting a job (at planning time and
// while the campaign runs, for active profiling), listing a campaign's jobs with their
// measurements, and reading back the campaign's stored YAML.
#include <cmath>
#include <limits>
#include <string>

#include "sqlite_store.h"
#include "wattfleet/store/store.h"
#include "store_values.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace sqlite {

Status InsertJob(sqlite3* db, StmtCache& cache, int64_t campaign_id, const JobSpec& job,
                 int64_t now_ms, int64_t* job_id) {
  // The spec BLOB must carry the job's own id, known only after the insert: insert with an
  // empty BLOB, then store the encoding (both inside the caller's transaction).
  {
    WF_ASSIGN_OR_RETURN(Stmt ins, cache.Get("INSERT INTO jobs(campaign_id, kind, device_class, "
                                            "subject, mode, dtype, batch, spec, state, attempts, "
                                            "updated_ms) "
                                            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?)"));
    ins.BindAll(campaign_id, JobKindName(job.kind), job.device_class, job.subject,
                ModeName(job.mode), DTypeName(job.dtype), job.batch, Blob{}, now_ms);
    WF_RETURN_IF_ERROR(ins.Run().WithContext("job for '" + job.subject + "'"));
  }
  JobSpec stored = job;
  stored.job_id = sqlite3_last_insert_rowid(db);
  stored.campaign_id = campaign_id;
  stored.attempt = 0;
  const std::string encoded = Encode(stored);
  WF_ASSIGN_OR_RETURN(Stmt set_spec, cache.Get("UPDATE jobs SET spec = ? WHERE id = ?"));
  set_spec.BindAll(Blob{encoded}, stored.job_id);
  WF_RETURN_IF_ERROR(set_spec.Run());
  *job_id = stored.job_id;
  return Status::OK();
}

Result<CampaignSource> GetCampaignSource(sqlite3* /*db*/, StmtCache& cache,
                                         int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(Stmt q, cache.Get("SELECT name, state, source_path, yaml FROM campaigns "
                                        "WHERE id = ?"));
  q.BindAll(campaign_id);
  WF_ASSIGN_OR_RETURN(const bool found, q.Step());
  if (!found) return Status::NotFound("unknown campaign " + std::to_string(campaign_id));
  return CampaignSource{q.Text(0), q.Text(1), q.Text(2), q.Text(3)};
}

Result<std::vector<CampaignJob>> ListCampaignJobs(sqlite3* /*db*/, StmtCache& cache,
                                                  int64_t campaign_id,
                                                  const CampaignJobFilter& filter) {
  // substr rather than LIKE: a subject may contain LIKE's wildcards.
  WF_ASSIGN_OR_RETURN(
      Stmt q, cache.Get("SELECT j.id, j.state, j.spec, m.id IS NOT NULL, m.energy_per_iter_j, "
                        "m.time_per_iter_s, COALESCE(j.last_error, '') FROM jobs j "
                        "LEFT JOIN measurements m ON m.job_id = j.id "
                        "WHERE j.campaign_id = ?1 AND j.kind = ?2 "
                        "AND (?3 = '' OR j.device_class = ?3) "
                        "AND substr(j.subject, 1, length(?4)) = ?4 ORDER BY j.id"));
  q.BindAll(campaign_id, JobKindName(filter.kind), filter.device_class, filter.subject_prefix);
  std::vector<CampaignJob> jobs;
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    const int64_t id = q.Int(0);
    CampaignJob job;
    const std::string state = q.Text(1);
    const std::optional<JobState> parsed = ParseJobState(state);
    if (!parsed) {
      return Status::Corruption("job " + std::to_string(id) + " has unknown state '" + state +
                                "'");
    }
    job.state = *parsed;
    auto spec = DecodeJob(q.BlobAt(2));
    if (!spec.ok()) return spec.status().WithContext("stored spec of job " + std::to_string(id));
    job.spec = std::move(spec).value();
    // The columns are authoritative, as in LoadActiveJobs.
    job.spec.job_id = id;
    job.spec.campaign_id = campaign_id;
    job.measured = q.Int(3) != 0;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    job.energy_per_iter_j = q.IsNull(4) ? nan : q.Double(4);
    job.time_per_iter_s = q.IsNull(5) ? nan : q.Double(5);
    job.last_error = q.Text(6);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Result<ActiveJob> AddJob(sqlite3* db, StmtCache& cache, int64_t campaign_id, const JobSpec& job,
                         int64_t now_ms) {
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db, &cache));
  {
    WF_ASSIGN_OR_RETURN(CampaignSource c, GetCampaignSource(db, cache, campaign_id));
    WF_ASSIGN_OR_RETURN(const CampaignState state, ParseCampaignState(campaign_id, c.state));
    WF_RETURN_IF_ERROR(CheckCampaignTakesJobs(campaign_id, state));
  }
  int64_t id = 0;
  WF_RETURN_IF_ERROR(InsertJob(db, cache, campaign_id, job, now_ms, &id));
  WF_RETURN_IF_ERROR(tx.Commit());
  return NewQueuedJob(job, campaign_id, id);
}

}  // namespace sqlite
}  // namespace wattfleet
