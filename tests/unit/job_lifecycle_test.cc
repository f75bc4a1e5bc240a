// Tests of the job lifecycle rules (controller/store/job_lifecycle.cc) that both store
// backends and the dispatcher follow.
#include "wattfleet/store/job_lifecycle.h"

#include <gtest/gtest.h>

#include <vector>

namespace wattfleet {
namespace {

const std::vector<JobState> kAll = {JobState::kPlanned,     JobState::kQueued,
                                    JobState::kLeased,      JobState::kDone,
                                    JobState::kFailed,      JobState::kQuarantined,
                                    JobState::kCancelled};

TEST(JobLifecycleTest, EveryStateHasAStoredNameThatParsesBack) {
  for (JobState s : kAll) {
    const std::string_view name = JobStateName(s);
    EXPECT_NE(name, "unknown");
    ASSERT_TRUE(ParseJobState(name).has_value()) << name;
    EXPECT_EQ(*ParseJobState(name), s);
  }
  EXPECT_FALSE(ParseJobState("Queued").has_value());
  EXPECT_FALSE(ParseJobState("").has_value());
}

TEST(JobLifecycleTest, OnlyQueuedAndLeasedAreActive) {
  for (JobState s : kAll) {
    EXPECT_EQ(IsActive(s), s == JobState::kQueued || s == JobState::kLeased) << JobStateName(s);
  }
}

TEST(JobLifecycleTest, AJobIsLeasedOnlyWhenQueuedAndNeverUnderALowerNumber) {
  EXPECT_TRUE(MayLease({JobState::kQueued, 0}, 1));
  EXPECT_TRUE(MayLease({JobState::kQueued, 2}, 2));  // a JOB that could not be sent
  EXPECT_FALSE(MayLease({JobState::kQueued, 3}, 2));
  for (JobState s : kAll) {
    if (s != JobState::kQueued) {
      EXPECT_FALSE(MayLease({s, 0}, 1)) << JobStateName(s);
    }
  }
  const Status not_queued = LeaseRefused(7, 1, {JobState::kDone, 1});
  EXPECT_EQ(not_queued.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(not_queued.message().find("job 7"), std::string::npos);
  EXPECT_NE(not_queued.message().find("done, not queued"), std::string::npos);
  const Status stale = LeaseRefused(7, 2, {JobState::kQueued, 3});
  EXPECT_NE(stale.message().find("3 attempts already"), std::string::npos);
}

TEST(JobLifecycleTest, OnlyTheCurrentLeaseGoesBackToTheQueue) {
  EXPECT_TRUE(MayRequeue({JobState::kLeased, 2}, 2));
  EXPECT_FALSE(MayRequeue({JobState::kLeased, 3}, 2));
  EXPECT_FALSE(MayRequeue({JobState::kDone, 2}, 2));
  EXPECT_FALSE(MayRequeue({JobState::kQueued, 2}, 2));
  const Status refused = RequeueRefused(9, 2, {JobState::kLeased, 3});
  EXPECT_EQ(refused.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(refused.message().find("leased as attempt 3"), std::string::npos);
}

TEST(JobLifecycleTest, AResultIsStoredOnceAndLateOrDuplicateOrConflictingOtherwise) {
  const JobFacts leased{JobState::kLeased, 2};
  auto first = OutcomeOfResult(1, leased, std::nullopt, 2, "h");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, RecordOutcome::kStored);
  // An expired lease's result is still the first measurement of the job.
  auto expired = OutcomeOfResult(1, leased, std::nullopt, 1, "h");
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, RecordOutcome::kStored);

  const StoredResult stored{2, "h"};
  const JobFacts done{JobState::kDone, 2};
  EXPECT_EQ(*OutcomeOfResult(1, done, stored, 2, "h"), RecordOutcome::kDuplicate);
  EXPECT_EQ(*OutcomeOfResult(1, done, stored, 2, "other"), RecordOutcome::kConflict);
  EXPECT_EQ(*OutcomeOfResult(1, done, stored, 1, "h"), RecordOutcome::kLate);
  EXPECT_EQ(*OutcomeOfResult(1, {JobState::kCancelled, 1}, std::nullopt, 1, "h"),
            RecordOutcome::kLate);

  // An attempt never handed out carries no measurement.
  for (int32_t attempt : {0, 3}) {
    auto never = OutcomeOfResult(1, leased, std::nullopt, attempt, "h");
    ASSERT_FALSE(never.ok());
    EXPECT_EQ(never.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(JobLifecycleTest, AFailureMovesOnlyTheCurrentAttemptOn) {
  const JobFacts leased{JobState::kLeased, 2};
  auto retry = StateAfterFailure(leased, 2, std::nullopt);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(*retry, JobState::kQueued);
  EXPECT_EQ(*StateAfterFailure(leased, 2, JobState::kQuarantined), JobState::kQuarantined);
  EXPECT_EQ(*StateAfterFailure(leased, 2, JobState::kFailed), JobState::kFailed);
  // Stale attempt, or an ended job: nothing changes.
  EXPECT_FALSE(StateAfterFailure(leased, 1, JobState::kFailed)->has_value());
  EXPECT_FALSE(StateAfterFailure({JobState::kDone, 2}, 2, std::nullopt)->has_value());
  // A failure cannot end a job as done, cancelled, ...
  for (JobState s : {JobState::kDone, JobState::kCancelled, JobState::kQueued}) {
    EXPECT_EQ(StateAfterFailure(leased, 2, s).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(CheckFailureState(s).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(CheckFailureState(std::nullopt).ok());
}

TEST(JobLifecycleTest, TheLayerFailingEndsTheJobAndInfrastructureFailuresAreRetriedThenQuarantined) {
  EXPECT_EQ(FinalStateAfter(Outcome::kFailed, 1, 3), JobState::kFailed);
  EXPECT_EQ(FinalStateAfter(Outcome::kLost, 1, 3), std::nullopt);
  EXPECT_EQ(FinalStateAfter(Outcome::kLost, 2, 3), std::nullopt);
  EXPECT_EQ(FinalStateAfter(Outcome::kLost, 3, 3), JobState::kQuarantined);
  EXPECT_EQ(FinalStateAfter(Outcome::kLost, 4, 3), JobState::kQuarantined);
}

TEST(JobLifecycleTest, CampaignStatesHaveStoredNamesAndUnknownOnesAreCorruption) {
  for (CampaignState s : {CampaignState::kRunning, CampaignState::kDone, CampaignState::kCancelled}) {
    auto parsed = ParseCampaignState(1, CampaignStateName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  const Status bad = ParseCampaignState(3, "paused").status();
  EXPECT_EQ(bad.code(), StatusCode::kCorruption);
  EXPECT_NE(bad.message().find("campaign 3"), std::string::npos);
}

TEST(JobLifecycleTest, OnlyARunningCampaignTakesNewJobsIsFinishedOrCancelled) {
  EXPECT_TRUE(CheckCampaignTakesJobs(4, CampaignState::kRunning).ok());
  for (CampaignState state : {CampaignState::kDone, CampaignState::kCancelled}) {
    const Status s = CheckCampaignTakesJobs(4, state);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("campaign 4 is " + std::string(CampaignStateName(state))),
              std::string::npos);
    EXPECT_FALSE(MayCancel(state));
  }
  EXPECT_TRUE(MayCancel(CampaignState::kRunning));
  EXPECT_TRUE(*MayFinish(4, CampaignState::kRunning));
  EXPECT_FALSE(*MayFinish(4, CampaignState::kDone));  // already done: nothing to do
  EXPECT_EQ(MayFinish(4, CampaignState::kCancelled).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckNothingUnfinished(4, 0).ok());
  const Status open = CheckNothingUnfinished(4, 2);
  EXPECT_EQ(open.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(open.message().find("2 unfinished jobs"), std::string::npos);
}

}  // namespace
}  // namespace wattfleet
