// The read side of the Store contract, against whichever backend the test binary instantiates
// it with: what fit, predict and report read (DatasetReader) and the fitted models they keep
// (ModelTable) are the same from an SQLite file and from a PostgreSQL database.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "store_contract.h"
#include "wattfleet/common/protocol.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet::testing {
namespace {

TEST_P(StoreContractTest, ADatasetReaderSeesWhatTheStoreWrote) {
  const int64_t cid = Create(MakeTestPlan());
  ASSERT_TRUE(store_->UpsertDevice({"agent-1", "cpu", R"({"cores":8,"peak_flops":1e11})"}).ok());
  // Layer fc2 (job 3) and model mlp-a (job 4) measured; the rest still queued.
  for (int64_t job : {3, 4}) ASSERT_TRUE(store_->MarkLeased(job, 1, "agent-1", 1).ok());
  EXPECT_EQ(Record(Done(3, 1, 0.25)), RecordOutcome::kStored);
  EXPECT_EQ(Record(Done(4, 1, 0.5)), RecordOutcome::kStored);

  auto reader = OpenDatasetReader(backend_->Db());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  auto layers = (*reader)->Layers();
  ASSERT_TRUE(layers.ok()) << layers.status().ToString();
  std::map<std::string, LayerRecord> by_key;
  for (const LayerRecord& l : *layers) by_key[l.key] = l;
  ASSERT_EQ(by_key.size(), 3u);
  EXPECT_EQ(by_key[kFc16x4].type, "Linear");
  EXPECT_EQ(by_key[kFc16x4].macs, 64);
  EXPECT_EQ(by_key[kFc16x4].flops, 128);
  EXPECT_EQ(by_key[kFc16x4].params, 68);
  EXPECT_EQ(by_key[kFc16x4].input_elements, 16);
  EXPECT_EQ(by_key[kFc16x4].output_elements, 4);

  std::vector<MeasurementRecord> seen;
  ASSERT_TRUE((*reader)
                  ->ForEachMeasurement([&](const MeasurementRecord& m) {
                    seen.push_back(m);
                    return Status::OK();
                  })
                  .ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_LT(seen[0].id, seen[1].id);  // storage order
  const MeasurementRecord& layer = seen[0];
  EXPECT_EQ(layer.kind, JobKind::kLayer);
  EXPECT_EQ(layer.subject, kFc16x4);
  EXPECT_EQ(layer.campaign_id, cid);
  EXPECT_EQ(layer.campaign, "test-campaign");
  EXPECT_EQ(layer.device_class, "cpu");
  EXPECT_EQ(layer.batch, 4);
  EXPECT_EQ(layer.agent, "agent-1");
  EXPECT_DOUBLE_EQ(layer.m.energy_per_iter_j, 0.25);
  EXPECT_TRUE(layer.m.energy_is_estimate);
  EXPECT_TRUE(layer.m.ci_met);
  EXPECT_FALSE(layer.architecture_id.has_value());
  EXPECT_EQ(layer.capabilities_json, R"({"cores":8,"peak_flops":1e11})");
  // The job as dispatched comes back byte for byte: it decodes as what was stored.
  auto spec = DecodeJob(layer.spec);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->job_id, 3);

  const MeasurementRecord& model = seen[1];
  EXPECT_EQ(model.kind, JobKind::kModel);
  EXPECT_EQ(model.subject, "mlp-a");
  EXPECT_EQ(model.family, "mlp");
  EXPECT_EQ(model.input_shape, "[8]");
  ASSERT_TRUE(model.architecture_id.has_value());
  auto keys = (*reader)->ArchitectureLayers(*model.architecture_id);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (std::vector<std::string>{kFc8x16, kRelu16}));

  // Every architecture of the campaign, with its features and node count.
  auto archs = (*reader)->Architectures();
  ASSERT_TRUE(archs.ok()) << archs.status().ToString();
  const ArchitectureRecord* mlp_a = nullptr;
  for (const ArchitectureRecord& a : *archs) {
    EXPECT_EQ(a.campaign_id, cid);
    EXPECT_EQ(a.campaign, "test-campaign");
    if (a.name == "mlp-a") mlp_a = &a;
  }
  ASSERT_NE(mlp_a, nullptr);
  EXPECT_EQ(mlp_a->id, *model.architecture_id);
  EXPECT_EQ(mlp_a->family, "mlp");
  EXPECT_EQ(mlp_a->input_shape, "[8]");
  EXPECT_EQ(mlp_a->layers, 2);
  EXPECT_EQ(mlp_a->macs, model.arch_macs);
  EXPECT_EQ(mlp_a->params, model.arch_params);
  EXPECT_GT(mlp_a->params, 0);

  // An error from the callback stops the scan and is what the scan returns.
  int calls = 0;
  const Status stopped = (*reader)->ForEachMeasurement([&](const MeasurementRecord&) {
    ++calls;
    return Status::Corruption("stop here");
  });
  EXPECT_EQ(stopped.code(), StatusCode::kCorruption);
  EXPECT_EQ(calls, 1);

  auto campaigns = (*reader)->Campaigns();
  ASSERT_TRUE(campaigns.ok()) << campaigns.status().ToString();
  ASSERT_EQ(campaigns->size(), 1u);
  EXPECT_EQ((*campaigns)[0].name, "test-campaign");
  EXPECT_EQ((*campaigns)[0].state, "running");
  EXPECT_EQ((*campaigns)[0].jobs, (std::map<std::string, int64_t>{{"done", 2}, {"queued", 3}}));

  auto imported = (*reader)->ImportedRecords();
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_TRUE(imported->empty());
}

// Every figure an agent sends, in one column each: the reader and the export give back what
// was stored, exactly, the figures not measured (NaN) included.
void ExpectSameMeasurement(const Measurement& got, const Measurement& want) {
  EXPECT_EQ(Encode(got), Encode(want)) << "a figure did not come back as stored";
  EXPECT_EQ(got.energy_model, want.energy_model);
  EXPECT_EQ(got.flags, want.flags);
  EXPECT_EQ(got.windows_discarded, want.windows_discarded);
  // A figure not measured (NaN) stays not measured.
  const auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
  EXPECT_TRUE(same(got.interference, want.interference)) << got.interference;
  EXPECT_TRUE(same(got.energy_bound_j, want.energy_bound_j)) << got.energy_bound_j;
  EXPECT_EQ(got.telemetry_source, want.telemetry_source);
  ASSERT_EQ(got.repeats.size(), want.repeats.size());
  for (size_t i = 0; i < got.repeats.size(); ++i) {
    EXPECT_EQ(got.repeats[i].time_s, want.repeats[i].time_s);
    EXPECT_EQ(got.repeats[i].energy_j, want.repeats[i].energy_j);
  }
}

TEST_P(StoreContractTest, EveryFigureComesBackAsStored) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(3, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->MarkLeased(4, 1, "agent-1", 1).ok());
  JobResult full = Done(3, 1, 0.1 + 1e-13);  // a figure no short decimal holds
  Measurement& m = full.measurement;
  m.energy_model = "core_w=12.5 idle_w=3";
  m.interference = 0.125;
  m.windows_discarded = 2;
  m.flags = {"interference", "ci"};
  m.ci_met = false;
  m.energy_bound_j = 1.0 / 3.0;
  m.sensor_update_period_s = 0.001;
  m.temperature_before_c = 41.5;
  m.clock_after_mhz = 2400;
  m.telemetry_source = "sysfs:x86_pkg_temp";
  m.repeats[1].time_s = 0.1 + 0.2;
  EXPECT_EQ(Record(full), RecordOutcome::kStored);
  // The figures an agent did not measure stay unmeasured.
  JobResult bare = Done(4, 1, 0.5);
  EXPECT_EQ(Record(bare), RecordOutcome::kStored);

  auto reader = OpenDatasetReader(backend_->Db());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::map<std::string, Measurement> read;
  ASSERT_TRUE((*reader)
                  ->ForEachMeasurement([&](const MeasurementRecord& r) {
                    read[r.subject] = r.m;
                    auto windows = RepeatsOf(r);
                    EXPECT_TRUE(windows.ok()) << windows.status().ToString();
                    if (windows.ok()) read[r.subject].repeats = *windows;
                    return Status::OK();
                  })
                  .ok());
  ASSERT_EQ(read.size(), 2u);
  ExpectSameMeasurement(read[kFc16x4], full.measurement);
  ExpectSameMeasurement(read["mlp-a"], bare.measurement);
  EXPECT_TRUE(std::isnan(read["mlp-a"].interference));
  EXPECT_TRUE(std::isnan(read["mlp-a"].temperature_before_c));

  // The export's rows carry the same figures, ordered by job id, with their context.
  auto rows = (*reader)->ExportRows(std::nullopt);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  for (const ExportRow& r : *rows) {
    ExpectSameMeasurement(r.m, r.kind == JobKind::kLayer ? full.measurement : bare.measurement);
  }
  EXPECT_LT((*rows)[0].job_id, (*rows)[1].job_id);
  auto none = (*reader)->ExportRows(int64_t{999});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreContractTest, AReaderSeesOneSnapshot) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  EXPECT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  auto reader = OpenDatasetReader(backend_->Db());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto count = [&] {
    int n = 0;
    EXPECT_TRUE((*reader)
                    ->ForEachMeasurement([&](const MeasurementRecord&) {
                      ++n;
                      return Status::OK();
                    })
                    .ok());
    return n;
  };
  EXPECT_EQ(count(), 1);
  // A controller stores another result meanwhile: the open reader keeps its view.
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  EXPECT_EQ(Record(Done(2, 1)), RecordOutcome::kStored);
  EXPECT_EQ(count(), 1);
  auto fresh = OpenDatasetReader(backend_->Db());
  ASSERT_TRUE(fresh.ok());
  int n = 0;
  ASSERT_TRUE((*fresh)
                  ->ForEachMeasurement([&](const MeasurementRecord&) {
                    ++n;
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(n, 2);
}

TEST_P(StoreContractTest, TheModelTableKeepsEveryFitAndFindsTheLatest) {
  Create(MakeTestPlan());
  auto table = OpenModelTable(backend_->Db(), /*read_only=*/false);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_TRUE((*table)->writable()) << (*table)->read_only_reason();
  ModelRow row;
  row.key = {"macs", "cpu", "inference", "energy", std::string(64, 'a'), 1};
  row.wattfleet_version = "test";
  row.training_json = R"({"measurements":2})";
  row.state_json = R"({"estimator":"macs","coef":[1,2]})";
  row.created_ms = 1000;
  auto first = (*table)->Insert(row);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  row.state_json = R"({"estimator":"macs","coef":[3,4]})";
  row.created_ms = 2000;
  auto second = (*table)->Insert(row);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(*second, *first);

  auto latest = (*table)->Latest(row.key);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->id, *second);
  EXPECT_EQ((*latest)->state_json, R"({"estimator":"macs","coef":[3,4]})");
  EXPECT_EQ((*latest)->training_json, R"({"measurements":2})");
  EXPECT_EQ((*latest)->created_ms, 2000);
  // Any other fingerprint, target or layout version is another fit.
  for (auto other : {ModelKey{"macs", "cpu", "inference", "energy", std::string(64, 'b'), 1},
                     ModelKey{"macs", "cpu", "inference", "time", std::string(64, 'a'), 1},
                     ModelKey{"macs", "cpu", "inference", "energy", std::string(64, 'a'), 2}}) {
    auto none = (*table)->Latest(other);
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_FALSE(none->has_value());
  }

  // Read-only: the rows are there, a new one is refused.
  auto reader = OpenModelTable(backend_->Db(), /*read_only=*/true);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_FALSE((*reader)->writable());
  auto found = (*reader)->Latest(row.key);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, *second);
  EXPECT_EQ((*reader)->Insert(row).status().code(), StatusCode::kIOError);
}

}  // namespace
}  // namespace wattfleet::testing
