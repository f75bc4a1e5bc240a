// The life of a job, in one place: its states and their stored names, and the rules of every
// transition. Both Store backends ask these functions what a transition does and only
// persist the answer (their SQL carries the same conditions as compare-and-set clauses, so
// that two controllers sharing a dataset cannot both win); the dispatcher asks them how a
// failed attempt ends. job_lifecycle_test holds the rules; the store contract suite holds
// both backends to them.
//
//   planned -> queued -> leased -> done | failed | quarantined
//   leased -> queued               (lease expired, agent lost, retryable failure)
//   queued | leased -> cancelled   (the campaign was cancelled)
//
// Nothing here touches a database or a socket: pure functions of what the caller read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

enum class JobState { kPlanned, kQueued, kLeased, kDone, kFailed, kQuarantined, kCancelled };
// The stored name: "planned", "queued", "leased", "done", "failed", "quarantined",
// "cancelled".
std::string_view JobStateName(JobState s);
std::optional<JobState> ParseJobState(std::string_view s);

// Queued or leased: a job a dispatcher hands out or waits on.
bool IsActive(JobState s);

// What a store knows of a job when a transition is asked of it.
struct JobFacts {
  JobState state = JobState::kQueued;
  int32_t attempts = 0;  // leases so far (the number of the latest)
};

// queued -> leased as `attempt`: only a queued job, and never with a number below the
// attempts it has had (a controller whose copy predates another's leases would otherwise
// lower the counter, and the results of those leases would be refused as never handed out).
// Equal is allowed: a job that could not be sent is leased again under the same number.
bool MayLease(const JobFacts& job, int32_t attempt);
// Why not: AlreadyExists, because the caller's copy of the job is stale (another controller
// leased it, or it ended) and the job is no longer the caller's to hand out.
Status LeaseRefused(int64_t job_id, int32_t attempt, const JobFacts& job);

// leased -> queued, for the lease of `attempt` only. Anything else means the caller's view is
// stale: requeueing would measure a finished job twice or take it from its new holder.
bool MayRequeue(const JobFacts& job, int32_t attempt);
Status RequeueRefused(int64_t job_id, int32_t attempt, const JobFacts& job);

enum class RecordOutcome {
  kStored,     // first result of this job: stored, job done
  kDuplicate,  // same job + attempt + payload already stored: acknowledge, store nothing
  kLate,       // the job is already done by another attempt (or cancelled): store nothing
  kConflict,   // same job + attempt already stored with a different payload: store nothing
};

// The measurement a job already has, if any (at most one per job).
struct StoredResult {
  int32_t attempt = 0;
  std::string payload_hash;
};

// A DONE result of `attempt` with payload hash `hash`: kStored when it is to be stored (and
// the job becomes done), another outcome when nothing is to be written. Any active state
// accepts the first result, even from an attempt whose lease expired: the measurement is
// valid, and whichever attempt still runs will be answered kLate. InvalidArgument for an
// attempt that was never handed out.
Result<RecordOutcome> OutcomeOfResult(int64_t job_id, const JobFacts& job,
                                      const std::optional<StoredResult>& stored,
                                      int32_t attempt, std::string_view hash);

// InvalidArgument unless `final_state` is absent, failed or quarantined: what a failure may
// end a job as. Checked before anything is written.
Status CheckFailureState(std::optional<JobState> final_state);

// A non-DONE result of `attempt`: the state the job moves to (`final_state` when given,
// queued otherwise), or nullopt when the attempt is no longer the job's current one (its
// lease expired and it was handed out again, or the job ended) and nothing may change.
// CheckFailureState's error for a bad `final_state`.
Result<std::optional<JobState>> StateAfterFailure(const JobFacts& job, int32_t attempt,
                                                  std::optional<JobState> final_state);

// How a failed attempt ends the job, decided by the dispatcher: failed when the outcome is
// not worth retrying (the layer itself failed), quarantined once `attempts_spent` reaches
// `max_attempts`, nullopt (retry) otherwise.
std::optional<JobState> FinalStateAfter(Outcome outcome, int32_t attempts_spent,
                                        int32_t max_attempts);

// Campaigns: running -> done (every job ended) | cancelled.
enum class CampaignState { kRunning, kDone, kCancelled };
// The stored name: "running", "done", "cancelled".
std::string_view CampaignStateName(CampaignState s);
// Corruption naming the campaign for a name this build does not know.
Result<CampaignState> ParseCampaignState(int64_t campaign_id, std::string_view name);

// A job may be added only to a running campaign: nothing would ever run a finished or
// cancelled campaign's jobs. InvalidArgument naming the campaign otherwise.
Status CheckCampaignTakesJobs(int64_t campaign_id, CampaignState state);

// Whether a campaign in `state` is to be marked done: false when it already is (nothing to
// do); InvalidArgument for a cancelled one. It is done only once none of its jobs is planned,
// queued or leased (`unfinished`): InvalidArgument otherwise.
Result<bool> MayFinish(int64_t campaign_id, CampaignState state);
Status CheckNothingUnfinished(int64_t campaign_id, int64_t unfinished);

// Only a running campaign is cancelled; a finished one stays as it ended, so its state stays
// true, and cancelling it again changes nothing.
bool MayCancel(CampaignState state);

}  // namespace wattfleet
