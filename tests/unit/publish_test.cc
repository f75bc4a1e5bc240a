// `wattfleet publish` (docs/dataset.md, "Publishing"): a dataset as a package whose files agree
// with their checksums and metadata, the same bytes for the same data, and nothing written
// when the options or the destination are wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "synthetic_dataset.h"
#include "temp_dir.h"
#include "wattfleet/common/sha256.h"
#include "wattfleet/package/publish.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/export.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

PublishOptions Options(const std::string& db, const std::string& out) {
  PublishOptions o;
  o.db = db;
  o.out = out;
  o.license = "CC-BY-4.0";
  o.title = "Synthetic energy";
  o.creators = {"A. Researcher", "B. Engineer"};
  o.description = "Layers and whole models of a synthetic campaign.";
  o.date = "2026-12-07";
  return o;
}

// Every file under `root`, relative, with its bytes.
std::map<std::string, std::string> Files(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = Slurp(e.path());
  }
  return out;
}

class PublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.File("d.db");
    testing::BuildSyntheticDataset(db_);
  }
  TempDir dir_;
  std::string db_;
};

TEST_F(PublishTest, FilesAgreeWithTheirChecksumsAndTheirMetadata) {
  const std::string out = dir_.File("pkg");
  auto summary = Publish(Options(db_, out));
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  const auto files = Files(out);

  // SHA256SUMS names every other file once, with its hash.
  std::set<std::string> summed;
  for (const std::string& line : Lines(files.at("SHA256SUMS"))) {
    const std::string hash = line.substr(0, 64), path = line.substr(66);
    ASSERT_TRUE(files.count(path)) << path;
    EXPECT_EQ(Sha256Hex(files.at(path)), hash) << path;
    summed.insert(path);
  }
  EXPECT_EQ(summed.size() + 1, files.size());

  // The measurements are the export's rows, exact text, and every window is in repeats.
  auto reader = OpenDatasetReader(db_);
  ASSERT_TRUE(reader.ok());
  auto rows = (*reader)->ExportRows(std::nullopt);
  ASSERT_TRUE(rows.ok());
  std::ostringstream exported;
  WriteCsv(*rows, exported, CsvText::kExact);
  EXPECT_EQ(files.at("data/measurements.csv"), exported.str());
  size_t windows = 0;
  for (const ExportRow& r : *rows) windows += r.m.repeats.size();
  EXPECT_EQ(Lines(files.at("data/repeats.csv")).size(), windows + 1);
  EXPECT_EQ(Lines(files.at("data/measurements.jsonl")).size(), rows->size());

  // Croissant: the context, the dataset, a FileObject per file with its hash, a RecordSet per
  // table whose fields read columns of that table's CSV.
  const auto croissant = nlohmann::json::parse(files.at("croissant.json"));
  EXPECT_EQ(croissant["@type"], "sc:Dataset");
  EXPECT_EQ(croissant["@context"]["cr"], "http://mlcommons.org/croissant/");
  EXPECT_EQ(croissant["@context"]["rai"], "http://mlcommons.org/croissant/RAI/");
  EXPECT_EQ(croissant["conformsTo"][0], "http://mlcommons.org/croissant/1.0");
  EXPECT_EQ(croissant["license"], "https://spdx.org/licenses/CC-BY-4.0.html");
  EXPECT_EQ(croissant["creator"].size(), 2u);
  EXPECT_EQ(croissant["datePublished"], "2026-12-07");
  for (const char* rai : {"rai:dataCollection", "rai:dataLimitations",
                          "rai:dataPreprocessingProtocol", "rai:dataUseCases"}) {
    EXPECT_FALSE(croissant[rai].get<std::string>().empty()) << rai;
  }
  EXPECT_NE(croissant["rai:dataSocialImpact"].get<std::string>().find("modeled"),
            std::string::npos);
  std::set<std::string> objects;
  for (const auto& f : croissant["distribution"]) {
    EXPECT_EQ(f["@type"], "cr:FileObject");
    const std::string path = f["contentUrl"];
    ASSERT_TRUE(files.count(path)) << path;
    EXPECT_EQ(f["sha256"], Sha256Hex(files.at(path))) << path;
    objects.insert(f["@id"].get<std::string>());
  }
  ASSERT_EQ(croissant["recordSet"].size(), 7u);
  for (const auto& set : croissant["recordSet"]) {
    const std::string stem = "data/" + set["name"].get<std::string>();
    if (set["name"] == "jobs") {
      // Presented as JSON Lines only: its fields are members of each line's object.
      const auto first = nlohmann::json::parse(Lines(files.at(stem + ".jsonl")).front());
      for (const auto& field : set["field"]) {
        EXPECT_EQ(field["source"]["fileObject"]["@id"], stem + ".jsonl");
        EXPECT_TRUE(first.contains(field["name"].get<std::string>()));
      }
      continue;
    }
    const std::string header = Lines(files.at(stem + ".csv")).front();
    for (const auto& field : set["field"]) {
      EXPECT_EQ(field["source"]["fileObject"]["@id"], stem + ".csv");
      EXPECT_TRUE(objects.count(stem + ".csv"));
      EXPECT_NE(header.find(field["source"]["extract"]["column"].get<std::string>()),
                std::string::npos);
    }
  }

  // Frictionless: every CSV a tabular resource whose schema's fields are its header, in order.
  const auto datapackage = nlohmann::json::parse(files.at("datapackage.json"));
  EXPECT_EQ(datapackage["licenses"][0]["name"], "CC-BY-4.0");
  int tabular = 0;
  for (const auto& r : datapackage["resources"]) {
    const std::string path = r["path"];
    EXPECT_EQ(r["hash"], "sha256:" + Sha256Hex(files.at(path)));
    EXPECT_EQ(r["bytes"], files.at(path).size());
    if (!r.contains("schema")) continue;
    ++tabular;
    std::string header;
    for (const auto& f : r["schema"]["fields"]) {
      header += (header.empty() ? "" : ",") + f["name"].get<std::string>();
      EXPECT_TRUE(f["type"] == "integer" || f["type"] == "number" || f["type"] == "boolean" ||
                  f["type"] == "string");
    }
    EXPECT_EQ(Lines(files.at(path)).front(), header) << path;
  }
  EXPECT_EQ(tabular, 6);  // every table but the jobs, which are JSON Lines only

  // The datasheet's sections, the campaign verbatim, the provenance's counts.
  const std::string readme = files.at("README.md");
  for (const char* section : {"## Motivation", "## Composition", "## Collection process",
                              "## Preprocessing and flags", "## Uses", "## Distribution",
                              "## Maintenance"}) {
    EXPECT_NE(readme.find(section), std::string::npos) << section;
  }
  EXPECT_EQ(files.at("campaigns/1-predict-test.yaml"), testing::kSyntheticCampaign);
  const auto provenance = nlohmann::json::parse(files.at("provenance.json"));
  EXPECT_EQ(provenance["measurements"]["total"], rows->size());
  EXPECT_EQ(provenance["measurements"]["modeled"], rows->size());
  EXPECT_EQ(provenance["energy"], "modeled");
}

TEST_F(PublishTest, TheSameDataPublishesTheSameBytes) {
  ASSERT_TRUE(Publish(Options(db_, dir_.File("a"))).ok());
  ASSERT_TRUE(Publish(Options(db_, dir_.File("b"))).ok());
  EXPECT_EQ(Files(dir_.File("a")), Files(dir_.File("b")));
  // Another date changes the files that state it, and no data file.
  PublishOptions later = Options(db_, dir_.File("c"));
  later.date = "2027-01-15";
  ASSERT_TRUE(Publish(later).ok());
  const auto a = Files(dir_.File("a")), c = Files(dir_.File("c"));
  std::set<std::string> changed;
  for (const auto& [path, bytes] : a) {
    if (c.at(path) != bytes) changed.insert(path);
  }
  EXPECT_EQ(changed, (std::set<std::string>{"README.md", "SHA256SUMS", "croissant.json",
                                            "datapackage.json", "provenance.json"}));
}

TEST_F(PublishTest, OnlyTheCampaignsAskedFor) {
  testing::BuildSyntheticDataset(db_, 0, testing::kSyntheticTrainingCampaign);
  PublishOptions o = Options(db_, dir_.File("one"));
  o.campaign_ids = {2};
  auto summary = Publish(o);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  auto reader = OpenDatasetReader(db_);
  auto second = (*reader)->ExportRows(int64_t{2});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(summary->rows.at("measurements"), static_cast<int64_t>(second->size()));
  EXPECT_EQ(summary->rows.at("campaigns"), 1);
  const std::string csv = Slurp(fs::path(dir_.File("one")) / "data/measurements.csv");
  EXPECT_EQ(csv.find("predict-test"), std::string::npos);
}

TEST_F(PublishTest, BadOptionsOrDestinationWriteNothing) {
  const auto refused = [&](PublishOptions o, const std::string& says) {
    auto s = Publish(o);
    ASSERT_FALSE(s.ok()) << says;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().ToString();
    EXPECT_NE(s.status().message().find(says), std::string::npos) << s.status().ToString();
  };
  PublishOptions bad = Options(db_, dir_.File("x"));
  bad.license = "see the paper";
  refused(bad, "--license");
  bad = Options(db_, dir_.File("x"));
  bad.date = "07/12/2026";
  refused(bad, "--date");
  bad = Options(db_, dir_.File("x"));
  bad.title = "";
  refused(bad, "--title");
  refused(Options(db_, dir_.File("missing/x")), "does not exist");
  EXPECT_FALSE(fs::exists(dir_.File("x")));

  // A folder with something in it is someone's: left exactly as it was.
  fs::create_directories(dir_.File("full"));
  dir_.Write("full/notes.txt", "mine");
  refused(Options(db_, dir_.File("full")), "not an empty folder");
  EXPECT_EQ(Files(dir_.File("full")).size(), 1u);
  // An empty one is taken.
  fs::create_directories(dir_.File("empty"));
  EXPECT_TRUE(Publish(Options(db_, dir_.File("empty"))).ok());
  // No staging folder is left beside them.
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
  }
}

TEST(PublishLicence, SpdxIdentifiersAndExpressions) {
  for (const char* ok : {"CC-BY-4.0", "MIT", "CC0-1.0", "Apache-2.0", "GPL-2.0+",
                         "LicenseRef-lab-terms", "MIT OR Apache-2.0",
                         "GPL-2.0-only WITH Classpath-exception-2.0"}) {
    EXPECT_TRUE(LooksLikeSpdx(ok)) << ok;
  }
  for (const char* bad : {"", "see the paper", "CC BY 4.0", "MIT OR", "<script>"}) {
    EXPECT_FALSE(LooksLikeSpdx(bad)) << bad;
  }
}

}  // namespace
}  // namespace wattfleet
