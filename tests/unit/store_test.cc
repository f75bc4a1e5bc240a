// The SQLite store against real files in a temporary directory: schema and migration, the job
// state machine, idempotent results, campaigns, exports, rollback and durability.
#include <sqlite3.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "temp_dir.h"

#include "export.h"
#include "store.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

using testing::TempDir;

using testing::ExecRaw;
using testing::QueryInt;
using testing::QueryText;

// Hand-built layers: the keys contain commas like real canonical keys do.
const char* kFc8x16 = "Linear(bias=1,in_features=8,out_features=16)[8]";
const char* kRelu16 = "ReLU()[16]";
const char* kFc16x4 = "Linear(bias=1,in_features=16,out_features=4)[16]";

LayerSpec LinearSpec(int64_t in, int64_t out) {
  LayerSpec s;
  s.type = LayerType::kLinear;
  s.params = {{"bias", 1}, {"in_features", double(in)}, {"out_features", double(out)}};
  s.input_shape = {in};
  return s;
}

LayerSpec ReluSpec(int64_t n) {
  LayerSpec s;
  s.type = LayerType::kReLU;
  s.input_shape = {n};
  return s;
}

PlannedLayer Planned(const std::string& key, LayerSpec spec, int64_t macs, int64_t params,
                     Shape out) {
  PlannedLayer l;
  l.key = key;
  l.spec = std::move(spec);
  l.features.macs = macs;
  l.features.flops = 2 * macs;
  l.features.params = params;
  l.features.input_elements = NumElements(l.spec.input_shape);
  l.features.output_elements = NumElements(out);
  l.features.output_shape = std::move(out);
  return l;
}

Architecture MakeArch(const std::string& name, std::vector<ArchNode> nodes) {
  Architecture a;
  a.name = name;
  a.family = "mlp";
  a.input_shape = {8};
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i].inputs = {static_cast<int>(i) - 1};
  a.nodes = std::move(nodes);
  return a;
}

JobSpec MakeJob(JobKind kind, const std::string& subject, Architecture graph) {
  JobSpec j;
  j.kind = kind;
  j.batch = 4;
  j.device_class = "cpu";
  j.subject = subject;
  j.graph = std::move(graph);
  j.lease_ms = 60000;
  j.settings.max_repeats = 7;
  return j;
}

// Two architectures sharing their first layer: mlp-a = fc1(8->16), relu; mlp-b = fc1(8->16),
// fc2(16->4). Jobs: the three distinct layers, then the two whole models (ids 1..5 in a fresh
// file).
Plan MakePlan(const std::string& name = "test-campaign") {
  Plan p;
  p.campaign.name = name;
  p.campaign.batch_size = 4;
  p.campaign.source_path = "campaign.yaml";
  p.campaign.source_text = "name: " + name + "\n";
  p.campaign.architectures = {
      MakeArch("mlp-a", {{"fc1", LinearSpec(8, 16), {}}, {"relu", ReluSpec(16), {}}}),
      MakeArch("mlp-b", {{"fc1", LinearSpec(8, 16), {}}, {"fc2", LinearSpec(16, 4), {}}}),
  };
  p.layers = {Planned(kFc8x16, LinearSpec(8, 16), 128, 144, {16}),
              Planned(kRelu16, ReluSpec(16), 0, 0, {16}),
              Planned(kFc16x4, LinearSpec(16, 4), 64, 68, {4})};
  p.arch_layers = {{"mlp-a", 0, "fc1", kFc8x16},
                   {"mlp-a", 1, "relu", kRelu16},
                   {"mlp-b", 0, "fc1", kFc8x16},
                   {"mlp-b", 1, "fc2", kFc16x4}};
  for (const PlannedLayer& l : p.layers)
    p.jobs.push_back(MakeJob(JobKind::kLayer, l.key, MakeArch("single", {{"n", l.spec, {}}})));
  for (const Architecture& a : p.campaign.architectures)
    p.jobs.push_back(MakeJob(JobKind::kModel, a.name, a));
  p.layers_total = 4;
  return p;
}

Measurement MakeMeasurement(double energy) {
  Measurement m;
  m.sensor = "modeled";
  m.domain = "cpu-estimate";
  m.energy_is_estimate = true;
  m.repeats = {{100, 0.5, 2.0}, {100, 0.51, 2.1}, {100, 0.49, 1.9}};
  m.iterations_per_window = 100;
  m.time_per_iter_s = 0.005;
  m.time_std_s = 0.0001;
  m.energy_per_iter_j = energy;
  m.energy_std_j = 0.001;
  m.energy_dynamic_per_iter_j = energy / 2;
  m.idle_w = 10.5;
  m.rel_ci = 0.01;
  m.time_rel_ci = 0.02;
  m.ci_met = true;
  m.agent_name = "agent-1";
  m.agent_version = "0.1.0";
  m.torch_version = "2.1.0";
  m.device = "cpu";
  m.threads = 4;
  return m;
}

JobResult Done(int64_t job_id, int32_t attempt, double energy = 0.02) {
  JobResult r;
  r.job_id = job_id;
  r.attempt = attempt;
  r.outcome = Outcome::kDone;
  r.measurement = MakeMeasurement(energy);
  return r;
}

JobResult Failed(int64_t job_id, int32_t attempt, Outcome outcome, const std::string& error) {
  JobResult r;
  r.job_id = job_id;
  r.attempt = attempt;
  r.outcome = outcome;
  r.error = error;
  return r;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    auto s = OpenSqliteStore(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  int64_t Create(const Plan& plan) {
    auto id = store_->CreateCampaign(plan);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : -1;
  }
  std::string StateOf(int64_t id) {
    return QueryText(path_, "SELECT state FROM jobs WHERE id = " + std::to_string(id));
  }
  RecordOutcome Record(const JobResult& r, const std::string& agent = "agent-1") {
    auto out = store_->RecordResult(r, agent);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : RecordOutcome::kConflict;
  }

  TempDir dir_;
  std::string path_ = dir_.File("dataset.db");
  std::unique_ptr<Store> store_;
};

TEST(JobStateTest, NamesRoundTrip) {
  for (auto s : {JobState::kPlanned, JobState::kQueued, JobState::kLeased, JobState::kDone,
                 JobState::kFailed, JobState::kQuarantined, JobState::kCancelled}) {
    EXPECT_EQ(ParseJobState(JobStateName(s)), s);
  }
  EXPECT_EQ(JobStateName(JobState::kQuarantined), "quarantined");
  EXPECT_FALSE(ParseJobState("Queued").has_value());
}

TEST_F(StoreTest, SchemaCreatedInWalModeAndReopened) {
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), 4);
  EXPECT_EQ(QueryText(path_, "PRAGMA journal_mode"), "wal");
  for (const char* table : {"campaigns", "architectures", "layers", "arch_layers", "devices",
                            "jobs", "measurements", "external_devices", "imports",
                            "external_measurements", "models"}) {
    EXPECT_EQ(QueryInt(path_, std::string("SELECT COUNT(*) FROM sqlite_master WHERE name = '") +
                                  table + "'"),
              1)
        << table;
  }
  store_.reset();
  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), 4);
}

TEST_F(StoreTest, NewerSchemaVersionIsRefusedNamingBothVersions) {
  store_.reset();
  ExecRaw(path_, "PRAGMA user_version = 7");
  auto s = OpenSqliteStore(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("version 7"), std::string::npos) << s.status().ToString();
  EXPECT_NE(s.status().message().find("version 4"), std::string::npos) << s.status().ToString();
}

TEST(StoreOpenTest, NotADatabaseIsAnError) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  std::ofstream(path) << std::string(4096, 'x');
  auto s = OpenSqliteStore(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << s.status().ToString();
  auto missing_dir = OpenSqliteStore(dir.File("no/such/dir/x.db"));
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.status().code(), StatusCode::kIOError);
}

TEST_F(StoreTest, CreateCampaignThenLoadActiveJobsRoundTrips) {
  const Plan plan = MakePlan();
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
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT spec FROM jobs WHERE id = 4", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const std::string blob(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                         sqlite3_column_bytes(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  auto spec = DecodeJob(blob);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->job_id, 4);
  EXPECT_EQ(spec->campaign_id, cid);
  EXPECT_EQ(spec->subject, "mlp-a");

  EXPECT_EQ(QueryText(path_, "SELECT yaml FROM campaigns"), "name: test-campaign\n");
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM arch_layers"), 4);
  EXPECT_EQ(QueryInt(path_, "SELECT layers FROM architectures WHERE name = 'mlp-b'"), 2);
}

TEST_F(StoreTest, LayersAreSharedAcrossCampaigns) {
  Create(MakePlan("one"));
  Create(MakePlan("two"));
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM layers"), 3);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM architectures"), 4);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM jobs"), 10);
}

TEST_F(StoreTest, LeaseAndRequeueStateMachine) {
  Create(MakePlan());
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

  ASSERT_TRUE(store_->Requeue(1, "lease expired").ok());
  EXPECT_EQ(StateOf(1), "queued");
  EXPECT_EQ(QueryText(path_, "SELECT last_error FROM jobs WHERE id = 1"), "lease expired");
  // Attempts are kept: the next lease is attempt 2.
  EXPECT_EQ(QueryInt(path_, "SELECT attempts FROM jobs WHERE id = 1"), 1);
  // Requeue of a job that is not leased changes nothing.
  ASSERT_TRUE(store_->Requeue(1, "again").ok());
  EXPECT_EQ(QueryText(path_, "SELECT last_error FROM jobs WHERE id = 1"), "lease expired");
  ASSERT_TRUE(store_->MarkLeased(1, 2, "agent-2", 1).ok());
  EXPECT_EQ(QueryInt(path_, "SELECT attempts FROM jobs WHERE id = 1"), 2);

  EXPECT_EQ(store_->MarkLeased(99, 1, "a", 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Requeue(99, "x").code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, RecordResultOutcomes) {
  Create(MakePlan());
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
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements WHERE job_id = 1"), 1);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements"), 1);
  EXPECT_EQ(QueryInt(path_, "SELECT repeats FROM measurements"), 3);
  EXPECT_EQ(QueryText(path_, "SELECT length(payload_hash) FROM measurements"), "16");

  auto unknown = store_->RecordResult(Done(42, 1), "agent-1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);

  // A done job can be neither leased nor requeued; Requeue racing with the result is a no-op.
  EXPECT_FALSE(store_->MarkLeased(1, 3, "agent-1", 1).ok());
  EXPECT_TRUE(store_->Requeue(1, "lease expired").ok());
  EXPECT_EQ(StateOf(1), "done");
}

TEST_F(StoreTest, ResultOfAnExpiredAttemptStillCountsOnce) {
  Create(MakePlan());
  ASSERT_TRUE(store_->MarkLeased(2, 1, "slow", 1).ok());
  ASSERT_TRUE(store_->Requeue(2, "lease expired").ok());
  ASSERT_TRUE(store_->MarkLeased(2, 2, "fast", 1).ok());
  // The slow attempt finishes first after all: its result is stored, the second is late.
  EXPECT_EQ(Record(Done(2, 1), "slow"), RecordOutcome::kStored);
  EXPECT_EQ(Record(Done(2, 2, 0.03), "fast"), RecordOutcome::kLate);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements WHERE job_id = 2"), 1);
  EXPECT_EQ(QueryInt(path_, "SELECT attempt FROM measurements WHERE job_id = 2"), 1);
}

TEST_F(StoreTest, ResultOfAnAttemptNeverHandedOutIsRefused) {
  Create(MakePlan());
  // Job 3 was never leased: no attempt of it exists, so no result can be its measurement.
  auto forged = store_->RecordResult(Done(3, 1), "intruder");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->MarkLeased(3, 1, "agent-1", 1).ok());
  auto ahead = store_->RecordResult(Done(3, 2), "agent-1");
  ASSERT_FALSE(ahead.ok());
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements WHERE job_id = 3"), 0);
  EXPECT_EQ(Record(Done(3, 1)), RecordOutcome::kStored);
}

TEST_F(StoreTest, BatchedWritesCommitTogetherAndAFailedOneLeavesTheOthers) {
  Create(MakePlan());
  ASSERT_TRUE(store_->BeginBatch().ok());
  EXPECT_FALSE(store_->BeginBatch().ok());  // no nesting
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  EXPECT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  // A refused write inside the batch leaves nothing of itself and spoils nothing else.
  EXPECT_FALSE(store_->MarkLeased(1, 2, "agent-1", 1).ok());
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-2", 1).ok());
  // Not yet durable: another connection does not see it.
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements"), 0);
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_FALSE(store_->CommitBatch().ok());  // nothing open
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements"), 1);
  EXPECT_EQ(StateOf(1), "done");
  EXPECT_EQ(StateOf(2), "leased");
}

TEST_F(StoreTest, RecordFailureRetryThenFinal) {
  Create(MakePlan());
  ASSERT_TRUE(store_->MarkLeased(3, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->RecordFailure(Failed(3, 1, Outcome::kTimeout, "took too long"), "agent-1",
                                    std::nullopt)
                  .ok());
  EXPECT_EQ(StateOf(3), "queued");
  EXPECT_EQ(QueryInt(path_, "SELECT attempts FROM jobs WHERE id = 3"), 1);
  const std::string err = QueryText(path_, "SELECT last_error FROM jobs WHERE id = 3");
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
  EXPECT_NE(QueryText(path_, "SELECT last_error FROM jobs WHERE id = 3").find("shape mismatch"),
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

TEST_F(StoreTest, CancelCampaignStopsDispatchAndKeepsMeasurements) {
  const int64_t cid = Create(MakePlan());
  const int64_t other = Create(MakePlan("other"));
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());

  ASSERT_TRUE(store_->CancelCampaign(cid).ok());
  EXPECT_EQ(StateOf(1), "done");
  EXPECT_EQ(StateOf(2), "cancelled");
  EXPECT_EQ(StateOf(3), "cancelled");
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements"), 1);
  // A result of a cancelled job arriving afterwards is late, and stored nowhere.
  EXPECT_EQ(Record(Done(2, 1)), RecordOutcome::kLate);

  auto jobs = store_->LoadActiveJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 5u);
  for (const ActiveJob& j : *jobs) EXPECT_EQ(j.spec.campaign_id, other);

  EXPECT_TRUE(store_->CancelCampaign(cid).ok());  // idempotent
  EXPECT_EQ(store_->CancelCampaign(999).code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ListAndFinishCampaigns) {
  const int64_t cid = Create(MakePlan());
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
  // Cancel does not rewrite a finished campaign.
  EXPECT_TRUE(store_->CancelCampaign(cid).ok());
  EXPECT_EQ(QueryText(path_, "SELECT state FROM campaigns"), "done");
}

TEST_F(StoreTest, ExportRowsJoinLayersAndArchitectures) {
  const Plan plan = MakePlan();
  const int64_t cid = Create(plan);
  Create(MakePlan("second"));
  for (int64_t id : {1, 2, 3, 5}) {
    ASSERT_TRUE(store_->MarkLeased(id, 1, "agent-1", 1).ok());
    ASSERT_EQ(Record(Done(id, 1, 0.01 * id)), RecordOutcome::kStored);
  }
  ASSERT_TRUE(store_->MarkLeased(6, 1, "agent-2", 1).ok());
  ASSERT_EQ(Record(Done(6, 1), "agent-2"), RecordOutcome::kStored);

  auto rows = store_->ExportRows(cid);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  const ExportRow& fc1 = (*rows)[0];
  EXPECT_EQ(fc1.campaign_id, cid);
  EXPECT_EQ(fc1.campaign, "test-campaign");
  EXPECT_EQ(fc1.job_id, 1);
  EXPECT_EQ(fc1.attempt, 1);
  EXPECT_EQ(fc1.device, "agent-1");
  EXPECT_EQ(fc1.device_class, "cpu");
  EXPECT_EQ(fc1.kind, "layer");
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
  EXPECT_EQ(model.kind, "model");
  EXPECT_EQ(model.architecture, "mlp-b");
  EXPECT_TRUE(model.layer_key.empty());
  const LayerFeatures totals = plan.campaign.architectures[1].Totals();
  EXPECT_EQ(model.macs, totals.macs * 4);
  EXPECT_EQ(model.params, totals.params);

  auto all = store_->ExportRows(std::nullopt);
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

TEST_F(StoreTest, TelemetryIsStoredAndExportedWithNullWhereNotExposed) {
  const int64_t cid = Create(MakePlan());
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
    return QueryText(path_, std::string("SELECT ") + name +
                                " FROM measurements WHERE job_id = " + std::to_string(job));
  };
  EXPECT_EQ(column("temperature_before_c", 1), "41.5");
  EXPECT_EQ(column("temperature_after_c", 1), "63.0");
  EXPECT_EQ(column("clock_before_mhz", 1), "3000.0");
  EXPECT_EQ(column("clock_after_mhz", 1), "<null>");
  EXPECT_EQ(column("telemetry_source", 1), "sysfs:x86_pkg_temp+cpufreq");
  for (const char* name : {"temperature_before_c", "temperature_after_c", "clock_before_mhz",
                           "clock_after_mhz", "telemetry_source"}) {
    EXPECT_EQ(column(name, 2), "<null>") << name;
  }

  auto rows = store_->ExportRows(cid);
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
  EXPECT_EQ(LastCells(header, 5),
            "temperature_before_c,temperature_after_c,clock_before_mhz,clock_after_mhz,"
            "telemetry_source");
  EXPECT_EQ(LastCells(first, 5), "41.5,63,3000,,sysfs:x86_pkg_temp+cpufreq");
  EXPECT_EQ(LastCells(second, 5), ",,,,");
}

TEST_F(StoreTest, VersionOneFileGainsTelemetryColumnsKeepingItsRows) {
  Create(MakePlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  store_.reset();
  // Back to the version 1 schema, as a file written before telemetry was recorded.
  for (const char* col : {"temperature_before_c", "temperature_after_c", "clock_before_mhz",
                          "clock_after_mhz", "telemetry_source"}) {
    ExecRaw(path_, std::string("ALTER TABLE measurements DROP COLUMN ") + col);
  }
  // Version 3's and 4's tables did not exist either.
  for (const char* table : {"external_measurements", "imports", "external_devices", "models"}) {
    ExecRaw(path_, std::string("DROP TABLE ") + table);
  }
  ExecRaw(path_, "PRAGMA user_version = 1");
  ASSERT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM pragma_table_info('measurements') "
                            "WHERE name = 'telemetry_source'"),
            0);

  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), 4);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'imports'"), 1);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM pragma_table_info('measurements') WHERE "
                            "name IN ('temperature_before_c', 'temperature_after_c', "
                            "'clock_before_mhz', 'clock_after_mhz', 'telemetry_source')"),
            5);
  EXPECT_EQ(QueryText(path_, "SELECT temperature_before_c FROM measurements WHERE job_id = 1"),
            "<null>");
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  JobResult r = Done(2, 1);
  r.measurement.clock_after_mhz = 1410;
  ASSERT_EQ(Record(r), RecordOutcome::kStored);
  EXPECT_EQ(QueryText(path_, "SELECT clock_after_mhz FROM measurements WHERE job_id = 2"),
            "1410.0");
}

TEST_F(StoreTest, VersionThreeFileGainsTheModelsTableKeepingItsRows) {
  Create(MakePlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  store_.reset();
  // Back to version 3, as a file written before fitted estimators were stored.
  ExecRaw(path_, "DROP TABLE models");
  ExecRaw(path_, "PRAGMA user_version = 3");

  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), 4);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM measurements"), 1);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM pragma_table_info('models') WHERE name IN "
                            "('estimator', 'device_class', 'mode', 'target', 'format_version', "
                            "'wattfleet_version', 'fingerprint', 'training_json', 'state_json', "
                            "'created_ms')"),
            10);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM models"), 0);
  // The target is checked by the schema.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db,
                         "INSERT INTO models(estimator, device_class, mode, target, "
                         "format_version, wattfleet_version, fingerprint, training_json, "
                         "state_json, created_ms) VALUES('macs', 'cpu', 'inference', 'power', "
                         "1, 'x', 'f', '{}', '{}', 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(StoreTest, FailedCreateCampaignLeavesNothing) {
  Plan bad_ref = MakePlan();
  bad_ref.arch_layers.push_back({"mlp-b", 2, "fc3", "NoSuchLayer()[1]"});  // foreign key
  auto r1 = store_->CreateCampaign(bad_ref);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("fc3"), std::string::npos) << r1.status().ToString();

  Plan dup_arch = MakePlan();
  dup_arch.campaign.architectures.push_back(dup_arch.campaign.architectures[0]);
  auto r2 = store_->CreateCampaign(dup_arch);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kAlreadyExists) << r2.status().ToString();

  Plan unknown_arch = MakePlan();
  unknown_arch.arch_layers.push_back({"mlp-z", 0, "x", kRelu16});
  EXPECT_FALSE(store_->CreateCampaign(unknown_arch).ok());

  for (const char* table : {"campaigns", "architectures", "layers", "arch_layers", "jobs"})
    EXPECT_EQ(QueryInt(path_, std::string("SELECT COUNT(*) FROM ") + table), 0) << table;
  // The connection is usable afterwards (no transaction left open).
  EXPECT_GT(Create(MakePlan()), 0);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM jobs"), 5);
}

TEST_F(StoreTest, EverythingSurvivesReopen) {
  const int64_t cid = Create(MakePlan());
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
  auto rows = store_->ExportRows(cid);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].job_id, 2);
  // A duplicate delivery after the restart is still recognised.
  EXPECT_EQ(Record(Done(2, 1)), RecordOutcome::kDuplicate);
  EXPECT_EQ(QueryText(path_, "SELECT class FROM devices WHERE name = 'agent-1'"), "cpu");
}

TEST_F(StoreTest, UpsertDeviceKeepsFirstSeen) {
  ASSERT_TRUE(store_->UpsertDevice({"gpu-box", "cuda", "{}"}).ok());
  ExecRaw(path_, "UPDATE devices SET first_seen_ms = 5, last_seen_ms = 5");
  ASSERT_TRUE(store_->UpsertDevice({"gpu-box", "jetson", R"({"sensor":"tegrastats"})"}).ok());
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM devices"), 1);
  EXPECT_EQ(QueryInt(path_, "SELECT first_seen_ms FROM devices"), 5);
  EXPECT_GT(QueryInt(path_, "SELECT last_seen_ms FROM devices"), 5);
  EXPECT_EQ(QueryText(path_, "SELECT class FROM devices"), "jetson");
  EXPECT_EQ(QueryText(path_, "SELECT capabilities_json FROM devices"),
            R"({"sensor":"tegrastats"})");
  EXPECT_FALSE(store_->UpsertDevice({"", "cpu", "{}"}).ok());
}

}  // namespace
}  // namespace wattfleet
