// The PostgreSQL store against a real server started on loopback (tests/helpers/pg_server.h),
// one fresh database per test: the Store contract (store_contract.cc), the schema, and what
// the backend is for: several controllers writing to one dataset at once (concurrent
// campaigns sharing layers, concurrent leases, concurrent results, the last jobs of a
// campaign ended by two controllers at once, a cancel while another controller adds a job).
// Opening it and losing the server: pg_open_test.cc.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../unit/old_dataset.h"
#include "pg_server.h"
#include "../unit/store_contract.h"
#include "../unit/temp_dir.h"

#include "pg_store.h"
#include "wattfleet/import/external_store.h"
#include "wattfleet/import/import_mapping.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet {
namespace {

using testing::Done;
using testing::MakeArch;
using testing::MakeJob;
using testing::MakeTestPlan;
using testing::PgQuery;
using testing::PgQueryInt;
using testing::PgQueryText;
using testing::Planned;
using testing::ReluSpec;
using testing::SharedPgServer;
using testing::StoreContractTest;

// A fresh database on the shared server per test, dropped afterwards.
class PgBackend final : public testing::StoreBackend {
 public:
  explicit PgBackend(std::string uri) : uri_(std::move(uri)) {}
  ~PgBackend() override {
    if (PgServer* server = SharedPgServer()) server->DropDatabase(uri_.substr(uri_.rfind('/') + 1));
  }
  Result<std::unique_ptr<Store>> Open() override { return OpenPostgresStore(uri_); }
  std::string Db() const override { return uri_; }
  int64_t QueryInt(const std::string& sql) override { return PgQueryInt(uri_, sql); }
  std::string QueryText(const std::string& sql) override { return PgQueryText(uri_, sql); }
  std::string QueryBytes(const std::string& sql) override {
    return testing::PgQueryBytes(uri_, sql);
  }
  void Exec(const std::string& sql) override { testing::PgExec(uri_, sql); }
  const std::string& uri() const { return uri_; }

 private:
  using PgServer = testing::PgServer;
  std::string uri_;
};

std::unique_ptr<testing::StoreBackend> MakePgBackend() {
  testing::PgServer* server = SharedPgServer();
  if (server == nullptr) return nullptr;  // the failure says why
  auto uri = server->FreshDatabase();
  if (!uri.ok()) {
    ADD_FAILURE() << uri.status().ToString();
    return nullptr;
  }
  return std::make_unique<PgBackend>(*uri);
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContractTest, ::testing::Values(&MakePgBackend));

// A fresh database, and stores opened on it (each its own connection: a controller each).
class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::PgServer* server = SharedPgServer();
    ASSERT_NE(server, nullptr);
    auto uri = server->FreshDatabase();
    ASSERT_TRUE(uri.ok()) << uri.status().ToString();
    uri_ = *uri;
  }
  void TearDown() override {
    stores_.clear();
    if (testing::PgServer* server = SharedPgServer()) {
      server->DropDatabase(uri_.substr(uri_.rfind('/') + 1));
    }
  }
  Store* OpenOne() {
    auto s = OpenPostgresStore(uri_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    stores_.push_back(std::move(s).value());
    return stores_.back().get();
  }
  int64_t Int(const std::string& sql) { return PgQueryInt(uri_, sql); }
  std::string Text(const std::string& sql) { return PgQueryText(uri_, sql); }

  std::string uri_;
  std::vector<std::unique_ptr<Store>> stores_;
};

// Blocks each of `n` threads in ArriveAndWait() until all `n` have arrived (once).
class Rendezvous {
 public:
  explicit Rendezvous(int n) : left_(n) {}
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--left_ <= 0) {
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return left_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_;
};

// Runs `body(i)` on `n` threads released at once.
void OnThreads(int n, const std::function<void(int)>& body) {
  Rendezvous start(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      start.ArriveAndWait();
      body(i);
    });
  }
  for (std::thread& t : threads) t.join();
}

// A campaign of `n` layer jobs over the keys `keys` (one ReLU layer per key), listed in the
// order given: the store must not depend on the plan's order to avoid deadlocks.
Plan PlanWithLayers(const std::string& name, const std::vector<int>& keys) {
  Plan p;
  p.campaign.name = name;
  p.campaign.batch_size = 4;
  p.campaign.source_text = "name: " + name + "\n";
  std::vector<ArchNode> nodes;
  for (size_t i = 0; i < keys.size(); ++i) {
    nodes.push_back({"relu" + std::to_string(i), ReluSpec(keys[i]), {}});
  }
  p.campaign.architectures = {MakeArch("chain", nodes)};
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string key = "ReLU()[" + std::to_string(keys[i]) + "]";
    p.layers.push_back(Planned(key, ReluSpec(keys[i]), 0, 0, {keys[i]}));
    p.arch_layers.push_back({"chain", static_cast<int>(i), "relu" + std::to_string(i), key});
    p.jobs.push_back(
        MakeJob(JobKind::kLayer, key, MakeArch("single", {{"n", ReluSpec(keys[i]), {}}})));
  }
  p.layers_total = static_cast<int64_t>(keys.size());
  return p;
}

TEST_F(PgStoreTest, SchemaIsCreatedOnceVersionedAndReopened) {
  ASSERT_NE(OpenOne(), nullptr);
  EXPECT_EQ(Int("SELECT version FROM wattfleet_schema"), pg::kSchemaVersion);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM wattfleet_schema"), 1);
  for (const char* table : {"campaigns", "architectures", "layers", "arch_layers", "devices",
                            "jobs", "measurements", "models", "external_devices", "imports",
                            "external_measurements"}) {
    EXPECT_EQ(Text(std::string("SELECT to_regclass('") + table + "') IS NOT NULL"), "t")
        << table;
  }
  stores_.clear();
  ASSERT_NE(OpenOne(), nullptr);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM wattfleet_schema"), 1);
}

TEST_F(PgStoreTest, NewerSchemaVersionIsRefusedNamingBothVersions) {
  ASSERT_NE(OpenOne(), nullptr);
  stores_.clear();
  const std::string newer = std::to_string(pg::kSchemaVersion + 1);
  testing::PgExec(uri_, "UPDATE wattfleet_schema SET version = " + newer);
  auto s = OpenPostgresStore(uri_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("version " + newer), std::string::npos)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("version " + std::to_string(pg::kSchemaVersion)),
            std::string::npos)
      << s.status().ToString();
}

TEST_F(PgStoreTest, AVersionOneDatabaseGainsQualityFlagsFromItsPayloads) {
  Store* store = OpenOne();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateCampaign(MakeTestPlan()).ok());
  JobResult missed = Done(1, 1);
  missed.measurement.ci_met = false;
  ASSERT_TRUE(store->MarkLeased(1, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store->RecordResult(missed, "agent-1").ok());
  ASSERT_TRUE(store->MarkLeased(2, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store->RecordResult(Done(2, 1), "agent-1").ok());
  JobResult shared = Done(3, 1);  // its flags only in its payload, as agents sent them
  shared.measurement.flags = {"interference"};
  ASSERT_TRUE(store->MarkLeased(3, 1, "agent-1", 1).ok());
  ASSERT_TRUE(store->RecordResult(shared, "agent-1").ok());
  stores_.clear();
  // Each measurement also whole in a payload column, as before version 6 (old_dataset.h).
  testing::PutPayloadsBack(
      uri_, [&](const std::string& sql) { testing::PgExec(uri_, sql); },
      [](const std::string& hex) { return "'\\x" + hex + "'::bytea"; },
      "BYTEA NOT NULL DEFAULT ''::bytea");
  // As a version-1 database holds it: no quality_flags column, no models or import tables.
  testing::PgExec(uri_, "ALTER TABLE measurements DROP COLUMN quality_flags");
  testing::PgExec(uri_, "DROP TABLE models");
  testing::PgExec(uri_, "DROP TABLE external_measurements, imports, external_devices");
  testing::PgExec(uri_, "DROP TABLE leases");  // version 5's
  testing::PgExec(uri_, "UPDATE wattfleet_schema SET version = 1");
  store = OpenOne();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Int("SELECT version FROM wattfleet_schema"), pg::kSchemaVersion);
  EXPECT_EQ(Text("SELECT quality_flags FROM measurements WHERE job_id = 1"), "ci");
  EXPECT_EQ(Text("SELECT quality_flags FROM measurements WHERE job_id = 2"), "");
  EXPECT_EQ(Text("SELECT quality_flags FROM measurements WHERE job_id = 3"), "interference");
  auto list = store->ListCampaigns();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ((*list)[0].flagged, 2);
}

TEST_F(PgStoreTest, ControllersOpeningANewDatabaseAtOnceMigrateItOnce) {
  constexpr int kControllers = 6;
  std::vector<Status> opened(kControllers);
  std::vector<std::unique_ptr<Store>> stores(kControllers);
  OnThreads(kControllers, [&](int i) {
    auto s = OpenPostgresStore(uri_);
    opened[i] = s.status();
    if (s.ok()) stores[i] = std::move(s).value();
  });
  for (const Status& s : opened) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Int("SELECT COUNT(*) FROM wattfleet_schema"), 1);
  EXPECT_EQ(Int("SELECT version FROM wattfleet_schema"), pg::kSchemaVersion);
}

TEST_F(PgStoreTest, TextThatIsNotUtf8IsStoredWithReplacementCharacters) {
  Store* store = OpenOne();
  ASSERT_NE(store, nullptr);
  // Peers' names and error texts are arbitrary bytes: NUL and invalid UTF-8 must not make the
  // write fail (SQLite keeps them as they are; PostgreSQL text cannot hold them).
  const std::string name("box\xff\x00z", 6);
  ASSERT_TRUE(store->UpsertDevice({name, "cpu", "{}"}).ok());
  EXPECT_EQ(Text("SELECT name FROM devices"), "box\xEF\xBF\xBD\xEF\xBF\xBDz");
  ASSERT_GT(*store->CreateCampaign(MakeTestPlan()), 0);
  ASSERT_TRUE(store->MarkLeased(1, 1, "agent-\xc3", 1).ok());
  ASSERT_TRUE(store->RecordFailure(testing::Failed(1, 1, Outcome::kTimeout, "bad \xe2\x82 text"),
                                   "agent-1", std::nullopt)
                  .ok());
  EXPECT_EQ(Text("SELECT last_error FROM jobs WHERE id = 1"),
            "TIMEOUT: bad \xEF\xBF\xBD\xEF\xBF\xBD text");
  // Valid UTF-8 is kept as it is.
  ASSERT_TRUE(store->UpsertDevice({"gpu-\xc3\xa9t\xc3\xa9", "cuda", "{}"}).ok());
  EXPECT_EQ(Int("SELECT COUNT(*) FROM devices WHERE name = 'gpu-\xc3\xa9t\xc3\xa9'"), 1);
}

TEST_F(PgStoreTest, ConcurrentCampaignsWithOverlappingLayersStoreEachLayerOnce) {
  constexpr int kControllers = 4;
  constexpr int kCampaigns = 6;
  std::vector<Store*> stores;
  for (int i = 0; i < kControllers; ++i) stores.push_back(OpenOne());
  for (Store* s : stores) ASSERT_NE(s, nullptr);
  // Keys 1..60; each campaign takes 30 of them, overlapping the others', in an order of its
  // own (ascending, descending, interleaved).
  std::set<int> all_keys;
  std::vector<std::vector<std::vector<int>>> keys(kControllers);
  for (int c = 0; c < kControllers; ++c) {
    for (int k = 0; k < kCampaigns; ++k) {
      std::vector<int> ks;
      for (int j = 0; j < 30; ++j) ks.push_back(1 + (c * 7 + k * 5 + j * 2) % 60);
      if ((c + k) % 2 == 1) std::reverse(ks.begin(), ks.end());
      std::set<int> distinct(ks.begin(), ks.end());
      ks.assign(distinct.begin(), distinct.end());
      if ((c + k) % 3 == 0) std::reverse(ks.begin(), ks.end());
      all_keys.insert(ks.begin(), ks.end());
      keys[c].push_back(ks);
    }
  }
  std::atomic<int> created{0};
  std::vector<std::string> errors(kControllers);
  OnThreads(kControllers, [&](int c) {
    for (int k = 0; k < kCampaigns; ++k) {
      auto id = stores[c]->CreateCampaign(
          PlanWithLayers("c" + std::to_string(c) + "-" + std::to_string(k), keys[c][k]));
      if (id.ok()) {
        ++created;
      } else {
        errors[c] += id.status().ToString() + "\n";
      }
    }
  });
  for (const std::string& e : errors) EXPECT_TRUE(e.empty()) << e;
  EXPECT_EQ(created.load(), kControllers * kCampaigns);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM layers"), static_cast<int64_t>(all_keys.size()));
  EXPECT_EQ(Int("SELECT COUNT(DISTINCT key) FROM layers"), static_cast<int64_t>(all_keys.size()));
  EXPECT_EQ(Int("SELECT COUNT(*) FROM campaigns"), kControllers * kCampaigns);
  int64_t jobs = 0;
  for (const auto& per_controller : keys) {
    for (const auto& ks : per_controller) jobs += static_cast<int64_t>(ks.size());
  }
  EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs"), jobs);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM arch_layers"), jobs);
  // Every campaign's jobs are numbered in its plan's order.
  EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs a JOIN jobs b ON a.campaign_id = b.campaign_id "
                "AND a.id < b.id JOIN arch_layers x ON x.layer_key = a.subject "
                "JOIN arch_layers y ON y.layer_key = b.subject "
                "AND y.architecture_id = x.architecture_id "
                "JOIN architectures ar ON ar.id = x.architecture_id "
                "AND ar.campaign_id = a.campaign_id WHERE x.position > y.position"),
            0);
}

TEST_F(PgStoreTest, ImportsOfOneFileAtOnceStoreItOnceAndADeviceKeepsItsFirstPeak) {
  ASSERT_NE(OpenOne(), nullptr);
  auto batch = LoadImport(std::string(WATTFLEET_SOURCE_DIR) +
                          "/experiments/mappings/mayaki2025-transformer-ops.yaml");
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  // Three importers of the same file at once: one stores it, the others find it stored.
  constexpr int kImporters = 3;
  std::vector<Result<ImportOutcome>> outcomes(kImporters, Status::Internal("not run"));
  OnThreads(kImporters, [&](int i) {
    auto store = ExternalStore::Open(uri_);
    if (!store.ok()) {
      outcomes[i] = store.status();
      return;
    }
    outcomes[i] = (*store)->Import(*batch);
  });
  int stored = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    stored += o->already_imported ? 0 : 1;
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM external_measurements"),
            static_cast<int64_t>(batch->records.size()));
  EXPECT_EQ(Int("SELECT COUNT(*) FROM imports"), 1);

  // Two files naming one new device with different peaks, at once: the second is refused,
  // not written over the first.
  ImportBatch a = *batch, b = *batch;
  a.source = "peak-a";
  b.source = "peak-b";
  a.devices = {ExternalDevice{"shared-gpu", 1e12}};
  b.devices = {ExternalDevice{"shared-gpu", 2e12}};
  for (ImportBatch* x : {&a, &b}) {
    x->records.resize(1);
    x->records[0].device = "shared-gpu";
  }
  std::vector<Result<ImportOutcome>> peaks(2, Status::Internal("not run"));
  OnThreads(2, [&](int i) {
    auto store = ExternalStore::Open(uri_);
    if (store.ok()) peaks[i] = (*store)->Import(i == 0 ? a : b);
  });
  const int refused = (peaks[0].ok() ? 0 : 1) + (peaks[1].ok() ? 0 : 1);
  EXPECT_EQ(refused, 1);
  for (const auto& p : peaks) {
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << p.status().ToString();
    }
  }
  const std::string peak = Text("SELECT peak_flops FROM external_devices WHERE name = 'shared-gpu'");
  const double stored_peak = std::stod(peak);
  EXPECT_TRUE(stored_peak == 1e12 || stored_peak == 2e12) << peak;
  EXPECT_EQ(Int("SELECT COUNT(*) FROM external_measurements WHERE device = 'shared-gpu'"), 1);
}

TEST_F(PgStoreTest, ConcurrentLeasesHandEachJobToOneControllerOnly) {
  constexpr int kControllers = 4;
  std::vector<Store*> stores;
  for (int i = 0; i < kControllers; ++i) stores.push_back(OpenOne());
  for (Store* s : stores) ASSERT_NE(s, nullptr);
  std::vector<int> keys;
  for (int k = 1; k <= 120; ++k) keys.push_back(k);
  const int64_t n = static_cast<int64_t>(keys.size());

  // Each round is a fresh campaign whose jobs all four controllers go after at once. Every
  // round must hand each job out once. That every controller wins some shows that they really
  // competed; it depends on the threads' scheduling (a busy machine may let one controller
  // through a whole round before another has started), so it needs to hold in one round only.
  constexpr int kRounds = 5;
  bool every_controller_won = false;
  int rounds = 0;
  for (int round = 0; round < kRounds && !every_controller_won; ++round) {
    ++rounds;
    auto campaign =
        stores[0]->CreateCampaign(PlanWithLayers("shared" + std::to_string(round), keys));
    ASSERT_TRUE(campaign.ok()) << campaign.status().ToString();
    const std::string cid = std::to_string(*campaign);
    const int64_t first = Int("SELECT MIN(id) FROM jobs WHERE campaign_id = " + cid);
    ASSERT_EQ(Int("SELECT MAX(id) FROM jobs WHERE campaign_id = " + cid), first + n - 1);

    // Controllers 0 and 1 lease one at a time, 2 and 3 in batches of 8 (as the dispatcher
    // does once per loop pass). Each starts a quarter further into the jobs and goes round
    // all of them, 0 and 2 upwards, 1 and 3 downwards: every job is wanted by all four.
    std::vector<std::set<int64_t>> won(kControllers);
    std::vector<std::string> errors(kControllers);
    OnThreads(kControllers, [&](int c) {
      Store* s = stores[c];
      const std::string agent = "agent-" + std::to_string(c);
      std::vector<int64_t> order;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t step = c % 2 == 0 ? k : n - k;
        order.push_back(first + (c * n / kControllers + step) % n);
      }
      const bool batched = c >= 2;
      for (size_t i = 0; i < order.size();) {
        if (batched && !s->BeginBatch().ok()) {
          errors[c] += "BeginBatch failed\n";
          return;
        }
        std::set<int64_t> leased;
        const size_t end = batched ? std::min(order.size(), i + 8) : i + 1;
        for (; i < end; ++i) {
          const Status st = s->MarkLeased(order[i], 1, agent, 1);
          if (st.ok()) {
            leased.insert(order[i]);
          } else if (st.code() != StatusCode::kAlreadyExists &&
                     st.code() != StatusCode::kUnavailable) {
            // Unavailable: a deadlock between two batches, detected by the server and refused
            // to one of them; the dispatcher retries such a job on its next pass.
            errors[c] += st.ToString() + "\n";
          }
        }
        if (batched) {
          const Status committed = s->CommitBatch();
          if (!committed.ok()) {
            errors[c] += committed.ToString() + "\n";
            continue;
          }
        }
        won[c].insert(leased.begin(), leased.end());
      }
    });
    for (const std::string& e : errors) EXPECT_TRUE(e.empty()) << e;
    std::map<int64_t, int> winners;
    for (int c = 0; c < kControllers; ++c) {
      for (int64_t id : won[c]) {
        ++winners[id];
        EXPECT_EQ(Text("SELECT agent FROM jobs WHERE id = " + std::to_string(id)),
                  "agent-" + std::to_string(c))
            << "job " << id;
      }
    }
    for (const auto& [id, count] : winners) {
      EXPECT_EQ(count, 1) << "job " << id << " leased twice";
    }
    EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs WHERE campaign_id = " + cid +
                  " AND state = 'leased' AND attempts = 1"),
              static_cast<int64_t>(winners.size()));
    // Only a deadlock victim's job may be left queued; the rest were all handed out.
    EXPECT_GE(static_cast<int64_t>(winners.size()), n - 8);
    every_controller_won = true;
    for (int c = 0; c < kControllers; ++c) every_controller_won &= !won[c].empty();
  }
  RecordProperty("rounds", rounds);
  EXPECT_TRUE(every_controller_won)
      << "in none of " << kRounds << " rounds did every controller lease a job";
}

TEST_F(PgStoreTest, ConcurrentResultsForTheSameJobsStoreOneMeasurementEach) {
  constexpr int kControllers = 4;
  std::vector<Store*> stores;
  for (int i = 0; i < kControllers; ++i) stores.push_back(OpenOne());
  for (Store* s : stores) ASSERT_NE(s, nullptr);
  std::vector<int> keys;
  for (int k = 1; k <= 60; ++k) keys.push_back(k);
  ASSERT_TRUE(stores[0]->CreateCampaign(PlanWithLayers("shared", keys)).ok());
  const int64_t n = static_cast<int64_t>(keys.size());
  for (int64_t id = 1; id <= n; ++id) ASSERT_TRUE(stores[0]->MarkLeased(id, 1, "a", 1).ok());
  // Jobs 1..10 had a second attempt: some controllers deliver attempt 1, others attempt 2.
  for (int64_t id = 1; id <= 10; ++id) {
    ASSERT_TRUE(stores[0]->Requeue(id, 1, "lease expired").ok());
    ASSERT_TRUE(stores[0]->MarkLeased(id, 2, "b", 1).ok());
  }

  // Every controller receives every job's result (the same payload for the same attempt) at
  // once; 2 and 3 in batches of 8, as the dispatcher commits once per loop pass. A batch
  // that deadlocks with another is refused one result (Unavailable: the agent sends it again).
  std::vector<std::map<int64_t, RecordOutcome>> outcomes(kControllers);
  std::vector<std::string> errors(kControllers);
  OnThreads(kControllers, [&](int c) {
    Store* s = stores[c];
    const bool batched = c >= 2;
    std::map<int64_t, RecordOutcome> pending;
    int in_batch = 0;
    for (int64_t k = 1; k <= n; ++k) {
      if (batched && in_batch++ == 0 && !s->BeginBatch().ok()) errors[c] += "BeginBatch\n";
      const int64_t id = c % 2 == 0 ? k : n + 1 - k;
      const int32_t attempt = id <= 10 ? 1 + c % 2 : 1;
      auto out = s->RecordResult(Done(id, attempt, 0.001 * static_cast<double>(id)),
                                 "agent-" + std::to_string(c));
      if (out.ok()) {
        pending[id] = *out;
      } else if (out.status().code() != StatusCode::kUnavailable) {
        errors[c] += out.status().ToString() + "\n";
      }
      if (batched && in_batch < 8 && k < n) continue;
      if (batched) {
        in_batch = 0;
        const Status committed = s->CommitBatch();
        if (!committed.ok()) {
          errors[c] += committed.ToString() + "\n";
          pending.clear();
        }
      }
      outcomes[c].insert(pending.begin(), pending.end());
      pending.clear();
    }
  });
  for (const std::string& e : errors) EXPECT_TRUE(e.empty()) << e;
  EXPECT_EQ(Int("SELECT COUNT(*) FROM measurements"), n);
  EXPECT_EQ(Int("SELECT COUNT(DISTINCT job_id) FROM measurements"), n);
  EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs WHERE state <> 'done'"), 0);
  for (int64_t id = 1; id <= n; ++id) {
    int stored = 0;
    for (int c = 0; c < kControllers; ++c) {
      const auto it = outcomes[c].find(id);
      if (it == outcomes[c].end()) continue;
      if (it->second == RecordOutcome::kStored) {
        ++stored;
        // The measurement is the winner's.
        EXPECT_EQ(Text("SELECT agent FROM measurements WHERE job_id = " + std::to_string(id)),
                  "agent-" + std::to_string(c));
      } else {
        EXPECT_TRUE(it->second == RecordOutcome::kDuplicate || it->second == RecordOutcome::kLate)
            << "job " << id << " controller " << c;
      }
    }
    EXPECT_EQ(stored, 1) << "job " << id;
  }
}

TEST_F(PgStoreTest, TwoControllersEndingTheLastJobsAtOnceFinishTheCampaign) {
  Store* a = OpenOne();
  Store* b = OpenOne();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Each round: a two-job campaign, one job leased by each controller; both record their
  // result and try to finish the campaign in one batch, at the same moment. Whoever counts
  // second must see the other's job ended, so the campaign always ends done.
  for (int round = 0; round < 15; ++round) {
    auto cid = a->CreateCampaign(PlanWithLayers("r" + std::to_string(round), {1, 2}));
    ASSERT_TRUE(cid.ok()) << cid.status().ToString();
    const int64_t first =
        Int("SELECT MIN(id) FROM jobs WHERE campaign_id = " + std::to_string(*cid));
    ASSERT_TRUE(a->MarkLeased(first, 1, "agent-a", 1).ok());
    ASSERT_TRUE(b->MarkLeased(first + 1, 1, "agent-b", 1).ok());
    std::vector<Status> finished(2);
    std::vector<Status> committed(2);
    Rendezvous recorded(2);
    OnThreads(2, [&](int c) {
      Store* s = c == 0 ? a : b;
      EXPECT_TRUE(s->BeginBatch().ok());
      auto out = s->RecordResult(Done(first + c, 1), c == 0 ? "agent-a" : "agent-b");
      EXPECT_TRUE(out.ok() && *out == RecordOutcome::kStored);
      recorded.ArriveAndWait();  // both results written, neither committed
      finished[c] = s->FinishCampaign(*cid);
      // The rest of the loop pass: the other controller must not decide in the meantime on
      // what this batch has not committed yet.
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      committed[c] = s->CommitBatch();
    });
    EXPECT_TRUE(committed[0].ok()) << committed[0].ToString();
    EXPECT_TRUE(committed[1].ok()) << committed[1].ToString();
    EXPECT_TRUE(finished[0].ok() || finished[1].ok())
        << finished[0].ToString() << " / " << finished[1].ToString();
    for (const Status& f : finished) {
      EXPECT_TRUE(f.ok() || f.code() == StatusCode::kInvalidArgument) << f.ToString();
    }
    ASSERT_EQ(Text("SELECT state FROM campaigns WHERE id = " + std::to_string(*cid)), "done")
        << "round " << round;
  }
}

TEST_F(PgStoreTest, CancelWaitsForAJobAddedAtTheSameMomentAndCancelsItToo) {
  Store* adder = OpenOne();
  Store* canceller = OpenOne();
  ASSERT_NE(adder, nullptr);
  ASSERT_NE(canceller, nullptr);
  const Plan plan = MakeTestPlan();
  auto cid = adder->CreateCampaign(plan);
  ASSERT_TRUE(cid.ok()) << cid.status().ToString();
  const std::string campaign = std::to_string(*cid);

  // One controller's loop pass adds a probe to the campaign (active profiling) and has not
  // committed yet when another controller cancels the campaign.
  ASSERT_TRUE(adder->BeginBatch().ok());
  auto added = adder->AddJob(*cid, plan.jobs[0]);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  Status cancelled = Status::Internal("the cancel did not run");
  std::thread cancel([&] { cancelled = canceller->CancelCampaign(*cid); });
  // The batch commits only once the cancel waits for one of its locks: that is the race.
  bool waiting = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!waiting && std::chrono::steady_clock::now() < deadline) {
    waiting = Int("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND wait_event_type = 'Lock'") > 0;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(waiting) << "the cancel never waited for the open batch";
  const Status committed = adder->CommitBatch();
  cancel.join();
  ASSERT_TRUE(committed.ok()) << committed.ToString();
  ASSERT_TRUE(cancelled.ok()) << cancelled.ToString();

  EXPECT_EQ(Text("SELECT state FROM campaigns WHERE id = " + campaign), "cancelled");
  // The added job too: nothing is left for a controller to dispatch in a cancelled campaign.
  EXPECT_EQ(Text("SELECT state FROM jobs WHERE id = " + std::to_string(added->spec.job_id)),
            "cancelled");
  EXPECT_EQ(Int("SELECT COUNT(*) FROM jobs WHERE campaign_id = " + campaign +
                " AND state IN ('planned', 'queued', 'leased')"),
            0);
  // And a job added after the cancel is refused.
  EXPECT_EQ(adder->AddJob(*cid, plan.jobs[1]).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace wattfleet
