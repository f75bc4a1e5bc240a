// The Store contract against whichever backend the test binary instantiates it with: the job
// state machine, idempotent results, campaigns, exports, batches, rollback and reopening.
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "store_contract.h"

#include "wattfleet/store/export.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/protocol.h"
#include "exported.h"

namespace wattfleet::testing {
namespace {

TEST_P(StoreContractTest, CreateCampaignThenLoadActiveJobsRoundTrips) {
  const Plan plan = MakeTestPlan();
  const int64_t cid = Create(plan);
  ASSERT_GT(cid, 0);
  auto jobs = store_->LoadActiveJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), plan.jobs.size());
  for (size_t i = 0; i < jobs->size(); ++i) {
    const ActiveJob& j = (*jobs)[i];
    EXPECT_EQ(j.state, JobState::kQueued);
    EXPECT_EQ(j.spec.job_id, static_cast<int64_t>(i + 1));
    EXPECT_EQ(j.spec.campaign_id, cid);
    EXPECT_EQ(j.spec.attempt, 0);
    EXPECT_EQ(j.spec.kind, plan.jobs[i].kind);
    EXPECT_EQ(j.spec.subject, plan.jobs[i].subject);
    EXPECT_EQ(j.spec.batch, 4);
    EXPECT_EQ(j.spec.lease_ms, 60000);
    EXPECT_EQ(j.spec.settings, plan.jobs[i].settings);
    EXPECT_EQ(j.spec.graph.nodes.size(), plan.jobs[i].graph.nodes.size());
  }
  // The stored BLOB itself carries the assigned ids (it is what agents receive).
  const std::string blob = backend_->QueryBytes("SELECT spec FROM jobs WHERE id = 4");
  auto spec = DecodeJob(blob);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->job_id, 4);
  EXPECT_EQ(spec->campaign_id, cid);
  EXPECT_EQ(spec->subject, "mlp-a");

  EXPECT_EQ(QueryText("SELECT yaml FROM campaigns"), "name: test-campaign\n");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM arch_layers"), 4);
  EXPECT_EQ(QueryInt("SELECT layers FROM architectures WHERE name = 'mlp-b'"), 2);
}


TEST_P(StoreContractTest, LayersAreSharedAcrossCampaigns) {
  Create(MakeTestPlan("one"));
  Create(MakeTestPlan("two"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM layers"), 3);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM architectures"), 4);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM jobs"), 10);
}


TEST_P(StoreContractTest, LeaseAndRequeueStateMachine) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 123456).ok());
  auto jobs = store_->LoadActiveJobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ((*jobs)[0].state, JobState::kLeased);
  EXPECT_EQ((*jobs)[0].agent, "agent-1");
  EXPECT_EQ((*jobs)[0].lease_deadline_ms, 123456);
  EXPECT_EQ((*jobs)[0].spec.attempt, 1);

  const Status again = store_->MarkLeased(1, 2, "agent-2", 1);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("leased"), std::string::npos) << again.ToString();
  // A distinct code: the dispatcher drops a job another controller leased first.
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();

  ASSERT_TRUE(store_->Requeue(1, 1, "lease expired").ok());
  EXPECT_EQ(StateOf(1), "queued");
  EXPECT_EQ(QueryText("SELECT last_error FROM jobs WHERE id = 1"), "lease expired");
  // Attempts are kept: the next lease is attempt 2.
  EXPECT_EQ(QueryInt("SELECT attempts FROM jobs WHERE id = 1"), 1);
  // Requeue of a job that is not leased changes nothing, and says so: the caller's view of
  // the job is stale.
  EXPECT_EQ(store_->Requeue(1, 1, "again").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(QueryText("SELECT last_error FROM jobs WHERE id = 1"), "lease expired");
  ASSERT_TRUE(store_->MarkLeased(1, 2, "agent-2", 1).ok());
  EXPECT_EQ(QueryInt("SELECT attempts FROM jobs WHERE id = 1"), 2);

  EXPECT_EQ(store_->MarkLeased(99, 1, "a", 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Requeue(99, 1, "x").code(), StatusCode::kNotFound);
}


TEST_P(StoreContractTest, AStaleLeaseDoesNotLowerTheAttempts) {
  Create(MakeTestPlan());
  // Attempts 1 and 2 were handed out (by another controller sharing the dataset, say), and
  // attempt 2's lease ran out too.
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->Requeue(1, 1, "lease expired").ok());
  ASSERT_TRUE(store_->MarkLeased(1, 2, "agent-2", 1).ok());
  ASSERT_TRUE(store_->Requeue(1, 2, "lease expired").ok());
  // A controller whose copy of the job was loaded before both (0 attempts) leases it as
  // attempt 1: refused, as a lease lost to another controller is, and nothing changes.
  const Status stale = store_->MarkLeased(1, 1, "agent-3", 1);
  EXPECT_EQ(stale.code(), StatusCode::kAlreadyExists) << stale.ToString();
  EXPECT_NE(stale.message().find("2 attempts"), std::string::npos) << stale.ToString();
  EXPECT_EQ(StateOf(1), "queued");
  EXPECT_EQ(QueryInt("SELECT attempts FROM jobs WHERE id = 1"), 2);
  // Attempt 2's result, delivered late, still counts: it was handed out.
  EXPECT_EQ(Record(Done(1, 2), "agent-2"), RecordOutcome::kStored);

  // The same number again is a lease too: a JOB that could not be sent is requeued without
  // spending its attempt and leased again as the same attempt.
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->Requeue(2, 1, "send failed").ok());
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-2", 1).ok());
  EXPECT_EQ(QueryInt("SELECT attempts FROM jobs WHERE id = 2"), 1);
  EXPECT_EQ(QueryText("SELECT agent FROM jobs WHERE id = 2"), "agent-2");
}


TEST_P(StoreContractTest, RequeueTakesBackOnlyTheLeaseOfItsAttempt) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->Requeue(1, 1, "lease expired").ok());
  ASSERT_TRUE(store_->MarkLeased(1, 2, "agent-2", 777).ok());
  // A controller whose copy of attempt 1's lease ran out requeues it only now: the job is
  // agent-2's, leased again since, and stays so.
  const Status stale = store_->Requeue(1, 1, "lease expired");
  EXPECT_EQ(stale.code(), StatusCode::kAlreadyExists) << stale.ToString();
  EXPECT_EQ(StateOf(1), "leased");
  EXPECT_EQ(QueryText("SELECT agent FROM jobs WHERE id = 1"), "agent-2");
  EXPECT_EQ(QueryInt("SELECT lease_deadline_ms FROM jobs WHERE id = 1"), 777);
  EXPECT_EQ(QueryInt("SELECT attempts FROM jobs WHERE id = 1"), 2);
  // The current lease goes back.
  ASSERT_TRUE(store_->Requeue(1, 2, "agent lost").ok());
  EXPECT_EQ(StateOf(1), "queued");
  EXPECT_EQ(QueryText("SELECT last_error FROM jobs WHERE id = 1"), "agent lost");
  EXPECT_EQ(QueryInt("SELECT attempts FROM jobs WHERE id = 1"), 2);
}


TEST_P(StoreContractTest, RecordResultOutcomes) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  EXPECT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  EXPECT_EQ(StateOf(1), "done");
  // The same delivery again (the agent's ACK was lost): acknowledged, nothing stored.
  EXPECT_EQ(Record(Done(1, 1)), RecordOutcome::kDuplicate);
  EXPECT_EQ(Record(Done(1, 1), "other-agent"), RecordOutcome::kDuplicate);
  // Same attempt, different payload.
  EXPECT_EQ(Record(Done(1, 1, 0.5)), RecordOutcome::kConflict);
  // Another attempt of a job that is already done.
  EXPECT_EQ(Record(Done(1, 2)), RecordOutcome::kLate);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM measurements WHERE job_id = 1"), 1);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM measurements"), 1);
  EXPECT_EQ(QueryInt("SELECT repeats FROM measurements"), 3);
  EXPECT_EQ(QueryText("SELECT length(payload_hash) FROM measurements"), "16");

  auto unknown = store_->RecordResult(Done(42, 1), "agent-1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);

  // A done job can be neither leased nor requeued; Requeue racing with the result changes
  // nothing (the dispatcher then forgets the job).
  EXPECT_FALSE(store_->MarkLeased(1, 3, "agent-1", 1).ok());
  EXPECT_EQ(store_->Requeue(1, 1, "lease expired").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(StateOf(1), "done");
}


TEST_P(StoreContractTest, ResultOfAnExpiredAttemptStillCountsOnce) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(2, 1, "slow", 1).ok());
  ASSERT_TRUE(store_->Requeue(2, 1, "lease expired").ok());
  ASSERT_TRUE(store_->MarkLeased(2, 2, "fast", 1).ok());
  // The slow attempt finishes first after all: its result is stored, the second is late.
  EXPECT_EQ(Record(Done(2, 1), "slow"), RecordOutcome::kStored);
  EXPECT_EQ(Record(Done(2, 2, 0.03), "fast"), RecordOutcome::kLate);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM measurements WHERE job_id = 2"), 1);
  EXPECT_EQ(QueryInt("SELECT attempt FROM measurements WHERE job_id = 2"), 1);
}


TEST_P(StoreContractTest, ResultOfAnAttemptNeverHandedOutIsRefused) {
  Create(MakeTestPlan());
  // Job 3 was never leased: no attempt of it exists, so no result can be its measurement.
  auto forged = store_->RecordResult(Done(3, 1), "intruder");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->MarkLeased(3, 1, "agent-1", 1).ok());
  auto ahead = store_->RecordResult(Done(3, 2), "agent-1");
  ASSERT_FALSE(ahead.ok());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM measurements WHERE job_id = 3"), 0);
  EXPECT_EQ(Record(Done(3, 1)), RecordOutcome::kStored);
}


TEST_P(StoreContractTest, BatchedWritesCommitTogetherAndAFailedOneLeavesTheOthers) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->BeginBatch().ok());
  EXPECT_FALSE(store_->BeginBatch().ok());  // no nesting
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  EXPECT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  // A refused write inside the batch leaves nothing of itself and spoils nothing else.
  EXPECT_FALSE(store_->MarkLeased(1, 2, "agent-1", 1).ok());
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-2", 1).ok());
  // Not yet durable: another connection does not see it.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM measurements"), 0);
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_FALSE(store_->CommitBatch().ok());  // nothing open
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM measurements"), 1);
  EXPECT_EQ(StateOf(1), "done");
  EXPECT_EQ(StateOf(2), "leased");
}


TEST_P(StoreContractTest, RecordFailureRetryThenFinal) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(3, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->RecordFailure(Failed(3, 1, Outcome::kTimeout, "took too long"), "agent-1",
                                    std::nullopt)
                  .ok());
  EXPECT_EQ(StateOf(3), "queued");
  EXPECT_EQ(QueryInt("SELECT attempts FROM jobs WHERE id = 3"), 1);
  const std::string err = QueryText("SELECT last_error FROM jobs WHERE id = 3");
  EXPECT_NE(err.find("took too long"), std::string::npos) << err;
  EXPECT_NE(err.find("TIMEOUT"), std::string::npos) << err;

  ASSERT_TRUE(store_->MarkLeased(3, 2, "agent-1", 1).ok());
  // A stale failure of attempt 1 does not touch attempt 2.
  ASSERT_TRUE(
      store_->RecordFailure(Failed(3, 1, Outcome::kLost, "old"), "agent-1", std::nullopt).ok());
  EXPECT_EQ(StateOf(3), "leased");
  ASSERT_TRUE(store_->RecordFailure(Failed(3, 2, Outcome::kFailed, "shape mismatch"), "agent-1",
                                    JobState::kFailed)
                  .ok());
  EXPECT_EQ(StateOf(3), "failed");
  EXPECT_NE(QueryText("SELECT last_error FROM jobs WHERE id = 3").find("shape mismatch"),
            std::string::npos);

  ASSERT_TRUE(store_->MarkLeased(4, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->RecordFailure(Failed(4, 1, Outcome::kSensor, "no rapl"), "agent-1",
                                    JobState::kQuarantined)
                  .ok());
  EXPECT_EQ(StateOf(4), "quarantined");
  auto quarantined = store_->ListQuarantined(10);
  ASSERT_TRUE(quarantined.ok());
  ASSERT_EQ(quarantined->size(), 1u);  // job 3 failed, which is not quarantine
  EXPECT_EQ((*quarantined)[0].job_id, 4);
  EXPECT_EQ((*quarantined)[0].attempts, 1);
  EXPECT_NE((*quarantined)[0].last_error.find("no rapl"), std::string::npos);
  EXPECT_FALSE(store_->RecordFailure(Failed(5, 0, Outcome::kFailed, "x"), "agent-1",
                                     JobState::kDone)
                   .ok());
  EXPECT_EQ(store_->RecordFailure(Failed(77, 1, Outcome::kFailed, "x"), "a", std::nullopt).code(),
            StatusCode::kNotFound);
}


TEST_P(StoreContractTest, CancelCampaignStopsDispatchAndKeepsMeasurements) {
  const int64_t cid = Create(MakeTestPlan());
  const int64_t other = Create(MakeTestPlan("other"));
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());

  ASSERT_TRUE(store_->CancelCampaign(cid).ok());
  EXPECT_EQ(StateOf(1), "done");
  EXPECT_EQ(StateOf(2), "cancelled");
  EXPECT_EQ(StateOf(3), "cancelled");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM measurements"), 1);
  // A result of a cancelled job arriving afterwards is late, and stored nowhere.
  EXPECT_EQ(Record(Done(2, 1)), RecordOutcome::kLate);

  auto jobs = store_->LoadActiveJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 5u);
  for (const ActiveJob& j : *jobs) EXPECT_EQ(j.spec.campaign_id, other);

  EXPECT_TRUE(store_->CancelCampaign(cid).ok());  // idempotent
  EXPECT_EQ(store_->CancelCampaign(999).code(), StatusCode::kNotFound);
}


TEST_P(StoreContractTest, ListAndFinishCampaigns) {
  const int64_t cid = Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);

  auto list = store_->ListCampaigns();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, cid);
  EXPECT_EQ((*list)[0].name, "test-campaign");
  EXPECT_EQ((*list)[0].state, "running");
  EXPECT_GT((*list)[0].created_ms, 0);
  const std::map<std::string, int64_t> want{{"done", 1}, {"leased", 1}, {"queued", 3}};
  EXPECT_EQ((*list)[0].jobs, want);

  EXPECT_FALSE(store_->FinishCampaign(cid).ok());  // jobs still open
  for (int64_t id = 2; id <= 5; ++id) {
    if (id > 2) {
      ASSERT_TRUE(store_->MarkLeased(id, 1, "agent-1", 1).ok());
    }
    ASSERT_EQ(Record(Done(id, 1)), RecordOutcome::kStored);
  }
  ASSERT_TRUE(store_->FinishCampaign(cid).ok());
  EXPECT_TRUE(store_->FinishCampaign(cid).ok());
  list = store_->ListCampaigns();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[0].state, "done");
  EXPECT_EQ((*list)[0].jobs, (std::map<std::string, int64_t>{{"done", 5}}));
  EXPECT_EQ(store_->FinishCampaign(999).code(), StatusCode::kNotFound);
  EXPECT_EQ((*list)[0].flagged, 0);  // every measurement met its target, nothing else
  EXPECT_TRUE((*list)[0].flags.empty());
  // Cancel does not rewrite a finished campaign.
  EXPECT_TRUE(store_->CancelCampaign(cid).ok());
  EXPECT_EQ(QueryText("SELECT state FROM campaigns"), "done");
}


TEST_P(StoreContractTest, ListCampaignsCountsFlaggedMeasurementsPerFlag) {
  const int64_t cid = Create(MakeTestPlan());
  const int64_t other = Create(MakeTestPlan("second"));
  JobResult shared = Done(1, 1);
  shared.measurement.ci_met = false;
  shared.measurement.flags = {"interference"};
  JobResult missed = Done(2, 1);
  missed.measurement.ci_met = false;  // "ci" from ci_met alone (QualityFlags)
  JobResult below = Done(3, 1);
  below.measurement.flags = {"below-idle"};
  for (JobResult* r : {&shared, &missed, &below}) {
    ASSERT_TRUE(store_->MarkLeased(r->job_id, 1, "agent-1", 1).ok());
    ASSERT_EQ(Record(*r), RecordOutcome::kStored);
  }
  ASSERT_TRUE(store_->MarkLeased(4, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(4, 1)), RecordOutcome::kStored);  // clean
  EXPECT_EQ(QueryText("SELECT quality_flags FROM measurements WHERE job_id = 1"),
            "ci;interference");

  auto list = store_->ListCampaigns();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, cid);
  EXPECT_EQ((*list)[0].flagged, 3);
  const std::map<std::string, int64_t> want{{"below-idle", 1}, {"ci", 2}, {"interference", 1}};
  EXPECT_EQ((*list)[0].flags, want);
  EXPECT_EQ((*list)[1].id, other);
  EXPECT_EQ((*list)[1].flagged, 0);
}

TEST_P(StoreContractTest, ExportRowsJoinLayersAndArchitectures) {
  const Plan plan = MakeTestPlan();
  const int64_t cid = Create(plan);
  Create(MakeTestPlan("second"));
  for (int64_t id : {1, 2, 3, 5}) {
    ASSERT_TRUE(store_->MarkLeased(id, 1, "agent-1", 1).ok());
    ASSERT_EQ(Record(Done(id, 1, 0.01 * id)), RecordOutcome::kStored);
  }
  ASSERT_TRUE(store_->MarkLeased(6, 1, "agent-2", 1).ok());
  ASSERT_EQ(Record(Done(6, 1), "agent-2"), RecordOutcome::kStored);

  auto rows = testing::Exported(backend_->Db(), cid);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  const ExportRow& fc1 = (*rows)[0];
  EXPECT_EQ(fc1.campaign_id, cid);
  EXPECT_EQ(fc1.campaign, "test-campaign");
  EXPECT_EQ(fc1.job_id, 1);
  EXPECT_EQ(fc1.attempt, 1);
  EXPECT_EQ(fc1.device, "agent-1");
  EXPECT_EQ(fc1.device_class, "cpu");
  EXPECT_EQ(fc1.kind, JobKind::kLayer);
  EXPECT_EQ(fc1.layer_key, kFc8x16);
  EXPECT_EQ(fc1.layer_type, "Linear");
  EXPECT_EQ(fc1.architecture, "mlp-a;mlp-b");  // shared by both, sorted
  EXPECT_EQ(fc1.mode, "inference");
  EXPECT_EQ(fc1.dtype, "float32");
  EXPECT_EQ(fc1.batch, 4);
  EXPECT_EQ(fc1.macs, 128 * 4);
  EXPECT_EQ(fc1.flops, 256 * 4);
  EXPECT_EQ(fc1.params, 144);
  EXPECT_GT(fc1.measured_at_ms, 0);
  EXPECT_EQ(fc1.m.sensor, "modeled");
  EXPECT_TRUE(fc1.m.energy_is_estimate);
  EXPECT_DOUBLE_EQ(fc1.m.energy_per_iter_j, 0.01);
  ASSERT_EQ(fc1.m.repeats.size(), 3u);
  EXPECT_DOUBLE_EQ(fc1.m.repeats[1].time_s, 0.51);
  EXPECT_EQ(fc1.m.torch_version, "2.1.0");

  EXPECT_EQ((*rows)[1].architecture, "mlp-a");  // relu
  EXPECT_EQ((*rows)[2].architecture, "mlp-b");  // fc2
  const ExportRow& model = (*rows)[3];
  EXPECT_EQ(model.job_id, 5);
  EXPECT_EQ(model.kind, JobKind::kModel);
  EXPECT_EQ(model.architecture, "mlp-b");
  EXPECT_TRUE(model.layer_key.empty());
  const LayerFeatures totals = plan.campaign.architectures[1].Totals();
  EXPECT_EQ(model.macs, totals.macs * 4);
  EXPECT_EQ(model.params, totals.params);

  auto all = testing::Exported(backend_->Db());
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[4].campaign, "second");
  EXPECT_EQ((*all)[4].device, "agent-2");
  EXPECT_EQ((*all)[4].architecture, "mlp-a;mlp-b");
}


// The text after the last `n` commas of a CSV line (the trailing columns, which hold no commas).
std::string LastCells(const std::string& line, int n) {
  size_t pos = line.size();
  for (int i = 0; i < n && pos != std::string::npos && pos > 0; ++i) pos = line.rfind(',', pos - 1);
  return pos == std::string::npos ? std::string() : line.substr(pos + 1);
}

TEST_P(StoreContractTest, TelemetryIsStoredAndExportedWithNullWhereNotExposed) {
  const int64_t cid = Create(MakeTestPlan());
  JobResult hot = Done(1, 1);
  hot.measurement.temperature_before_c = 41.5;
  hot.measurement.temperature_after_c = 63;
  hot.measurement.clock_before_mhz = 3000;
  // clock_after_mhz: not exposed (NaN).
  hot.measurement.telemetry_source = "sysfs:x86_pkg_temp+cpufreq";
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(hot), RecordOutcome::kStored);
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(2, 1)), RecordOutcome::kStored);  // nothing exposed at all

  const auto column = [&](const char* name, int job) {
    return QueryText(std::string("SELECT ") + name +
                                " FROM measurements WHERE job_id = " + std::to_string(job));
  };
  // Numbers compared as numbers: SQLite writes a REAL 63 as "63.0", PostgreSQL as "63"
  // (store_test.cc checks that SQLite stores them as REAL).
  EXPECT_DOUBLE_EQ(std::stod(column("temperature_before_c", 1)), 41.5);
  EXPECT_DOUBLE_EQ(std::stod(column("temperature_after_c", 1)), 63);
  EXPECT_DOUBLE_EQ(std::stod(column("clock_before_mhz", 1)), 3000);
  EXPECT_EQ(column("clock_after_mhz", 1), "<null>");
  EXPECT_EQ(column("telemetry_source", 1), "sysfs:x86_pkg_temp+cpufreq");
  for (const char* name : {"temperature_before_c", "temperature_after_c", "clock_before_mhz",
                           "clock_after_mhz", "telemetry_source"}) {
    EXPECT_EQ(column(name, 2), "<null>") << name;
  }

  auto rows = testing::Exported(backend_->Db(), cid);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_DOUBLE_EQ((*rows)[0].m.temperature_before_c, 41.5);
  EXPECT_TRUE(std::isnan((*rows)[0].m.clock_after_mhz));
  EXPECT_TRUE(std::isnan((*rows)[1].m.temperature_before_c));
  std::ostringstream csv;
  WriteCsv(*rows, csv);
  std::istringstream lines(csv.str());
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  // The sensor's bound and period follow, empty for measurements that did not record them,
  // and the energy model of an estimate (none here: measured).
  EXPECT_EQ(LastCells(header, 11),
            "temperature_before_c,temperature_after_c,clock_before_mhz,clock_after_mhz,"
            "telemetry_source,interference,windows_discarded,quality_flags,energy_bound_j,"
            "sensor_update_period_s,energy_model");
  EXPECT_EQ(LastCells(first, 11), "41.5,63,3000,,sysfs:x86_pkg_temp+cpufreq,,0,,,,");
  EXPECT_EQ(LastCells(second, 11), ",,,,,,0,,,,");
}


TEST_P(StoreContractTest, FailedCreateCampaignLeavesNothing) {
  Plan bad_ref = MakeTestPlan();
  bad_ref.arch_layers.push_back({"mlp-b", 2, "fc3", "NoSuchLayer()[1]"});  // foreign key
  auto r1 = store_->CreateCampaign(bad_ref);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("fc3"), std::string::npos) << r1.status().ToString();

  Plan dup_arch = MakeTestPlan();
  dup_arch.campaign.architectures.push_back(dup_arch.campaign.architectures[0]);
  auto r2 = store_->CreateCampaign(dup_arch);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kAlreadyExists) << r2.status().ToString();

  Plan unknown_arch = MakeTestPlan();
  unknown_arch.arch_layers.push_back({"mlp-z", 0, "x", kRelu16});
  EXPECT_FALSE(store_->CreateCampaign(unknown_arch).ok());

  for (const char* table : {"campaigns", "architectures", "layers", "arch_layers", "jobs"})
    EXPECT_EQ(QueryInt(std::string("SELECT COUNT(*) FROM ") + table), 0) << table;
  // The connection is usable afterwards (no transaction left open).
  EXPECT_GT(Create(MakeTestPlan()), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM jobs"), 5);
}


TEST_P(StoreContractTest, EverythingSurvivesReopen) {
  const int64_t cid = Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 777).ok());
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(2, 1)), RecordOutcome::kStored);
  ASSERT_TRUE(store_->UpsertDevice({"agent-1", "cpu", R"({"cores":8})"}).ok());

  store_.reset();  // close, as a killed-and-restarted controller would
  Open();
  auto jobs = store_->LoadActiveJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 4u);
  EXPECT_EQ((*jobs)[0].spec.job_id, 1);
  EXPECT_EQ((*jobs)[0].state, JobState::kLeased);
  EXPECT_EQ((*jobs)[0].lease_deadline_ms, 777);
  EXPECT_EQ((*jobs)[1].spec.job_id, 3);
  auto rows = testing::Exported(backend_->Db(), cid);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].job_id, 2);
  // A duplicate delivery after the restart is still recognised.
  EXPECT_EQ(Record(Done(2, 1)), RecordOutcome::kDuplicate);
  EXPECT_EQ(QueryText("SELECT class FROM devices WHERE name = 'agent-1'"), "cpu");
}


TEST_P(StoreContractTest, UpsertDeviceKeepsFirstSeen) {
  ASSERT_TRUE(store_->UpsertDevice({"gpu-box", "cuda", "{}"}).ok());
  Exec("UPDATE devices SET first_seen_ms = 5, last_seen_ms = 5");
  ASSERT_TRUE(store_->UpsertDevice({"gpu-box", "jetson", R"({"sensor":"tegrastats"})"}).ok());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM devices"), 1);
  EXPECT_EQ(QueryInt("SELECT first_seen_ms FROM devices"), 5);
  EXPECT_GT(QueryInt("SELECT last_seen_ms FROM devices"), 5);
  EXPECT_EQ(QueryText("SELECT class FROM devices"), "jetson");
  EXPECT_EQ(QueryText("SELECT capabilities_json FROM devices"),
            R"({"sensor":"tegrastats"})");
  EXPECT_FALSE(store_->UpsertDevice({"", "cpu", "{}"}).ok());
}

}  // namespace
}  // namespace wattfleet::testing
