// The SQLite store against real files in a temporary directory: the Store contract
// (store_contract.cc), then what only the SQLite backend has: WAL mode, PRAGMA user_version,
// migrations of older files, files that are not databases.
#include <sqlite3.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "sqlite_store.h"
#include "old_dataset.h"
#include "wattfleet/store/dataset_reader.h"
#include "store_contract.h"
#include "temp_dir.h"

#include "wattfleet/store/export.h"
#include "sqlite_store.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/protocol.h"
#include "exported.h"

namespace wattfleet {
namespace {

using testing::TempDir;

using testing::Done;
using testing::ExecRaw;
using testing::MakeTestPlan;
using testing::QueryInt;
using testing::QueryText;
using testing::StoreContractTest;

// A fresh file per test, in a directory removed with it.
class SqliteBackend final : public testing::StoreBackend {
 public:
  Result<std::unique_ptr<Store>> Open() override { return OpenSqliteStore(path_); }
  std::string Db() const override { return path_; }
  int64_t QueryInt(const std::string& sql) override { return testing::QueryInt(path_, sql); }
  std::string QueryText(const std::string& sql) override {
    return testing::QueryText(path_, sql);
  }
  std::string QueryBytes(const std::string& sql) override {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string bytes;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      bytes.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                   sqlite3_column_bytes(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return bytes;
  }
  void Exec(const std::string& sql) override { testing::ExecRaw(path_, sql); }

 private:
  TempDir dir_;
  std::string path_ = dir_.File("dataset.db");
};

std::unique_ptr<testing::StoreBackend> MakeSqliteBackend() {
  return std::make_unique<SqliteBackend>();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest, ::testing::Values(&MakeSqliteBackend));

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
  RecordOutcome Record(const JobResult& r, const std::string& agent = "agent-1") {
    auto out = store_->RecordResult(r, agent);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : RecordOutcome::kConflict;
  }

  TempDir dir_;
  std::string path_ = dir_.File("dataset.db");
  std::unique_ptr<Store> store_;
};

// The dataset at `path_` as schema version 6 held it (old_dataset.h).
void BackToVersionSix(const std::string& path) {
  testing::PutPayloadsBack(
      path, [&](const std::string& sql) { ExecRaw(path, sql); },
      [](const std::string& hex) { return "x'" + hex + "'"; }, "BLOB NOT NULL DEFAULT x''");
  ExecRaw(path, "ALTER TABLE imports DROP COLUMN provenance");  // version 8's
  ExecRaw(path, "PRAGMA user_version = 6");
}

TEST(JobStateTest, NamesRoundTrip) {
  for (auto s : {JobState::kPlanned, JobState::kQueued, JobState::kLeased, JobState::kDone,
                 JobState::kFailed, JobState::kQuarantined, JobState::kCancelled}) {
    EXPECT_EQ(ParseJobState(JobStateName(s)), s);
  }
  EXPECT_EQ(JobStateName(JobState::kQuarantined), "quarantined");
  EXPECT_FALSE(ParseJobState("Queued").has_value());
}


TEST_F(StoreTest, SchemaCreatedInWalModeAndReopened) {
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), sqlite::kSchemaVersion);
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
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), sqlite::kSchemaVersion);
}


TEST_F(StoreTest, AVersionFourDatasetGainsQualityFlagsFromItsPayloads) {
  Create(MakeTestPlan());
  JobResult missed = Done(1, 1);
  missed.measurement.ci_met = false;
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(missed), RecordOutcome::kStored);
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(2, 1)), RecordOutcome::kStored);
  JobResult shared = Done(3, 1);  // its flags only in its payload, as agents sent them
  shared.measurement.flags = {"interference", "below-idle"};
  ASSERT_TRUE(store_->MarkLeased(3, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(shared), RecordOutcome::kStored);
  store_.reset();
  BackToVersionSix(path_);
  // As a version-4 file holds it: no quality_flags column.
  ExecRaw(path_, "ALTER TABLE measurements DROP COLUMN quality_flags");
  ExecRaw(path_, "DROP TABLE leases");  // version 6's
  ExecRaw(path_, "PRAGMA user_version = 4");
  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), sqlite::kSchemaVersion);
  EXPECT_EQ(QueryText(path_, "SELECT quality_flags FROM measurements WHERE job_id = 1"), "ci");
  EXPECT_EQ(QueryText(path_, "SELECT quality_flags FROM measurements WHERE job_id = 2"), "");
  EXPECT_EQ(QueryText(path_, "SELECT quality_flags FROM measurements WHERE job_id = 3"),
            "interference;below-idle");
  auto list = store_->ListCampaigns();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[0].flagged, 2);
}

// Who holds each attempt is kept from the lease on; a dataset from before (version 5) gains
// the holders of the leases open in it, so that their late results are recognised.
TEST_F(StoreTest, LeaseHoldersAreKeptAndAVersionFiveDatasetGainsItsOpenOnes) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store_->Requeue(1, 1, "lost").ok());
  ASSERT_TRUE(store_->MarkLeased(1, 2, "agent-2", 1).ok());
  ASSERT_EQ(Record(Done(1, 2)), RecordOutcome::kStored);
  auto first = store_->LeaseHolder(1, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->value_or(""), "agent-1");  // kept after its lease ended
  EXPECT_EQ(store_->LeaseHolder(1, 2)->value_or(""), "agent-2");
  EXPECT_FALSE(store_->LeaseHolder(1, 3)->has_value());  // never handed out

  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-3", 1).ok());
  store_.reset();
  BackToVersionSix(path_);
  ExecRaw(path_, "DROP TABLE leases");
  ExecRaw(path_, "PRAGMA user_version = 5");
  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), sqlite::kSchemaVersion);
  EXPECT_EQ(store_->LeaseHolder(2, 1)->value_or(""), "agent-3");
}

// Version 7 keeps each measurement once, in columns: a version-6 dataset's figures that only
// its payloads held move into columns of their own, and the payloads go.
TEST_F(StoreTest, AVersionSixDatasetKeepsEveryFigureInColumnsAndDropsThePayload) {
  Create(MakeTestPlan());
  JobResult full = Done(1, 1);
  full.measurement.energy_model = "core_w=15 idle_w=4";
  full.measurement.interference = 0.25;
  full.measurement.windows_discarded = 3;
  full.measurement.energy_bound_j = 0.002;
  full.measurement.sensor_update_period_s = 0.001;
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(full), RecordOutcome::kStored);
  ASSERT_TRUE(store_->MarkLeased(2, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(2, 1)), RecordOutcome::kStored);
  auto before = testing::Exported(path_);
  ASSERT_TRUE(before.ok());
  store_.reset();
  BackToVersionSix(path_);
  ASSERT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM pragma_table_info('measurements') "
                            "WHERE name IN ('interference', 'payload')"),
            1);  // as a version-6 file: a payload, no interference column
  {
    // The read side reads it as it is, before anything migrates it: what only the payload
    // held reads as not measured, everything else as stored.
    auto reader = OpenDatasetReader(path_);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    int seen = 0;
    ASSERT_TRUE((*reader)
                    ->ForEachMeasurement([&](const MeasurementRecord& r) {
                      ++seen;
                      EXPECT_TRUE(std::isnan(r.m.interference));
                      EXPECT_EQ(r.m.windows_discarded, 0);
                      EXPECT_EQ(r.m.energy_per_iter_j, full.measurement.energy_per_iter_j);
                      EXPECT_EQ(RepeatsOf(r)->size(), full.measurement.repeats.size());
                      return Status::OK();
                    })
                    .ok());
    EXPECT_EQ(seen, 2);
    EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), 6);
  }
  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), sqlite::kSchemaVersion);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM pragma_table_info('measurements') "
                            "WHERE name = 'payload'"),
            0);
  EXPECT_EQ(QueryText(path_, "SELECT energy_model FROM measurements WHERE job_id = 1"),
            "core_w=15 idle_w=4");
  EXPECT_EQ(QueryText(path_, "SELECT windows_discarded FROM measurements WHERE job_id = 1"),
            "3");
  EXPECT_EQ(QueryText(path_, "SELECT interference FROM measurements WHERE job_id = 2"),
            "<null>");
  auto after = testing::Exported(path_);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ(Encode((*after)[i].m), Encode((*before)[i].m)) << "row " << i;
  }
}

TEST_F(StoreTest, NewerSchemaVersionIsRefusedNamingBothVersions) {
  store_.reset();
  const std::string newer = std::to_string(sqlite::kSchemaVersion + 1);
  ExecRaw(path_, "PRAGMA user_version = " + newer);
  auto s = OpenSqliteStore(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("version " + newer), std::string::npos)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("version " + std::to_string(sqlite::kSchemaVersion)),
            std::string::npos)
      << s.status().ToString();
}


TEST(StoreOpenTest, DatasetsCarryTheMarkAndOnesWrittenBeforeItAreStampedOnOpen) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  auto application_id = [&] {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &q, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(q), SQLITE_ROW);
    const int64_t id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return id;
  };
  EXPECT_EQ(application_id(), sqlite::kApplicationId);
  // As a dataset from before the mark: wattfleet's schema, no application_id.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA application_id = 0", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_EQ(application_id(), 0);
  StoreOpenOptions existing;
  existing.create_if_missing = false;
  auto reopened = OpenSqliteStore(path, existing);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(application_id(), sqlite::kApplicationId);
}

TEST(StoreOpenTest, NotADatabaseIsAnError) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  std::ofstream(path) << std::string(4096, 'x');
  auto s = OpenSqliteStore(path);
  ASSERT_FALSE(s.ok());
  // The user's file, not ours: a user-input error (exit 2), and the file is left as it was.
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().ToString();
  EXPECT_NE(s.status().message().find("not an SQLite database"), std::string::npos);
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), std::string(4096, 'x'));
  auto missing_dir = OpenSqliteStore(dir.File("no/such/dir/x.db"));
  ASSERT_FALSE(missing_dir.ok());
  // A folder that does not exist is a typo in the path: named, and not created.
  EXPECT_EQ(missing_dir.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing_dir.status().message().find("does not exist"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.File("no")));
}


TEST(StoreOpenTest, OpeningWithoutCreatingRefusesWhatIsNotADataset) {
  TempDir dir;
  StoreOpenOptions read_only;
  read_only.create_if_missing = false;
  // A mistyped name: refused, and no file appears.
  const std::string missing = dir.File("typo.db");
  auto none = OpenSqliteStore(missing, read_only);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument) << none.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(missing));
  // Another program's SQLite file: refused, and left without wattfleet's tables.
  const std::string other = dir.File("other.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "CREATE TABLE notes(id INTEGER)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto foreign = OpenSqliteStore(other, read_only);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), StatusCode::kInvalidArgument) << foreign.status().ToString();
  EXPECT_NE(foreign.status().message().find("not a wattfleet dataset"), std::string::npos)
      << foreign.status().ToString();
  EXPECT_EQ(QueryInt(other, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"), 1);
  EXPECT_EQ(QueryInt(other, "PRAGMA user_version"), 0);
  // A dataset opens.
  const std::string dataset = dir.File("d.db");
  ASSERT_TRUE(OpenSqliteStore(dataset).ok());
  EXPECT_TRUE(OpenSqliteStore(dataset, read_only).ok());
}


TEST_F(StoreTest, TelemetryColumnsHoldReals) {
  Create(MakeTestPlan());
  JobResult hot = Done(1, 1);
  hot.measurement.temperature_after_c = 63;
  hot.measurement.clock_before_mhz = 3000;
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(hot), RecordOutcome::kStored);
  // Whole numbers too are stored as REAL, not INTEGER.
  EXPECT_EQ(QueryText(path_, "SELECT temperature_after_c FROM measurements"), "63.0");
  EXPECT_EQ(QueryText(path_, "SELECT clock_before_mhz FROM measurements"), "3000.0");
  EXPECT_EQ(QueryText(path_, "SELECT typeof(temperature_after_c) FROM measurements"), "real");
}

TEST_F(StoreTest, VersionOneFileGainsTelemetryColumnsKeepingItsRows) {
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  store_.reset();
  BackToVersionSix(path_);
  // Back to the version 1 schema, as a file written before telemetry was recorded.
  for (const char* col : {"temperature_before_c", "temperature_after_c", "clock_before_mhz",
                          "clock_after_mhz", "telemetry_source"}) {
    ExecRaw(path_, std::string("ALTER TABLE measurements DROP COLUMN ") + col);
  }
  ExecRaw(path_, "ALTER TABLE measurements DROP COLUMN quality_flags");  // version 5's
  // Version 3's, 4's and 6's tables did not exist either.
  for (const char* table :
       {"external_measurements", "imports", "external_devices", "models", "leases"}) {
    ExecRaw(path_, std::string("DROP TABLE ") + table);
  }
  ExecRaw(path_, "PRAGMA user_version = 1");
  ASSERT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM pragma_table_info('measurements') "
                            "WHERE name = 'telemetry_source'"),
            0);

  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), sqlite::kSchemaVersion);
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
  Create(MakeTestPlan());
  ASSERT_TRUE(store_->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_EQ(Record(Done(1, 1)), RecordOutcome::kStored);
  store_.reset();
  BackToVersionSix(path_);
  // Back to version 3, as a file written before fitted estimators were stored.
  ExecRaw(path_, "DROP TABLE models");
  ExecRaw(path_, "ALTER TABLE measurements DROP COLUMN quality_flags");  // version 5's
  ExecRaw(path_, "DROP TABLE leases");                                    // version 6's
  ExecRaw(path_, "PRAGMA user_version = 3");

  Open();
  EXPECT_EQ(QueryInt(path_, "PRAGMA user_version"), sqlite::kSchemaVersion);
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


}  // namespace
}  // namespace wattfleet
