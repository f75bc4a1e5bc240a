// The Store contract, written once (store_contract.cc, and store_read_contract.cc for the read
// side: DatasetReader, ModelTable) and run against every backend: each
// backend's test binary instantiates StoreContractTest with a factory of fresh datasets
// (store_test.cc: SQLite files; pg_store_test.cc: PostgreSQL databases on a real server).
//
// Also the hand-built plans, measurements and results those tests store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "wattfleet/store/store.h"
#include "wattfleet/common/job.h"

namespace wattfleet::testing {

// One fresh, empty dataset for one test, opened as often as the test needs, and raw SQL on a
// connection of its own for checks the Store interface does not expose. The SQL the contract
// uses reads the same on SQLite and PostgreSQL.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  virtual Result<std::unique_ptr<Store>> Open() = 0;
  // The dataset as --db names it (a file path or a postgresql:// URI): what the read side
  // (OpenDatasetReader, OpenModelTable) is opened with.
  virtual std::string Db() const = 0;
  // The first column of the first row: -1 without a row.
  virtual int64_t QueryInt(const std::string& sql) = 0;
  // As text: "<no row>" without a row, "<null>" for NULL.
  virtual std::string QueryText(const std::string& sql) = 0;
  // A BLOB (SQLite) or BYTEA (PostgreSQL) column's bytes.
  virtual std::string QueryBytes(const std::string& sql) = 0;
  virtual void Exec(const std::string& sql) = 0;
};

// Makes a fresh dataset; on failure it reports why (ADD_FAILURE) and returns null.
using BackendFactory = std::unique_ptr<StoreBackend> (*)();

// Hand-built layers: the keys contain commas like real canonical keys do.
inline constexpr const char* kFc8x16 = "Linear(bias=1,in_features=8,out_features=16)[8]";
inline constexpr const char* kRelu16 = "ReLU()[16]";
inline constexpr const char* kFc16x4 = "Linear(bias=1,in_features=16,out_features=4)[16]";

inline LayerSpec LinearSpec(int64_t in, int64_t out) {
  LayerSpec s;
  s.type = LayerType::kLinear;
  s.params = {{"bias", 1}, {"in_features", double(in)}, {"out_features", double(out)}};
  s.input_shape = {in};
  return s;
}

inline LayerSpec ReluSpec(int64_t n) {
  LayerSpec s;
  s.type = LayerType::kReLU;
  s.input_shape = {n};
  return s;
}

inline PlannedLayer Planned(const std::string& key, LayerSpec spec, int64_t macs,
                            int64_t params, Shape out) {
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

inline Architecture MakeArch(const std::string& name, std::vector<ArchNode> nodes) {
  Architecture a;
  a.name = name;
  a.family = "mlp";
  a.input_shape = {8};
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i].inputs = {static_cast<int>(i) - 1};
  a.nodes = std::move(nodes);
  return a;
}

inline JobSpec MakeJob(JobKind kind, const std::string& subject, Architecture graph) {
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
// dataset).
inline Plan MakeTestPlan(const std::string& name = "test-campaign") {
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

inline Measurement MakeMeasurement(double energy) {
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

inline JobResult Done(int64_t job_id, int32_t attempt, double energy = 0.02) {
  JobResult r;
  r.job_id = job_id;
  r.attempt = attempt;
  r.outcome = Outcome::kDone;
  r.measurement = MakeMeasurement(energy);
  return r;
}

inline JobResult Failed(int64_t job_id, int32_t attempt, Outcome outcome,
                        const std::string& error) {
  JobResult r;
  r.job_id = job_id;
  r.attempt = attempt;
  r.outcome = outcome;
  r.error = error;
  return r;
}

// The contract's fixture: a fresh dataset of the backend under test, and a store open on it.
class StoreContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam()();
    ASSERT_NE(backend_, nullptr) << "no dataset to test on";
    Open();
  }
  void Open() {
    auto s = backend_->Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  int64_t Create(const Plan& plan) {
    auto id = store_->CreateCampaign(plan);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : -1;
  }
  std::string StateOf(int64_t id) {
    return QueryText("SELECT state FROM jobs WHERE id = " + std::to_string(id));
  }
  RecordOutcome Record(const JobResult& r, const std::string& agent = "agent-1") {
    auto out = store_->RecordResult(r, agent);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : RecordOutcome::kConflict;
  }
  int64_t QueryInt(const std::string& sql) { return backend_->QueryInt(sql); }
  std::string QueryText(const std::string& sql) { return backend_->QueryText(sql); }
  void Exec(const std::string& sql) { backend_->Exec(sql); }

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;  // after backend_: closed before the dataset goes
};

}  // namespace wattfleet::testing
