// The shared PostgreSQL dataset: the Store interface over one libpq connection, for labs whose
// controllers share one dataset.
//
// The semantics are the SQLite store's, method for method; what differs is that other
// controllers write to the same tables at the same time. Every write is one transaction (a
// savepoint inside a batch) and every decision that depends on a row's state either is one
// conditional statement (MarkLeased, Requeue) or locks the row first (SELECT ... FOR NO KEY
// UPDATE), so that two controllers never both act on the same state:
// - a job is leased by one controller only, and requeued only by the controller holding its
//   current lease (pg_jobs.cc);
// - a job keeps one measurement (its row is locked while the result is decided, and
//   UNIQUE(job_id) backs that up);
// - a layer key is one row (INSERT ... ON CONFLICT DO NOTHING, in key order so that two
//   campaigns created at once cannot deadlock);
// - a campaign is finished by whichever controller ends its last job (the campaign row is
//   locked while its open jobs are counted), and a cancelled one gains no job afterwards (its
//   row is locked before its jobs are cancelled).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "pg_store.h"
#include "wattfleet/store/dataset_package.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/store_open.h"
#include "store_values.h"
#include "wattfleet/common/clock.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {

namespace {

using pg::Exec;
using pg::Params;
using pg::Rows;
using pg::Transaction;

std::string JobLabel(int64_t job_id) { return "job " + std::to_string(job_id); }

// While the server is unreachable, at most one reconnect attempt per this many seconds: an
// attempt can block for the whole connect_timeout, and a loop pass makes many store calls.
constexpr double kReconnectIntervalS = 2;

class PgStore final : public Store {
 public:
  PgStore(pg::ConnPtr conn, std::string label) : conn_(std::move(conn)), label_(std::move(label)) {}

  using Store::CreateCampaign;
  Result<int64_t> CreateCampaign(const Plan& plan, std::vector<int64_t>* job_ids) override;
  Result<PackageImportOutcome> ImportPackage(const DatasetPackage& package) override {
    const int64_t now = Now();
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
    WF_ASSIGN_OR_RETURN(PackageImportOutcome out, pg::ImportPackage(c, package, now));
    if (out.already_imported) return out;
    WF_RETURN_IF_ERROR(tx.Commit());
    return out;
  }
  Result<std::vector<ActiveJob>> LoadActiveJobs() override;
  Status MarkLeased(int64_t job_id, int32_t attempt, const std::string& agent,
                    int64_t lease_deadline_ms) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    return pg::MarkLeased(c, job_id, attempt, agent, lease_deadline_ms, Now());
  }
  Status Requeue(int64_t job_id, int32_t attempt, const std::string& reason) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    return pg::Requeue(c, job_id, attempt, reason, Now());
  }
  Result<std::optional<std::string>> LeaseHolder(int64_t job_id, int32_t attempt) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    WF_ASSIGN_OR_RETURN(const pg::Rows r,
                        pg::Exec(c, "SELECT agent FROM leases WHERE job_id = $1 AND attempt = $2",
                                 pg::Params::Of(job_id, attempt)));
    if (r.size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.Text(0, 0));
  }
  Result<RecordOutcome> RecordResult(const JobResult& result, const std::string& agent) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    return pg::RecordResult(c, result, agent, Now());
  }
  Status RecordFailure(const JobResult& result, const std::string& agent,
                       std::optional<JobState> final_state) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    return pg::RecordFailure(c, result, agent, final_state, Now());
  }
  Result<std::vector<CampaignStatus>> ListCampaigns() override;
  Result<std::vector<QuarantinedJob>> ListQuarantined(int64_t limit) override;
  Status BeginBatch() override;
  Status CommitBatch() override;
  Status FinishCampaign(int64_t campaign_id) override;
  Status CancelCampaign(int64_t campaign_id) override;
  Status UpsertDevice(const DeviceRecord& device) override;
  // Reads run in a transaction too: inside a batch (active profiling reads while the
  // dispatcher's pass is open) a failed statement must spoil its savepoint only.
  Result<CampaignSource> GetCampaignSource(int64_t campaign_id) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
    WF_ASSIGN_OR_RETURN(CampaignSource source, pg::GetCampaignSource(c, campaign_id));
    WF_RETURN_IF_ERROR(tx.Commit());
    return source;
  }
  Result<std::vector<CampaignJob>> ListCampaignJobs(int64_t campaign_id,
                                                    const CampaignJobFilter& filter) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
    WF_ASSIGN_OR_RETURN(std::vector<CampaignJob> jobs,
                        pg::ListCampaignJobs(c, campaign_id, filter));
    WF_RETURN_IF_ERROR(tx.Commit());
    return jobs;
  }
  Result<ActiveJob> AddJob(int64_t campaign_id, const JobSpec& job) override {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    return pg::AddJob(c, campaign_id, job, Now());
  }

 private:
  // The connection, re-established when it was lost between transactions. Inside a batch a
  // lost connection is not replaced: the batch's writes are gone, and only CommitBatch's
  // failure may say so (the dispatcher then reloads from the store). After a failed reconnect
  // the next attempt waits kReconnectIntervalS; calls in between fail at once (Unavailable).
  Result<PGconn*> Conn();
  // One CancelCampaign transaction.
  Status CancelOnce(PGconn* c, int64_t campaign_id);
  // Refuses arch_layers rows whose architecture or layer the plan does not define (SQLite's
  // foreign keys report these; here they are checked before the multi-row insert, which could
  // not name the node).
  Status CheckArchLayers(PGconn* c, const Plan& plan,
                         const std::map<std::string, int64_t>& arch_ids);

  static int64_t Now() { return SystemClock().UnixMillis(); }

  pg::ConnPtr conn_;
  std::string label_;
  bool batch_open_ = false;
  // The end of the last failed reconnect attempt, and why it failed; unset while connected.
  std::optional<std::chrono::steady_clock::time_point> reconnect_failed_at_;
  std::string reconnect_error_;
};

Result<PGconn*> PgStore::Conn() {
  PGconn* c = conn_.get();
  if (PQstatus(c) == CONNECTION_OK) return c;
  if (batch_open_) {
    return Status::Unavailable("postgresql: " + label_ + ": the connection was lost in a batch");
  }
  using Steady = std::chrono::steady_clock;
  if (reconnect_failed_at_) {
    const double since =
        std::chrono::duration<double>(Steady::now() - *reconnect_failed_at_).count();
    if (since < kReconnectIntervalS) {
      char due[32];
      std::snprintf(due, sizeof(due), "%.1f s", kReconnectIntervalS - since);
      return Status::Unavailable("postgresql: " + label_ + ": connection lost (" +
                                 reconnect_error_ + "); next reconnect attempt in " + due);
    }
  }
  PQreset(c);
  if (PQstatus(c) != CONNECTION_OK) {
    reconnect_failed_at_ = Steady::now();
    reconnect_error_ = PQerrorMessage(c);
    while (!reconnect_error_.empty() &&
           (reconnect_error_.back() == '\n' || reconnect_error_.back() == ' ')) {
      reconnect_error_.pop_back();
    }
    return Status::Unavailable("postgresql: " + label_ + ": connection lost: " +
                               reconnect_error_);
  }
  reconnect_failed_at_.reset();
  spdlog::warn("store: reconnected to {}", label_);
  return c;
}

Status PgStore::BeginBatch() {
  if (batch_open_) return Status::Internal("a batch is already open");
  WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
  WF_RETURN_IF_ERROR(Exec(c, "BEGIN").status());
  batch_open_ = true;
  return Status::OK();
}

Status PgStore::CommitBatch() {
  if (!batch_open_) return Status::Internal("no batch is open");
  batch_open_ = false;
  PGconn* c = conn_.get();
  if (PQstatus(c) != CONNECTION_OK) {
    return Status::Unavailable("postgresql: " + label_ +
                               ": the connection was lost in a batch; nothing of it is stored");
  }
  auto done = Exec(c, "COMMIT");
  if (!done.ok()) {
    if (PQtransactionStatus(c) != PQTRANS_IDLE) (void)Exec(c, "ROLLBACK");
    return done.status();
  }
  // COMMIT of a transaction that had failed "succeeds" by rolling back.
  if (done->Command() != "COMMIT") {
    return Status::Unavailable("postgresql: the batch was rolled back: a statement in it failed");
  }
  return Status::OK();
}

Status PgStore::CheckArchLayers(PGconn* c, const Plan& plan,
                                const std::map<std::string, int64_t>& arch_ids) {
  std::set<std::string> planned;
  for (const PlannedLayer& l : plan.layers) planned.insert(l.key);
  for (const ArchLayerRef& r : plan.arch_layers) {
    if (!arch_ids.count(r.architecture)) {
      return Status::InvalidArgument("plan references unknown architecture '" +
                                     r.architecture + "'");
    }
    if (planned.count(r.layer_key)) continue;
    // Not this plan's: it may still be stored by an earlier campaign.
    WF_ASSIGN_OR_RETURN(const Rows q, Exec(c, "SELECT 1 FROM layers WHERE key = $1",
                                           Params::Of(r.layer_key)));
    if (q.empty()) {
      return Status::InvalidArgument("node '" + r.node_name + "' of '" + r.architecture +
                                     "': layer " + r.layer_key + " is not stored");
    }
    planned.insert(r.layer_key);
  }
  return Status::OK();
}

Result<int64_t> PgStore::CreateCampaign(const Plan& plan, std::vector<int64_t>* job_ids) {
  const Campaign& cp = plan.campaign;
  const int64_t now = Now();
  WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));

  int64_t campaign_id = 0;
  {
    auto ins = Exec(c,
                    "INSERT INTO campaigns(name, state, mode, dtype, batch, source_path, yaml, "
                    "created_ms) VALUES($1, 'running', $2, $3, $4, $5, $6, $7) RETURNING id",
                    Params::Of(cp.name, ModeName(cp.mode), DTypeName(cp.dtype), cp.batch_size,
                               cp.source_path, cp.source_text, now));
    if (!ins.ok()) return ins.status().WithContext("campaign '" + cp.name + "'");
    campaign_id = ins->Int(0, 0);
  }

  std::map<std::string, int64_t> arch_ids;
  for (const Architecture& a : cp.architectures) {
    const LayerFeatures totals = a.Totals();
    auto ins = Exec(c,
                    "INSERT INTO architectures(campaign_id, name, family, input_shape, "
                    "output_shape, macs, flops, params, layers) "
                    "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    Params::Of(campaign_id, a.name, a.family, ShapeToString(a.input_shape),
                               ShapeToString(a.OutputShape()), totals.macs, totals.flops,
                               totals.params, static_cast<int64_t>(a.nodes.size())));
    if (!ins.ok()) return ins.status().WithContext("architecture '" + a.name + "'");
    arch_ids[a.name] = ins->Int(0, 0);
  }

  // Layers are shared across campaigns and controllers: a key already stored keeps its row
  // (same key, same layer). A key another controller inserted but has not committed yet makes
  // this insert wait for that transaction; inserting in key order means two campaigns created
  // at once take those waits in the same order and cannot deadlock.
  std::vector<const PlannedLayer*> layers;
  for (const PlannedLayer& l : plan.layers) layers.push_back(&l);
  std::sort(layers.begin(), layers.end(),
            [](const PlannedLayer* a, const PlannedLayer* b) { return a->key < b->key; });
  std::vector<Params> layer_rows;
  for (const PlannedLayer* l : layers) {
    const LayerFeatures& f = l->features;
    layer_rows.push_back(Params::Of(l->key, LayerTypeName(l->spec.type),
                                    ParamsJson(l->spec.params), ShapeToString(l->spec.input_shape),
                                    ShapeToString(f.output_shape), f.macs, f.flops, f.params,
                                    f.input_elements, f.output_elements));
  }
  WF_RETURN_IF_ERROR(pg::InsertRows(c,
                                    "INSERT INTO layers(key, type, params_json, input_shape, "
                                    "output_shape, macs, flops, params, input_elements, "
                                    "output_elements)",
                                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", layer_rows,
                                    " ON CONFLICT (key) DO NOTHING", "layers"));

  WF_RETURN_IF_ERROR(CheckArchLayers(c, plan, arch_ids));
  std::vector<Params> ref_rows;
  for (const ArchLayerRef& r : plan.arch_layers) {
    ref_rows.push_back(
        Params::Of(arch_ids.at(r.architecture), r.position, r.node_name, r.layer_key));
  }
  WF_RETURN_IF_ERROR(pg::InsertRows(c,
                                    "INSERT INTO arch_layers(architecture_id, position, "
                                    "node_name, layer_key)",
                                    "(?, ?, ?, ?)", ref_rows, "", "architecture layers"));

  // Jobs added while the campaign runs (active profiling) go through the same InsertJobs.
  WF_ASSIGN_OR_RETURN(std::vector<int64_t> ids, pg::InsertJobs(c, campaign_id, plan.jobs, now));
  WF_RETURN_IF_ERROR(tx.Commit());
  if (job_ids != nullptr) *job_ids = std::move(ids);
  return campaign_id;
}

Result<std::vector<ActiveJob>> PgStore::LoadActiveJobs() {
  WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  WF_ASSIGN_OR_RETURN(const Rows q,
                      Exec(c,
                           "SELECT j.id, j.campaign_id, j.state, j.attempts, j.agent, "
                           "j.lease_deadline_ms, j.spec FROM jobs j "
                           "JOIN campaigns c ON c.id = j.campaign_id "
                           "WHERE c.state = 'running' AND j.state IN ('queued', 'leased') "
                           "ORDER BY j.id"));
  WF_RETURN_IF_ERROR(tx.Commit());
  std::vector<ActiveJob> jobs;
  jobs.reserve(static_cast<size_t>(q.size()));
  for (int row = 0; row < q.size(); ++row) {
    const int64_t id = q.Int(row, 0);
    auto spec = DecodeJob(q.BytesAt(row, 6));
    if (!spec.ok()) return spec.status().WithContext("stored spec of " + JobLabel(id));
    ActiveJob job;
    job.spec = std::move(spec).value();
    // The columns are authoritative: the BYTEA was encoded before any dispatch.
    job.spec.job_id = id;
    job.spec.campaign_id = q.Int(row, 1);
    job.spec.attempt = static_cast<int32_t>(q.Int(row, 3));
    job.state = q.Text(row, 2) == "leased" ? JobState::kLeased : JobState::kQueued;
    job.agent = q.Text(row, 4);
    job.lease_deadline_ms = q.IsNull(row, 5) ? 0 : q.Int(row, 5);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Result<std::vector<QuarantinedJob>> PgStore::ListQuarantined(int64_t limit) {
  WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  WF_ASSIGN_OR_RETURN(const Rows q,
                      Exec(c,
                           "SELECT id, campaign_id, kind, subject, attempts, "
                           "COALESCE(last_error, '') FROM jobs "
                           "WHERE state = 'quarantined' ORDER BY id LIMIT $1",
                           Params::Of(limit)));
  WF_RETURN_IF_ERROR(tx.Commit());
  std::vector<QuarantinedJob> out;
  for (int row = 0; row < q.size(); ++row) {
    out.push_back(QuarantinedJob{q.Int(row, 0), q.Int(row, 1), q.Text(row, 2), q.Text(row, 3),
                                 static_cast<int32_t>(q.Int(row, 4)), q.Text(row, 5)});
  }
  return out;
}

Result<std::vector<CampaignStatus>> PgStore::ListCampaigns() {
  WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
  // One snapshot: the job counts belong to the campaigns listed.
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c, Transaction::Kind::kSnapshot));
  WF_ASSIGN_OR_RETURN(const Rows q,
                      Exec(c, "SELECT id, name, state, created_ms FROM campaigns ORDER BY id"));
  std::vector<CampaignStatus> out;
  std::map<int64_t, size_t> index;
  for (int row = 0; row < q.size(); ++row) {
    CampaignStatus s;
    s.id = q.Int(row, 0);
    s.name = q.Text(row, 1);
    s.state = q.Text(row, 2);
    s.created_ms = q.Int(row, 3);
    index[s.id] = out.size();
    out.push_back(std::move(s));
  }
  WF_ASSIGN_OR_RETURN(const Rows counts, Exec(c,
                                              "SELECT campaign_id, state, COUNT(*) FROM jobs "
                                              "GROUP BY campaign_id, state"));
  WF_ASSIGN_OR_RETURN(const Rows flagged, Exec(c, kFlaggedCountsSql));
  WF_RETURN_IF_ERROR(tx.Commit());
  for (int row = 0; row < counts.size(); ++row) {
    const auto it = index.find(counts.Int(row, 0));
    if (it != index.end()) out[it->second].jobs[counts.Text(row, 1)] = counts.Int(row, 2);
  }
  for (int row = 0; row < flagged.size(); ++row) {
    const auto it = index.find(flagged.Int(row, 0));
    if (it != index.end()) {
      AddFlagged(flagged.Text(row, 1), flagged.Int(row, 2), &out[it->second]);
    }
  }
  return out;
}

namespace {

// The campaign's state, its row locked until the transaction ends (FOR NO KEY UPDATE).
// NotFound for an unknown id.
Result<CampaignState> LockCampaign(PGconn* c, int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(const Rows q,
                      pg::CampaignRow(c, campaign_id, "state", " FOR NO KEY UPDATE"));
  return ParseCampaignState(campaign_id, q.Text(0, 0));
}

}  // namespace

Status PgStore::FinishCampaign(int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  // The campaign row is locked before its open jobs are counted, and stays locked until the
  // caller's transaction (the dispatcher's batch, with the results that ended its jobs) ends,
  // refusal or not: of two controllers ending the campaign's last jobs at once, the second
  // counts only after the first committed, sees every job ended and finishes the campaign.
  // (A refusal that let go of the lock would let both count before either committed, and
  // both refuse.)
  WF_ASSIGN_OR_RETURN(const CampaignState state, LockCampaign(c, campaign_id));
  const Result<bool> finish = MayFinish(campaign_id, state);
  if (!finish.ok() || !*finish) {
    WF_RETURN_IF_ERROR(tx.Commit());  // nothing written; keeps the lock
    return finish.status();
  }
  WF_ASSIGN_OR_RETURN(const Rows open, Exec(c,
                                            "SELECT COUNT(*) FROM jobs WHERE campaign_id = $1 "
                                            "AND state IN ('planned', 'queued', 'leased')",
                                            Params::Of(campaign_id)));
  const int64_t unfinished = open.empty() ? 0 : open.Int(0, 0);
  if (Status s = CheckNothingUnfinished(campaign_id, unfinished); !s.ok()) {
    WF_RETURN_IF_ERROR(tx.Commit());  // nothing written; keeps the lock
    return s;
  }
  WF_RETURN_IF_ERROR(Exec(c, "UPDATE campaigns SET state = 'done', finished_ms = $1 WHERE id = $2",
                          Params::Of(Now(), campaign_id))
                         .status());
  return tx.Commit();
}

Status PgStore::CancelCampaign(int64_t campaign_id) {
  // The campaign row is locked first, and a controller's batch may hold a lock on one of its
  // jobs and want the campaign next (a result, then FinishCampaign): the server then aborts
  // one of the two as a deadlock. Outside a batch this is its own transaction, so it tries
  // again rather than fail the user's cancel.
  constexpr int kTries = 3;
  Status s;
  for (int i = 0; i < kTries; ++i) {
    WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
    s = CancelOnce(c, campaign_id);
    if (s.code() != StatusCode::kUnavailable || batch_open_ || PQstatus(c) != CONNECTION_OK) {
      return s;
    }
  }
  return s;
}

Status PgStore::CancelOnce(PGconn* c, int64_t campaign_id) {
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  // Locked before the jobs are cancelled: AddJob holds FOR SHARE on the campaign row until its
  // new job commits, so this waits for such a job and then cancels it too, and an AddJob
  // after this waits and then finds the campaign cancelled. (Read unlocked, a job inserted
  // meanwhile would stay queued in a cancelled campaign, which no controller dispatches.)
  WF_ASSIGN_OR_RETURN(const CampaignState state, LockCampaign(c, campaign_id));
  if (!MayCancel(state)) return tx.Commit();
  const int64_t now = Now();
  WF_RETURN_IF_ERROR(Exec(c,
                          "UPDATE jobs SET state = 'cancelled', lease_deadline_ms = NULL, "
                          "updated_ms = $1 WHERE campaign_id = $2 "
                          "AND state IN ('planned', 'queued', 'leased')",
                          Params::Of(now, campaign_id))
                         .status());
  WF_RETURN_IF_ERROR(Exec(c,
                          "UPDATE campaigns SET state = 'cancelled', finished_ms = $1 "
                          "WHERE id = $2",
                          Params::Of(now, campaign_id))
                         .status());
  return tx.Commit();
}

Status PgStore::UpsertDevice(const DeviceRecord& device) {
  if (device.name.empty()) return Status::InvalidArgument("device name is empty");
  const int64_t now = Now();
  WF_ASSIGN_OR_RETURN(PGconn* c, Conn());
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  WF_RETURN_IF_ERROR(Exec(c,
                          "INSERT INTO devices(name, class, capabilities_json, first_seen_ms, "
                          "last_seen_ms) VALUES($1, $2, $3, $4, $5) "
                          "ON CONFLICT (name) DO UPDATE SET class = EXCLUDED.class, "
                          "capabilities_json = EXCLUDED.capabilities_json, "
                          "last_seen_ms = EXCLUDED.last_seen_ms",
                          Params::Of(device.name, device.device_class, device.capabilities_json,
                                     now, now))
                         .status());
  return tx.Commit();
}

// Notices (CREATE TABLE IF NOT EXISTS ... skipping, and the like) go to the debug log instead
// of stderr, which carries the CLI's own messages.
void LogNotice(void* /*arg*/, const char* message) {
  spdlog::debug("store: postgresql: {}", message);
}

}  // namespace

namespace pg {

Result<ConnPtr> Connect(const std::string& conninfo) {
  const std::string label = Label(conninfo);
  {
    // A malformed URI is the user's input: InvalidArgument, before any connection attempt.
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
    if (parsed == nullptr) {
      std::string why = error != nullptr ? error : "cannot parse it";
      if (error != nullptr) PQfreemem(error);
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return Status::InvalidArgument("not a valid PostgreSQL connection URI: " + why);
    }
    PQconninfoFree(parsed);
  }
  // Defaults first, the user's URI last: libpq lets later keywords override earlier ones, so
  // anything the URI says wins. A bounded connect: an unreachable server fails rather than
  // hangs the controller's start.
  const char* const keywords[] = {"connect_timeout", "application_name", "client_encoding",
                                  "dbname", nullptr};
  const char* const values[] = {"10", "wattfleet", "UTF8", conninfo.c_str(), nullptr};
  ConnPtr conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn == nullptr) return Status::Internal("postgresql: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn.get());
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status::Unavailable("cannot connect to " + label + ": " + why);
  }
  PQsetNoticeProcessor(conn.get(), LogNotice, nullptr);
  return conn;
}

}  // namespace pg

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo,
                                                 const StoreOpenOptions& options) {
  const std::string label = pg::Label(conninfo);
  WF_ASSIGN_OR_RETURN(pg::ConnPtr conn, pg::Connect(conninfo));
  if (Status s = pg::Migrate(conn.get(), options.create_if_missing); !s.ok()) {
    return s.WithContext(label);
  }
  return std::unique_ptr<Store>(std::make_unique<PgStore>(std::move(conn), label));
}

}  // namespace wattfleet
