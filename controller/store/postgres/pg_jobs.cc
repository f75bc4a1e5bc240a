// A job's state changes on the shared PostgreSQL store: lease, requeue, result, failure (the
// Store methods of the same names; pg_store.cc holds the connection they run on).
//
// Other controllers change the same rows at the same time, and a controller's copy of a job
// may be stale (loaded at its start, before another controller leased the job again). So
// every change is conditional on the state and the attempt the caller believes in, either in
// one statement (lease, requeue) or after locking the row (result, failure), and a caller
// whose belief no longer holds changes nothing.
#include <cmath>
#include <optional>
#include <string>

#include "pg_store.h"
#include "wattfleet/store/store.h"
#include "measurement_columns.h"
#include "store_values.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace pg {
namespace {

std::string JobLabel(int64_t job_id) { return "job " + std::to_string(job_id); }

// The job's state and attempts, NotFound for an unknown id. `lock`: the row stays locked until
// the transaction ends, so that another controller deciding on the same job waits and then
// sees this one's outcome.
Result<JobFacts> ReadJob(PGconn* c, int64_t job_id, bool lock) {
  WF_ASSIGN_OR_RETURN(const Rows q, Exec(c,
                                         lock ? "SELECT state, attempts FROM jobs WHERE id = $1 "
                                                "FOR NO KEY UPDATE"
                                              : "SELECT state, attempts FROM jobs WHERE id = $1",
                                         Params::Of(job_id)));
  if (q.empty()) return Status::NotFound("unknown " + JobLabel(job_id));
  const std::string name = q.Text(0, 0);
  const auto state = ParseJobState(name);
  if (!state) return Status::Corruption(JobLabel(job_id) + " has unknown state '" + name + "'");
  return JobFacts{*state, static_cast<int32_t>(q.Int(0, 1))};
}

}  // namespace

Status MarkLeased(PGconn* c, int64_t job_id, int32_t attempt, const std::string& agent,
                  int64_t lease_deadline_ms, int64_t now_ms) {
  // A savepoint even for one statement: inside a batch, a failed statement (a deadlock with
  // another controller, say) would otherwise spoil the whole batch.
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  // The condition is the lease: of two controllers updating the same queued job, the second
  // waits for the first to commit, re-reads the row and updates nothing. `attempts <= $1`: a
  // controller whose copy of the job is older than another's leases must not lower the
  // counter (the results of those leases would then be refused as attempts never handed out).
  WF_ASSIGN_OR_RETURN(const Rows u,
                      Exec(c,
                           "UPDATE jobs SET state = 'leased', attempts = $1, agent = $2, "
                           "lease_deadline_ms = $3, updated_ms = $4 "
                           "WHERE id = $5 AND state = 'queued' AND attempts <= $1",
                           Params::Of(attempt, agent, lease_deadline_ms, now_ms, job_id)));
  if (u.Affected() == 1) {
    // Who holds this attempt, kept after it ends: a late result is recognised after a restart.
    WF_RETURN_IF_ERROR(Exec(c,
                            "INSERT INTO leases(job_id, attempt, agent, leased_ms) "
                            "VALUES($1, $2, $3, $4) ON CONFLICT (job_id, attempt) DO UPDATE "
                            "SET agent = EXCLUDED.agent, leased_ms = EXCLUDED.leased_ms",
                            Params::Of(job_id, attempt, agent, now_ms))
                           .status());
    return tx.Commit();
  }
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(c, job_id, /*lock=*/false));
  // AlreadyExists: another controller leased it first, or it ended; either way it is no longer
  // the caller's to hand out (the dispatcher drops it).
  return LeaseRefused(job_id, attempt, job);
}

Status Requeue(PGconn* c, int64_t job_id, int32_t attempt, const std::string& reason,
               int64_t now_ms) {
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  // Only the lease of `attempt` goes back. Any other state means the caller's view is stale:
  // the result was stored meanwhile (here or by another controller), or another controller
  // leased the job again after this one's lease ran out; requeueing would take it from them.
  WF_ASSIGN_OR_RETURN(const Rows u,
                      Exec(c,
                           "UPDATE jobs SET state = 'queued', agent = NULL, "
                           "lease_deadline_ms = NULL, last_error = $1, updated_ms = $2 "
                           "WHERE id = $3 AND state = 'leased' AND attempts = $4",
                           Params::Of(reason, now_ms, job_id, attempt)));
  if (u.Affected() == 1) return tx.Commit();
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(c, job_id, /*lock=*/false));  // NotFound
  return RequeueRefused(job_id, attempt, job);
}

Result<RecordOutcome> RecordResult(PGconn* c, const JobResult& result, const std::string& agent,
                                   int64_t now_ms) {
  const Measurement& m = result.measurement;
  const std::string payload = Encode(m);
  const std::string hash = PayloadHash(payload);

  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  // Locked: a second controller recording the same job waits here until this transaction
  // ends, then reads the job (done) and its measurement, and answers kDuplicate or kLate.
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(c, result.job_id, /*lock=*/true));

  WF_ASSIGN_OR_RETURN(const Rows stored,
                      Exec(c, "SELECT attempt, payload_hash FROM measurements WHERE job_id = $1",
                           Params::Of(result.job_id)));
  // Read-only outcomes return without committing; the guard's rollback ends the read.
  WF_ASSIGN_OR_RETURN(
      const RecordOutcome outcome,
      OutcomeOfResult(result.job_id, job,
                      stored.empty() ? std::nullopt
                                     : std::optional<StoredResult>(StoredResult{
                                           static_cast<int32_t>(stored.Int(0, 0)),
                                           stored.Text(0, 1)}),
                      result.attempt, hash));
  if (outcome != RecordOutcome::kStored) return outcome;
  // The statement text from the one list of measurement columns (measurement_columns.h).
  static const std::string kInsert = [] {
    const size_t n = measurement_columns::Columns().size();
    std::string marks;
    for (size_t i = 0; i < n; ++i) marks += ", $" + std::to_string(6 + i);
    return "INSERT INTO measurements(job_id, attempt, agent, payload_hash, created_ms, " +
           measurement_columns::List() + ") VALUES($1, $2, $3, $4, $5" + marks +
           ") ON CONFLICT (job_id) DO NOTHING";
  }();
  Params params = Params::Of(result.job_id, result.attempt, agent, hash, now_ms);
  measurement_columns::BindValues(m, [&](const auto& x) { params.Add(x); });
  WF_ASSIGN_OR_RETURN(const Rows ins, Exec(c, kInsert, params));
  // The job row is locked, so no other measurement of it can have appeared; should one have
  // (a row written outside the store), the job keeps it and this result is late.
  if (ins.Affected() == 0) return RecordOutcome::kLate;

  WF_RETURN_IF_ERROR(Exec(c,
                          "UPDATE jobs SET state = 'done', agent = $1, lease_deadline_ms = NULL, "
                          "updated_ms = $2 WHERE id = $3",
                          Params::Of(agent, now_ms, result.job_id))
                         .status());
  WF_RETURN_IF_ERROR(tx.Commit());
  return RecordOutcome::kStored;
}

Status RecordFailure(PGconn* c, const JobResult& result, const std::string& agent,
                     std::optional<JobState> final_state, int64_t now_ms) {
  // Checked before the transaction: a bad request writes nothing.
  WF_RETURN_IF_ERROR(CheckFailureState(final_state));
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  WF_ASSIGN_OR_RETURN(const JobFacts job, ReadJob(c, result.job_id, /*lock=*/true));
  WF_ASSIGN_OR_RETURN(const std::optional<JobState> to,
                      StateAfterFailure(job, result.attempt, final_state));
  if (!to) return tx.Commit();  // a stale attempt must not undo the newer state

  const std::string error = std::string(OutcomeName(result.outcome)) + ": " + result.error;
  const std::string next(JobStateName(*to));
  WF_RETURN_IF_ERROR(Exec(c,
                          "UPDATE jobs SET state = $1, agent = $2, lease_deadline_ms = NULL, "
                          "last_error = $3, updated_ms = $4 WHERE id = $5",
                          Params::Of(next, agent, error, now_ms, result.job_id))
                         .status());
  return tx.Commit();
}

}  // namespace pg
}  // namespace wattfleet
