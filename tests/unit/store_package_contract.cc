// The Store contract for published packages (Store::ImportPackage, docs/dataset.md "Importing
// a package"), run against both backends: a package imported into an empty dataset reads back
// as the dataset it was published from; a second import stores nothing; another fleet's
// package merges with new ids and its taken device names prefixed; a changed file stores
// nothing.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "exported.h"
#include "store_contract.h"
#include "synthetic_dataset.h"
#include "temp_dir.h"
#include "wattfleet/estimate/training_data.h"
#include "wattfleet/package/publish.h"
#include "wattfleet/package/read_package.h"
#include "wattfleet/store/export.h"

namespace wattfleet::testing {
namespace {

namespace fs = std::filesystem;

std::string CsvOf(const std::vector<ExportRow>& rows) {
  std::ostringstream out;
  WriteCsv(rows, out, CsvText::kExact);
  return out.str();
}

// A synthetic fleet's dataset, published under `title`; `device_class` replaces the campaign's.
std::string PublishFleet(const TempDir& dir, const std::string& name,
                         const std::string& device_class) {
  std::string campaign = kSyntheticCampaign;
  const std::string from = "class: cpu";
  campaign.replace(campaign.find(from), from.size(), "class: " + device_class);
  const std::string db = dir.File(name + ".db");
  BuildSyntheticDataset(db, 0, campaign);
  PublishOptions o;
  o.db = db;
  o.out = dir.File(name);
  o.license = "CC-BY-4.0";
  o.title = name;
  o.date = "2026-12-07";
  auto published = Publish(o);
  EXPECT_TRUE(published.ok()) << published.status().ToString();
  return o.out;
}

TEST_P(StoreContractTest, APackageReadsBackAsTheDatasetItWasPublishedFrom) {
  TempDir dir;
  const std::string package = PublishFleet(dir, "fleet-a", "cpu");
  auto read = ReadPackage(package);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  auto outcome = store_->ImportPackage(*read);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->ids_kept);
  EXPECT_EQ(outcome->measurements, static_cast<int64_t>(read->measurements.size()));

  // The export's rows are the published dataset's, byte for byte; so are the training data.
  auto original = Exported(dir.File("fleet-a.db"));
  auto imported = Exported(backend_->Db());
  ASSERT_TRUE(original.ok() && imported.ok());
  EXPECT_EQ(CsvOf(*imported), CsvOf(*original));
  auto a = LoadTrainingData(dir.File("fleet-a.db"));
  auto b = LoadTrainingData(backend_->Db());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->layers.size(), b->layers.size());
  ASSERT_EQ(a->models.size(), b->models.size());
  for (size_t i = 0; i < a->models.size(); ++i) {
    EXPECT_EQ(a->models[i].layer_keys, b->models[i].layer_keys) << a->models[i].name;
  }
  EXPECT_EQ(a->measurement_ids, b->measurement_ids);

  // The provenance is kept with the import's record, as published.
  std::ifstream provenance_file(package + "/provenance.json", std::ios::binary);
  std::stringstream provenance;
  provenance << provenance_file.rdbuf();
  EXPECT_FALSE(provenance.str().empty());
  EXPECT_EQ(backend_->QueryText("SELECT provenance FROM imports WHERE source = 'fleet-a'"),
            provenance.str());

  // Published again from here, every data file is the same: the read side gives back every
  // column the package holds.
  PublishOptions o;
  o.db = backend_->Db();
  o.out = dir.File("again");
  o.license = "CC-BY-4.0";
  o.title = "fleet-a";
  o.date = "2026-12-07";
  auto republished = Publish(o);
  ASSERT_TRUE(republished.ok()) << republished.status().ToString();
  for (const auto& e : fs::directory_iterator(package + "/data")) {
    const std::string name = e.path().filename().string();
    std::ifstream a(e.path(), std::ios::binary), b(o.out + "/data/" + name, std::ios::binary);
    std::stringstream sa, sb;
    sa << a.rdbuf();
    sb << b.rdbuf();
    EXPECT_EQ(sa.str(), sb.str()) << name;
  }

  // Again: nothing.
  auto again = store_->ImportPackage(*read);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_imported);
  EXPECT_EQ(Exported(backend_->Db())->size(), original->size());
}

TEST_P(StoreContractTest, AnotherFleetMergesWithNewIdsAndItsOwnDeviceNames) {
  TempDir dir;
  auto first = ReadPackage(PublishFleet(dir, "fleet-a", "cpu"));
  auto second = ReadPackage(PublishFleet(dir, "fleet-b", "jetson"));
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(store_->ImportPackage(*first).ok());
  auto merged = store_->ImportPackage(*second);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_FALSE(merged->ids_kept) << "the second fleet numbered its jobs from 1 too";
  EXPECT_EQ(merged->renamed_devices.at("agent-1"), "fleet-b/agent-1");

  auto rows = Exported(backend_->Db());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), first->measurements.size() + second->measurements.size());
  std::map<std::string, std::set<std::string>> devices_of_class;
  std::set<int64_t> jobs;
  for (const ExportRow& r : *rows) {
    devices_of_class[r.device_class].insert(r.device);
    jobs.insert(r.job_id);
  }
  EXPECT_EQ(jobs.size(), rows->size()) << "every measurement its own job";
  EXPECT_EQ(devices_of_class["cpu"], std::set<std::string>{"agent-1"});
  EXPECT_EQ(devices_of_class["jetson"], std::set<std::string>{"fleet-b/agent-1"});
  // Both fleets train the estimators, each under its device class.
  auto data = LoadTrainingData(backend_->Db());
  ASSERT_TRUE(data.ok());
  std::map<std::string, int> models;
  for (const ModelSample& m : data->models) ++models[m.device_class];
  EXPECT_EQ(models["cpu"], models["jetson"]);
  EXPECT_GT(models["cpu"], 0);
  // The dataset goes on numbering after the kept ids.
  EXPECT_TRUE(store_->CreateCampaign(MakeTestPlan()).ok());
}

TEST_P(StoreContractTest, AChangedPackageStoresNothing) {
  TempDir dir;
  const std::string package = PublishFleet(dir, "fleet-a", "cpu");
  {
    // One figure changed in a measurement's exact record.
    const std::string path = package + "/data/jobs.jsonl";
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('7');
  }
  auto read = ReadPackage(package);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("data/jobs.jsonl"), std::string::npos)
      << read.status().ToString();
  EXPECT_NE(read.status().message().find("SHA-256"), std::string::npos);
  EXPECT_TRUE(Exported(backend_->Db())->empty());
  // A file SHA256SUMS does not list is not read either; nor is a path out of the package.
  fs::remove(package + "/SHA256SUMS");
  std::ofstream(package + "/SHA256SUMS") << std::string(64, 'a') << "  ../outside\n";
  auto outside = ReadPackage(package);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("leaves the package"), std::string::npos);
}

}  // namespace
}  // namespace wattfleet::testing
