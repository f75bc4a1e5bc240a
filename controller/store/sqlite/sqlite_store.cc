// The embedded SQLite dataset: the Store interface over one WAL-mode file.
//
// Every write method is one IMMEDIATE transaction whose guard rolls back on any early return,
// so a failed write leaves the file exactly as it was.
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "sqlite_store.h"
#include "wattfleet/store/dataset_package.h"
#include "measurement_columns.h"

#include "export_row.h"
#include "wattfleet/store/store.h"
#include "store_values.h"
#include "wattfleet/common/clock.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {

namespace {

using sqlite::Blob;
using sqlite::DbPtr;
using sqlite::Stmt;
using sqlite::Transaction;

std::string JobLabel(int64_t job_id) { return "job " + std::to_string(job_id); }

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(DbPtr db) : db_(std::move(db)) {}

  using Store::CreateCampaign;
  Result<int64_t> CreateCampaign(const Plan& plan, std::vector<int64_t>* job_ids) override;
  Result<PackageImportOutcome> ImportPackage(const DatasetPackage& package) override {
    WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));
    WF_ASSIGN_OR_RETURN(PackageImportOutcome out,
                        sqlite::ImportPackage(db(), cache_, package, Now()));
    if (out.already_imported) return out;  // nothing written: the guard rolls the read back
    WF_RETURN_IF_ERROR(tx.Commit());
    return out;
  }
  Result<std::vector<ActiveJob>> LoadActiveJobs() override;
  Status MarkLeased(int64_t job_id, int32_t attempt, const std::string& agent,
                    int64_t lease_deadline_ms) override;
  Status Requeue(int64_t job_id, int32_t attempt, const std::string& reason) override;
  Result<std::optional<std::string>> LeaseHolder(int64_t job_id, int32_t attempt) override;
  Result<RecordOutcome> RecordResult(const JobResult& result, const std::string& agent) override;
  Status RecordFailure(const JobResult& result, const std::string& agent,
                       std::optional<JobState> final_state) override;
  Result<std::vector<CampaignStatus>> ListCampaigns() override;
  Result<std::vector<QuarantinedJob>> ListQuarantined(int64_t limit) override;
  Status BeginBatch() override {
    if (sqlite3_get_autocommit(db()) == 0) return Status::Internal("a batch is already open");
    WF_ASSIGN_OR_RETURN(Stmt begin, cache_.Get("BEGIN IMMEDIATE"));
    return begin.Run();
  }
  Status CommitBatch() override {
    if (sqlite3_get_autocommit(db()) != 0) return Status::Internal("no batch is open");
    Status s;
    {
      WF_ASSIGN_OR_RETURN(Stmt commit, cache_.Get("COMMIT"));
      s = commit.Run();
    }
    if (!s.ok() && sqlite3_get_autocommit(db()) == 0) (void)sqlite::Exec(db(), "ROLLBACK");
    return s;
  }
  Status FinishCampaign(int64_t campaign_id) override;
  Status CancelCampaign(int64_t campaign_id) override;
  Status UpsertDevice(const DeviceRecord& device) override;
  Result<CampaignSource> GetCampaignSource(int64_t campaign_id) override {
    return sqlite::GetCampaignSource(db(), cache_, campaign_id);
  }
  Result<std::vector<CampaignJob>> ListCampaignJobs(int64_t campaign_id,
                                                    const CampaignJobFilter& filter) override {
    return sqlite::ListCampaignJobs(db(), cache_, campaign_id, filter);
  }
  Result<ActiveJob> AddJob(int64_t campaign_id, const JobSpec& job) override {
    return sqlite::AddJob(db(), cache_, campaign_id, job, Now());
  }

 private:
  // The job's state and attempts, NotFound for an unknown id. Call inside a transaction.
  Result<JobFacts> ReadJob(int64_t job_id);
  // The campaign's state, NotFound for an unknown id.
  Result<CampaignState> ReadCampaignState(int64_t campaign_id);

  sqlite3* db() { return db_.get(); }
  static int64_t Now() { return SystemClock().UnixMillis(); }

  DbPtr db_;
  sqlite::StmtCache cache_{db_.get()};  // after db_: destroyed (finalized) before it closes
};

Result<JobFacts> SqliteStore::ReadJob(int64_t job_id) {
  WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT state, attempts FROM jobs WHERE id = ?"));
  q.BindAll(job_id);
  WF_ASSIGN_OR_RETURN(const bool found, q.Step());
  if (!found) return Status::NotFound("unknown " + JobLabel(job_id));
  const std::string name = q.Text(0);
  const auto state = ParseJobState(name);
  if (!state) return Status::Corruption(JobLabel(job_id) + " has unknown state '" + name + "'");
  return JobFacts{*state, static_cast<int32_t>(q.Int(1))};
}

Result<CampaignState> SqliteStore::ReadCampaignState(int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT state FROM campaigns WHERE id = ?"));
  q.BindAll(campaign_id);
  WF_ASSIGN_OR_RETURN(const bool found, q.Step());
  if (!found) return Status::NotFound("unknown campaign " + std::to_string(campaign_id));
  return ParseCampaignState(campaign_id, q.Text(0));
}

Result<int64_t> SqliteStore::CreateCampaign(const Plan& plan, std::vector<int64_t>* job_ids) {
  const Campaign& c = plan.campaign;
  const int64_t now = Now();
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));

  WF_ASSIGN_OR_RETURN(Stmt ins_campaign,
                      cache_.Get("INSERT INTO campaigns(name, state, mode, dtype, batch, "
                                    "source_path, yaml, created_ms) "
                                    "VALUES(?, 'running', ?, ?, ?, ?, ?, ?)"));
  ins_campaign.BindAll(c.name, ModeName(c.mode), DTypeName(c.dtype), c.batch_size,
                       c.source_path, c.source_text, now);
  WF_RETURN_IF_ERROR(ins_campaign.Run().WithContext("campaign '" + c.name + "'"));
  const int64_t campaign_id = sqlite3_last_insert_rowid(db());

  std::map<std::string, int64_t> arch_ids;
  WF_ASSIGN_OR_RETURN(Stmt ins_arch,
                      cache_.Get("INSERT INTO architectures(campaign_id, name, family, "
                                    "input_shape, output_shape, macs, flops, params, layers) "
                                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const Architecture& a : c.architectures) {
    const LayerFeatures totals = a.Totals();
    ins_arch.Reset();
    ins_arch.BindAll(campaign_id, a.name, a.family, ShapeToString(a.input_shape),
                     ShapeToString(a.OutputShape()), totals.macs, totals.flops, totals.params,
                     static_cast<int64_t>(a.nodes.size()));
    WF_RETURN_IF_ERROR(ins_arch.Run().WithContext("architecture '" + a.name + "'"));
    arch_ids[a.name] = sqlite3_last_insert_rowid(db());
  }

  // Layers are shared across campaigns: a key already stored keeps its row (same key means
  // same layer, hence the same features).
  WF_ASSIGN_OR_RETURN(Stmt ins_layer,
                      cache_.Get("INSERT OR IGNORE INTO layers(key, type, params_json, "
                                    "input_shape, output_shape, macs, flops, params, "
                                    "input_elements, output_elements) "
                                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const PlannedLayer& l : plan.layers) {
    const LayerFeatures& f = l.features;
    ins_layer.Reset();
    ins_layer.BindAll(l.key, LayerTypeName(l.spec.type), ParamsJson(l.spec.params),
                      ShapeToString(l.spec.input_shape), ShapeToString(f.output_shape), f.macs,
                      f.flops, f.params, f.input_elements, f.output_elements);
    WF_RETURN_IF_ERROR(ins_layer.Run().WithContext("layer " + l.key));
  }

  WF_ASSIGN_OR_RETURN(Stmt ins_ref,
                      cache_.Get("INSERT INTO arch_layers(architecture_id, position, "
                                    "node_name, layer_key) VALUES(?, ?, ?, ?)"));
  for (const ArchLayerRef& r : plan.arch_layers) {
    const auto it = arch_ids.find(r.architecture);
    if (it == arch_ids.end())
      return Status::InvalidArgument("plan references unknown architecture '" +
                                     r.architecture + "'");
    ins_ref.Reset();
    ins_ref.BindAll(it->second, r.position, r.node_name, r.layer_key);
    WF_RETURN_IF_ERROR(ins_ref.Run().WithContext("node '" + r.node_name + "' of '" +
                                                 r.architecture + "'"));
  }

  // Jobs added while the campaign runs (active profiling) go through the same InsertJob.
  std::vector<int64_t> ids;
  ids.reserve(plan.jobs.size());
  for (const JobSpec& job : plan.jobs) {
    int64_t job_id = 0;
    WF_RETURN_IF_ERROR(sqlite::InsertJob(db(), cache_, campaign_id, job, now, &job_id));
    ids.push_back(job_id);
  }

  WF_RETURN_IF_ERROR(tx.Commit());
  if (job_ids != nullptr) *job_ids = std::move(ids);
  return campaign_id;
}

Result<std::vector<ActiveJob>> SqliteStore::LoadActiveJobs() {
  WF_ASSIGN_OR_RETURN(
      Stmt q, cache_.Get("SELECT j.id, j.campaign_id, j.state, j.attempts, j.agent, "
                            "j.lease_deadline_ms, j.spec FROM jobs j "
                            "JOIN campaigns c ON c.id = j.campaign_id "
                            "WHERE c.state = 'running' AND j.state IN ('queued', 'leased') "
                            "ORDER BY j.id"));
  std::vector<ActiveJob> jobs;
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    const int64_t id = q.Int(0);
    const std::string blob = q.BlobAt(6);
    auto spec = DecodeJob(blob);
    if (!spec.ok()) return spec.status().WithContext("stored spec of " + JobLabel(id));
    ActiveJob job;
    job.spec = std::move(spec).value();
    // The columns are authoritative: the BLOB was encoded before any dispatch.
    job.spec.job_id = id;
    job.spec.campaign_id = q.Int(1);
    job.spec.attempt = static_cast<int32_t>(q.Int(3));
    job.state = q.Text(2) == "leased" ? JobState::kLeased : JobState::kQueued;
    job.agent = q.Text(4);
    job.lease_deadline_ms = q.IsNull(5) ? 0 : q.Int(5);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Status SqliteStore::MarkLeased(int64_t job_id, int32_t attempt, const std::string& agent,
                               int64_t lease_deadline_ms) {
  // The lease and its holder's row go together (a savepoint inside a batch); the state is read
  // back only to explain a refusal.
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));
  const int64_t now = Now();
  {
    WF_ASSIGN_OR_RETURN(Stmt u, cache_.Get("UPDATE jobs SET state = 'leased', attempts = ?, "
                                           "agent = ?, lease_deadline_ms = ?, updated_ms = ? "
                                           "WHERE id = ? AND state = 'queued' AND attempts <= ?"));
    u.BindAll(attempt, agent, lease_deadline_ms, now, job_id, attempt);
    WF_RETURN_IF_ERROR(u.Run());
  }
  if (sqlite3_changes(db()) == 1) {
    // An attempt requeued without being spent is leased again under its number: the last
    // holder is the one that may answer.
    WF_ASSIGN_OR_RETURN(Stmt ins, cache_.Get("INSERT OR REPLACE INTO leases(job_id, attempt, "
                                             "agent, leased_ms) VALUES(?, ?, ?, ?)"));
    ins.BindAll(job_id, attempt, agent, now);
    WF_RETURN_IF_ERROR(ins.Run());
    return tx.Commit();
  }
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(job_id));
  return LeaseRefused(job_id, attempt, job);
}

Result<std::optional<std::string>> SqliteStore::LeaseHolder(int64_t job_id, int32_t attempt) {
  WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT agent FROM leases WHERE job_id = ? AND "
                                         "attempt = ?"));
  q.BindAll(job_id, attempt);
  WF_ASSIGN_OR_RETURN(const bool found, q.Step());
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(q.Text(0));
}

Status SqliteStore::Requeue(int64_t job_id, int32_t attempt, const std::string& reason) {
  // Only the lease of `attempt` goes back. Anything else means the dispatcher's view is stale:
  // the result (or a final failure, or a cancel) was stored between its lease check and this
  // call, or another controller on the same dataset leased the job again. Requeueing then
  // would measure a finished job twice, or take the job from under its new holder.
  {
    WF_ASSIGN_OR_RETURN(Stmt u, cache_.Get("UPDATE jobs SET state = 'queued', agent = NULL, "
                                           "lease_deadline_ms = NULL, last_error = ?, "
                                           "updated_ms = ? WHERE id = ? AND state = 'leased' "
                                           "AND attempts = ?"));
    u.BindAll(reason, Now(), job_id, attempt);
    WF_RETURN_IF_ERROR(u.Run());
  }
  if (sqlite3_changes(db()) == 1) return Status::OK();
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(job_id));  // NotFound for an unknown id
  return RequeueRefused(job_id, attempt, job);
}

Result<RecordOutcome> SqliteStore::RecordResult(const JobResult& result,
                                                const std::string& agent) {
  const Measurement& m = result.measurement;
  const std::string payload = Encode(m);
  const std::string hash = PayloadHash(payload);

  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(result.job_id));

  // At most one measurement per job (unique index), so one lookup decides the outcome.
  WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT attempt, payload_hash FROM measurements "
                                            "WHERE job_id = ?"));
  q.BindAll(result.job_id);
  WF_ASSIGN_OR_RETURN(const bool stored, q.Step());
  const int64_t stored_attempt = stored ? q.Int(0) : 0;
  const std::string stored_hash = stored ? q.Text(1) : std::string();
  q.Reset();  // no statement may be left mid-step when the transaction commits
  // Read-only outcomes return without committing; the guard's rollback ends the read.
  WF_ASSIGN_OR_RETURN(
      const RecordOutcome outcome,
      OutcomeOfResult(result.job_id, job,
                      stored ? std::optional<StoredResult>(StoredResult{
                                   static_cast<int32_t>(stored_attempt), stored_hash})
                             : std::nullopt,
                      result.attempt, hash));
  if (outcome != RecordOutcome::kStored) return outcome;
  // The statement text from the one list of measurement columns (measurement_columns.h).
  static const std::string kInsert = [] {
    const size_t n = measurement_columns::Columns().size();
    std::string marks;
    for (size_t i = 0; i < n; ++i) marks += ", ?";
    return "INSERT INTO measurements(job_id, attempt, agent, payload_hash, created_ms, " +
           measurement_columns::List() + ") VALUES(?, ?, ?, ?, ?" + marks + ")";
  }();
  WF_ASSIGN_OR_RETURN(Stmt ins, cache_.Get(kInsert));
  const int64_t now = Now();
  ins.BindAll(result.job_id, result.attempt, agent, hash, now);
  int index = 6;
  measurement_columns::BindValues(m, [&](const auto& x) { ins.Bind(index++, x); });
  WF_RETURN_IF_ERROR(ins.Run().WithContext("measurement of " + JobLabel(result.job_id)));

  WF_ASSIGN_OR_RETURN(Stmt u, cache_.Get("UPDATE jobs SET state = 'done', agent = ?, "
                                            "lease_deadline_ms = NULL, updated_ms = ? "
                                            "WHERE id = ?"));
  u.BindAll(agent, now, result.job_id);
  WF_RETURN_IF_ERROR(u.Run());
  WF_RETURN_IF_ERROR(tx.Commit());
  return RecordOutcome::kStored;
}

Status SqliteStore::RecordFailure(const JobResult& result, const std::string& agent,
                                  std::optional<JobState> final_state) {
  // Checked before the transaction: a bad request writes nothing.
  WF_RETURN_IF_ERROR(CheckFailureState(final_state));
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(result.job_id));
  WF_ASSIGN_OR_RETURN(const std::optional<JobState> to,
                      StateAfterFailure(job, result.attempt, final_state));
  if (!to) return Status::OK();  // a stale attempt must not undo the newer state

  const std::string error = std::string(OutcomeName(result.outcome)) + ": " + result.error;
  const std::string next(JobStateName(*to));
  WF_ASSIGN_OR_RETURN(Stmt u, cache_.Get("UPDATE jobs SET state = ?, agent = ?, "
                                            "lease_deadline_ms = NULL, last_error = ?, "
                                            "updated_ms = ? WHERE id = ?"));
  u.BindAll(next, agent, error, Now(), result.job_id);
  WF_RETURN_IF_ERROR(u.Run());
  return tx.Commit();
}

Result<std::vector<QuarantinedJob>> SqliteStore::ListQuarantined(int64_t limit) {
  std::vector<QuarantinedJob> out;
  WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT id, campaign_id, kind, subject, attempts, "
                                            "COALESCE(last_error, '') FROM jobs "
                                            "WHERE state = 'quarantined' ORDER BY id LIMIT ?"));
  q.BindAll(limit);
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    out.push_back(QuarantinedJob{q.Int(0), q.Int(1), q.Text(2), q.Text(3),
                                 static_cast<int32_t>(q.Int(4)), q.Text(5)});
  }
  return out;
}

Result<std::vector<CampaignStatus>> SqliteStore::ListCampaigns() {
  std::vector<CampaignStatus> out;
  std::map<int64_t, size_t> index;
  WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT id, name, state, created_ms FROM campaigns "
                                            "ORDER BY id"));
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    CampaignStatus c;
    c.id = q.Int(0);
    c.name = q.Text(1);
    c.state = q.Text(2);
    c.created_ms = q.Int(3);
    index[c.id] = out.size();
    out.push_back(std::move(c));
  }
  WF_ASSIGN_OR_RETURN(Stmt counts, cache_.Get("SELECT campaign_id, state, COUNT(*) FROM jobs "
                                                 "GROUP BY campaign_id, state"));
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, counts.Step());
    if (!row) break;
    const auto it = index.find(counts.Int(0));
    if (it != index.end()) out[it->second].jobs[counts.Text(1)] = counts.Int(2);
  }
  WF_ASSIGN_OR_RETURN(Stmt flagged, cache_.Get(kFlaggedCountsSql));
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, flagged.Step());
    if (!row) break;
    const auto it = index.find(flagged.Int(0));
    if (it != index.end()) AddFlagged(flagged.Text(1), flagged.Int(2), &out[it->second]);
  }
  return out;
}

Status SqliteStore::FinishCampaign(int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));
  WF_ASSIGN_OR_RETURN(const CampaignState state, ReadCampaignState(campaign_id));
  WF_ASSIGN_OR_RETURN(const bool finish, MayFinish(campaign_id, state));
  if (!finish) return Status::OK();
  WF_ASSIGN_OR_RETURN(Stmt open, cache_.Get("SELECT COUNT(*) FROM jobs WHERE campaign_id = ? "
                                               "AND state IN ('planned', 'queued', 'leased')"));
  open.BindAll(campaign_id);
  WF_ASSIGN_OR_RETURN(const bool row, open.Step());
  const int64_t unfinished = row ? open.Int(0) : 0;
  open.Reset();
  WF_RETURN_IF_ERROR(CheckNothingUnfinished(campaign_id, unfinished));
  WF_ASSIGN_OR_RETURN(Stmt u, cache_.Get("UPDATE campaigns SET state = 'done', "
                                            "finished_ms = ? WHERE id = ?"));
  u.BindAll(Now(), campaign_id);
  WF_RETURN_IF_ERROR(u.Run());
  return tx.Commit();
}

Status SqliteStore::CancelCampaign(int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));
  WF_ASSIGN_OR_RETURN(const CampaignState state, ReadCampaignState(campaign_id));
  if (!MayCancel(state)) return Status::OK();
  const int64_t now = Now();
  WF_ASSIGN_OR_RETURN(Stmt jobs, cache_.Get("UPDATE jobs SET state = 'cancelled', "
                                               "lease_deadline_ms = NULL, updated_ms = ? "
                                               "WHERE campaign_id = ? AND state IN ('planned', "
                                               "'queued', 'leased')"));
  jobs.BindAll(now, campaign_id);
  WF_RETURN_IF_ERROR(jobs.Run());
  WF_ASSIGN_OR_RETURN(Stmt u, cache_.Get("UPDATE campaigns SET state = 'cancelled', "
                                            "finished_ms = ? WHERE id = ?"));
  u.BindAll(now, campaign_id);
  WF_RETURN_IF_ERROR(u.Run());
  return tx.Commit();
}

Status SqliteStore::UpsertDevice(const DeviceRecord& device) {
  if (device.name.empty()) return Status::InvalidArgument("device name is empty");
  const int64_t now = Now();
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db(), &cache_));
  WF_ASSIGN_OR_RETURN(
      Stmt u, cache_.Get("INSERT INTO devices(name, class, capabilities_json, first_seen_ms, "
                            "last_seen_ms) VALUES(?, ?, ?, ?, ?) "
                            "ON CONFLICT(name) DO UPDATE SET class = excluded.class, "
                            "capabilities_json = excluded.capabilities_json, "
                            "last_seen_ms = excluded.last_seen_ms"));
  u.BindAll(device.name, device.device_class, device.capabilities_json, now, now);
  WF_RETURN_IF_ERROR(u.Run());
  return tx.Commit();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const StoreOpenOptions& options) {
  // A new dataset goes into a folder that exists: a typo in it is the user's to fix, not a
  // folder to create (SQLite would only say "unable to open database file").
  if (options.create_if_missing) WF_RETURN_IF_ERROR(sqlite::RequireParentFolder(path));
  const int flags = SQLITE_OPEN_READWRITE | (options.create_if_missing ? SQLITE_OPEN_CREATE : 0);
  WF_ASSIGN_OR_RETURN(DbPtr db, sqlite::OpenDatasetFile(path, flags, options.create_if_missing));
  if (!options.create_if_missing) WF_RETURN_IF_ERROR(sqlite::RequireSchema(db.get(), path));
  WF_RETURN_IF_ERROR(sqlite::PrepareForWrites(db.get()).WithContext(path));
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(db)));
}

}  // namespace wattfleet
