#include "wattfleet/store/job_lifecycle.h"

#include <array>
#include <utility>

#include "wattfleet/common/enum_names.h"

namespace wattfleet {
namespace {

constexpr EnumNames<JobState, 7> kJobStates{{
    {JobState::kPlanned, "planned"},
    {JobState::kQueued, "queued"},
    {JobState::kLeased, "leased"},
    {JobState::kDone, "done"},
    {JobState::kFailed, "failed"},
    {JobState::kQuarantined, "quarantined"},
    {JobState::kCancelled, "cancelled"},
}};
constexpr EnumNames<CampaignState, 3> kCampaignStates{{
    {CampaignState::kRunning, "running"},
    {CampaignState::kDone, "done"},
    {CampaignState::kCancelled, "cancelled"},
}};

std::string JobLabel(int64_t job_id) { return "job " + std::to_string(job_id); }

}  // namespace

std::string_view JobStateName(JobState s) { return NameIn(kJobStates, s); }

std::optional<JobState> ParseJobState(std::string_view s) { return ParseIn(kJobStates, s); }

bool IsActive(JobState s) { return s == JobState::kQueued || s == JobState::kLeased; }

bool MayLease(const JobFacts& job, int32_t attempt) {
  return job.state == JobState::kQueued && job.attempts <= attempt;
}

Status LeaseRefused(int64_t job_id, int32_t attempt, const JobFacts& job) {
  if (job.state != JobState::kQueued) {
    return Status::AlreadyExists("cannot lease " + JobLabel(job_id) + ": it is " +
                                 std::string(JobStateName(job.state)) + ", not queued");
  }
  return Status::AlreadyExists("cannot lease " + JobLabel(job_id) + " as attempt " +
                               std::to_string(attempt) + ": it has had " +
                               std::to_string(job.attempts) + " attempts already");
}

bool MayRequeue(const JobFacts& job, int32_t attempt) {
  return job.state == JobState::kLeased && job.attempts == attempt;
}

Status RequeueRefused(int64_t job_id, int32_t attempt, const JobFacts& job) {
  std::string now(JobStateName(job.state));
  if (job.state == JobState::kLeased) now += " as attempt " + std::to_string(job.attempts);
  return Status::AlreadyExists("cannot requeue " + JobLabel(job_id) + " attempt " +
                               std::to_string(attempt) + ": it is " + now + " now");
}

Result<RecordOutcome> OutcomeOfResult(int64_t job_id, const JobFacts& job,
                                      const std::optional<StoredResult>& stored,
                                      int32_t attempt, std::string_view hash) {
  if (stored) {
    if (stored->attempt != attempt) return RecordOutcome::kLate;
    return stored->payload_hash == hash ? RecordOutcome::kDuplicate : RecordOutcome::kConflict;
  }
  if (job.state == JobState::kDone || job.state == JobState::kCancelled) {
    return RecordOutcome::kLate;
  }
  if (attempt < 1 || attempt > job.attempts) {
    return Status::InvalidArgument(JobLabel(job_id) + " has had " +
                                   std::to_string(job.attempts) + " attempts, not " +
                                   std::to_string(attempt));
  }
  return RecordOutcome::kStored;
}

Status CheckFailureState(std::optional<JobState> final_state) {
  if (final_state && *final_state != JobState::kFailed &&
      *final_state != JobState::kQuarantined) {
    return Status::InvalidArgument("a failed job ends failed or quarantined, not " +
                                   std::string(JobStateName(*final_state)));
  }
  return Status::OK();
}

Result<std::optional<JobState>> StateAfterFailure(const JobFacts& job, int32_t attempt,
                                                  std::optional<JobState> final_state) {
  WF_RETURN_IF_ERROR(CheckFailureState(final_state));
  if (!IsActive(job.state) || job.attempts != attempt) return std::optional<JobState>();
  return std::optional<JobState>(final_state.value_or(JobState::kQueued));
}

std::optional<JobState> FinalStateAfter(Outcome outcome, int32_t attempts_spent,
                                        int32_t max_attempts) {
  if (!IsRetryable(outcome)) return JobState::kFailed;
  if (attempts_spent >= max_attempts) return JobState::kQuarantined;
  return std::nullopt;
}

std::string_view CampaignStateName(CampaignState s) { return NameIn(kCampaignStates, s); }

Result<CampaignState> ParseCampaignState(int64_t campaign_id, std::string_view name) {
  if (const auto s = ParseIn(kCampaignStates, name)) return *s;
  return Status::Corruption("campaign " + std::to_string(campaign_id) + " has unknown state '" +
                            std::string(name) + "'");
}

namespace {

Status NotRunning(int64_t campaign_id, CampaignState state) {
  return Status::InvalidArgument("campaign " + std::to_string(campaign_id) + " is " +
                                 std::string(CampaignStateName(state)) + ", not running");
}

}  // namespace

Status CheckCampaignTakesJobs(int64_t campaign_id, CampaignState state) {
  if (state == CampaignState::kRunning) return Status::OK();
  return NotRunning(campaign_id, state);
}

Result<bool> MayFinish(int64_t campaign_id, CampaignState state) {
  switch (state) {
    case CampaignState::kRunning: return true;
    case CampaignState::kDone: return false;
    case CampaignState::kCancelled: return NotRunning(campaign_id, state);
  }
  return NotRunning(campaign_id, state);
}

Status CheckNothingUnfinished(int64_t campaign_id, int64_t unfinished) {
  if (unfinished == 0) return Status::OK();
  return Status::InvalidArgument("campaign " + std::to_string(campaign_id) + " still has " +
                                 std::to_string(unfinished) + " unfinished jobs");
}

bool MayCancel(CampaignState state) { return state == CampaignState::kRunning; }

}  // namespace wattfleet
