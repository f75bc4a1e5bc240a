// `wattfleet import`: mapping errors with file:line:column, row errors with the CSV row,
// atomicity (a bad row stores nothing) and idempotence (a second import stores nothing).
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "temp_dir.h"

#include "wattfleet/import/external_store.h"
#include "wattfleet/import/import_mapping.h"

namespace wattfleet {
namespace {

using testing::TempDir;

using testing::QueryInt;

constexpr const char* kCsv =
    "op,flops,ms,kwh,reps,gpu\n"
    "matmul,2e9,4,0.001,2,a\n"
    "softmax,1e6,1,0.0005,1,a\n"
    "\"matmul\",4e9,6,0.002,2,b\n";

constexpr const char* kMapping =
    "source: toy\n"
    "csv: ops.csv\n"
    "devices:\n"
    "  - {name: gpu-a, peak_flops: 10e12, where: {gpu: a}}\n"
    "  - {name: gpu-b, where: {gpu: b}}\n"
    "filters:\n"
    "  - {column: op, not_equals: softmax}\n"
    "record:\n"
    "  kind: operation\n"
    "  name: \"{op}\"\n"
    "  flops: flops\n"
    "  time_s: ms / 1000\n"
    "  energy_j: kwh * 3.6e6 / reps\n";

TEST(ImportMappingTest, RowsBecomeRecordsWithArithmeticAndFilters) {
  TempDir dir;
  dir.Write("ops.csv", kCsv);
  auto batch = LoadImport(dir.Write("map.yaml", kMapping));
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->rows_read, 3);
  EXPECT_EQ(batch->rows_filtered, 1);
  ASSERT_EQ(batch->records.size(), 2u);
  const ExternalRecord& r = batch->records[0];
  EXPECT_EQ(r.row, 1);
  EXPECT_EQ(r.device, "gpu-a");
  EXPECT_EQ(r.name, "matmul");
  EXPECT_DOUBLE_EQ(*r.flops, 2e9);
  EXPECT_DOUBLE_EQ(*r.time_s, 0.004);
  EXPECT_DOUBLE_EQ(*r.energy_j, 1800.0);
  EXPECT_EQ(batch->records[1].row, 3);
  EXPECT_EQ(batch->records[1].device, "gpu-b");
  EXPECT_EQ(batch->records[1].name, "matmul");  // quoted cell
  ASSERT_EQ(batch->devices.size(), 2u);
  EXPECT_FALSE(batch->devices[1].peak_flops.has_value());
}

// The message of a failed load, checked to name `where`.
std::string LoadError(const TempDir& dir, const std::string& mapping) {
  auto batch = LoadImport(dir.Write("map.yaml", mapping));
  EXPECT_FALSE(batch.ok());
  if (batch.ok()) return "";
  EXPECT_EQ(batch.status().code(), StatusCode::kInvalidArgument);
  return batch.status().message();
}

void Replace(std::string* s, const std::string& from, const std::string& to) {
  const size_t at = s->find(from);
  ASSERT_NE(at, std::string::npos) << from;
  s->replace(at, from.size(), to);
}

TEST(ImportMappingTest, CsvsNamedOnTheCommandLineUseTheMapping) {
  TempDir dir;
  std::string mapping = kMapping;
  Replace(&mapping, "csv: ops.csv\n", "");
  const std::string map_path = dir.Write("map.yaml", mapping);
  const std::string csv = dir.Write("other.csv", kCsv);
  auto batch = LoadImport(map_path, csv);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->csv_path, csv);
  EXPECT_EQ(batch->source, "toy");
  EXPECT_EQ(batch->records.size(), 2u);

  // Neither the mapping nor the command line names a CSV.
  auto none = LoadImport(map_path);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("no csv"), std::string::npos) << none.status().message();
  // A missing command-line CSV is named.
  auto missing = LoadImport(map_path, dir.path() + "/absent.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("absent.csv"), std::string::npos);
}

TEST(ImportMappingTest, MappingErrorsNameFileLineColumn) {
  TempDir dir;
  dir.Write("ops.csv", kCsv);
  const std::string map = dir.File("map.yaml");
  struct Case {
    std::string from, to, where, what;
  };
  const Case cases[] = {
      {"  flops: flops\n", "  flop: flops\n", map + ":11:3:", "unknown key 'flop'"},
      {"time_s: ms / 1000", "time_s: ms / (1000", map + ":12:11:", "expected ')'"},
      {"time_s: ms / 1000", "time_s: msec / 1000", map + ":12:11:", "column 'msec'"},
      {"kind: operation", "kind: layer", map + ":9:9:", "operation or architecture"},
      {"peak_flops: 10e12", "peak_flops: fast", map + ":4:31:", "peak_flops"},
      {"name: \"{op}\"", "name: \"{opp}\"", map + ":10:9:", "column 'opp'"},
      {"not_equals: softmax}", "not_equals: [softmax]}", map + ":7:30:", "must be a value"},
      {"record:\n", "record: [\n", map + ":", "YAML error"},
  };
  for (const Case& c : cases) {
    std::string text = kMapping;
    Replace(&text, c.from, c.to);
    const std::string msg = LoadError(dir, text);
    EXPECT_EQ(msg.rfind(c.where, 0), 0u) << c.to << " -> " << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << c.to << " -> " << msg;
  }
}

TEST(ImportMappingTest, RowErrorsNameMappingLineAndCsvRow) {
  TempDir dir;
  const std::string map = dir.File("map.yaml");
  // Row 2 (line 3): a non-numeric cell; row 3: division by zero; row 2: no device matches.
  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmm,1e9,2,1,1,a\nmm,n/a,2,1,1,a\n");
  std::string msg = LoadError(dir, kMapping);
  EXPECT_EQ(msg.rfind(map + ":11:10:", 0), 0u) << msg;
  EXPECT_NE(msg.find("row 2 (line 3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'flops' is not a number ('n/a')"), std::string::npos) << msg;

  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmm,1e9,2,1,1,a\nmm,1e9,2,1,1,a\nmm,1e9,2,1,0,a\n");
  msg = LoadError(dir, kMapping);
  EXPECT_EQ(msg.rfind(map + ":13:13:", 0), 0u) << msg;
  EXPECT_NE(msg.find("row 3 (line 4)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("division by zero"), std::string::npos) << msg;

  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmm,1e9,2,1,1,a\nmm,1e9,2,1,1,c\n");
  msg = LoadError(dir, kMapping);
  EXPECT_NE(msg.find("row 2 (line 3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("matches no device"), std::string::npos) << msg;

  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmm,1e9,2,1,1\n");
  msg = LoadError(dir, kMapping);
  EXPECT_NE(msg.find("row 1 (line 2): 5 cells, the header has 6"), std::string::npos) << msg;
}

TEST(ImportStoreTest, SecondImportOfTheSameFileStoresNothing) {
  TempDir dir;
  dir.Write("ops.csv", kCsv);
  const std::string db = dir.File("w.db");
  auto store = ExternalStore::Open(db);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto batch = LoadImport(dir.Write("map.yaml", kMapping));
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();

  auto first = (*store)->Import(*batch);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->already_imported);
  EXPECT_EQ(first->rows_stored, 2);
  auto again = (*store)->Import(*batch);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->already_imported);
  EXPECT_EQ(again->rows_stored, 0);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM external_measurements"), 2);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM imports"), 1);

  // The same file under a changed mapping would be a second interpretation: refused.
  std::string changed = kMapping;
  Replace(&changed, "time_s: ms / 1000", "time_s: ms / 1000 * 2");
  auto other = LoadImport(dir.Write("map.yaml", changed));
  ASSERT_TRUE(other.ok());
  auto refused = (*store)->Import(*other);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM external_measurements"), 2);

  // A changed file is a new import.
  dir.Write("ops.csv", std::string(kCsv) + "matmul,8e9,9,0.003,2,a\n");
  auto grown = LoadImport(dir.Write("map.yaml", kMapping));
  ASSERT_TRUE(grown.ok());
  auto second = (*store)->Import(*grown);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->rows_stored, 3);

  auto records = (*store)->Records("operation", std::string("gpu-a"));
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 3u);  // 1 from the first import, 2 from the second
  auto devices = (*store)->Devices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_DOUBLE_EQ(*(*devices)[0].peak_flops, 10e12);
}

TEST(ImportStoreTest, AFailingRowLeavesTheStoreUnchanged) {
  TempDir dir;
  dir.Write("ops.csv", kCsv);
  const std::string db = dir.File("w.db");
  auto store = ExternalStore::Open(db);
  ASSERT_TRUE(store.ok());
  auto batch = LoadImport(dir.Write("map.yaml", kMapping));
  ASSERT_TRUE(batch.ok());
  // Two records with the same row number break UNIQUE(import_id, row) half-way through the
  // transaction, after the import row, the devices and the first record were written.
  ImportBatch bad = *batch;
  bad.source = "toy-bad";
  bad.records.push_back(bad.records.front());
  auto failed = (*store)->Import(bad);
  ASSERT_FALSE(failed.ok());
  for (const char* table : {"imports", "external_measurements", "external_devices"}) {
    EXPECT_EQ(QueryInt(db, std::string("SELECT COUNT(*) FROM ") + table), 0) << table;
  }
  // And the store still works afterwards.
  auto ok = (*store)->Import(*batch);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM external_measurements"), 2);
}

TEST(ImportStoreTest, ShippedMappingsImportTheMayakiCopy) {
  TempDir dir;
  const std::string root = WATTFLEET_SOURCE_DIR;
  auto store = ExternalStore::Open(dir.File("w.db"));
  ASSERT_TRUE(store.ok());
  auto ops = LoadImport(root + "/experiments/mappings/mayaki2025-transformer-ops.yaml");
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  EXPECT_EQ(ops->rows_read, 3000);
  EXPECT_EQ(ops->rows_filtered, 600);  // attention_softmax, 400 A100 + 200 RTX 2080 Ti
  for (const ExternalRecord& r : ops->records) ASSERT_NE(r.name, "attention_softmax");
  auto models = LoadImport(root + "/experiments/mappings/mayaki2025-transformer-models.yaml");
  ASSERT_TRUE(models.ok()) << models.status().ToString();
  EXPECT_EQ(models->records.size(), 1576u);
  const ExternalRecord& m = models->records.front();
  ASSERT_EQ(m.operations.size(), 4u);
  EXPECT_GT(m.operations.at("QKV Projections").flops, 1e9);
  EXPECT_EQ(m.operations.at("QKV Projections").count, m.features.at("layers"));
  ASSERT_TRUE((*store)->Import(*ops).ok());
  ASSERT_TRUE((*store)->Import(*models).ok());
  auto archs = (*store)->Records("architecture", std::nullopt);
  ASSERT_TRUE(archs.ok());
  ASSERT_EQ(archs->size(), 1576u);
  EXPECT_DOUBLE_EQ(archs->front().record.operations.at("Final Projection").flops,
                   m.operations.at("Final Projection").flops);
}

}  // namespace
}  // namespace wattfleet

namespace wattfleet {
namespace {

// Hostile or careless CSVs: each refused naming what is wrong, or read as meant.
TEST(ImportCsvTest, BomDuplicateHeadersHexNumbersAndControlCharacters) {
  TempDir dir;
  // A spreadsheet's byte order mark is not part of the first column's name.
  dir.Write("ops.csv", std::string("\xEF\xBB\xBF") + kCsv);
  auto bom = LoadImport(dir.Write("map.yaml", kMapping));
  ASSERT_TRUE(bom.ok()) << bom.status().ToString();
  EXPECT_EQ(bom->records.size(), 2u);
  EXPECT_EQ(bom->records[0].name, "matmul");

  // Two columns of one name: which one the mapping means cannot be known.
  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu,ms\nmatmul,2e9,4,0.001,2,a,5\n");
  std::string msg = LoadError(dir, kMapping);
  EXPECT_NE(msg.find("column 'ms' twice (columns 3 and 7)"), std::string::npos) << msg;

  // Decimal numbers only: 0x10 is not 16, inf and nan are not measurements.
  for (const char* cell : {"0x10", "inf", "nan", "1e", "."}) {
    dir.Write("ops.csv", std::string("op,flops,ms,kwh,reps,gpu\nmatmul,") + cell +
                             ",4,0.001,2,a\n");
    msg = LoadError(dir, kMapping);
    EXPECT_NE(msg.find("is not a number"), std::string::npos) << cell << ": " << msg;
  }
  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmatmul,-2.5E+3,4,0.001,2,a\n");
  msg = LoadError(dir, kMapping);  // parsed (as -2500), then refused as negative
  EXPECT_NE(msg.find("negative"), std::string::npos) << msg;

  // A NUL byte or an escape in a name is refused at its line, never stored.
  for (const std::string& bad : {std::string("mat\0mul", 7), std::string("mat\x1b[31mmul")}) {
    dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmm,1e9,2,1,1,a\n" + bad + ",1e9,2,1,1,a\n");
    msg = LoadError(dir, kMapping);
    EXPECT_NE(msg.find("ops.csv:3: control character"), std::string::npos) << msg;
  }
}

// A cell of megabytes, a file that is not a file, and a CSV past its bound: refused at the
// door, never parsed or stored.
TEST(ImportCsvTest, HugeCellsAndFilesThatAreNotFilesAreRefused) {
  TempDir dir;
  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmatmul,2e9,4,0.001,2,a\n\"" +
                           std::string(3u << 20, 'x') + "\",1e9,2,1,1,a\n");
  std::string msg = LoadError(dir, kMapping);
  EXPECT_NE(msg.find("ops.csv:3: column 1: a cell of more than 65536 bytes"), std::string::npos)
      << msg.substr(0, 300);

  // A cell of exactly the bound is fine; a row of too many columns is not.
  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu,note\nmatmul,2e9,4,0.001,2,a," +
                           std::string(65536, 'n') + "\n");
  auto fits = LoadImport(dir.Write("map.yaml", kMapping));
  EXPECT_TRUE(fits.ok()) << fits.status().message().substr(0, 300);
  dir.Write("ops.csv", "op,flops,ms,kwh,reps,gpu\nmatmul" + std::string(5000, ',') + "\n");
  msg = LoadError(dir, kMapping);
  EXPECT_NE(msg.find("ops.csv:2: more than 4096 columns"), std::string::npos) << msg;

  // /dev/zero as the CSV would be read forever; a FIFO would wait for a writer.
  const std::string fifo = dir.path() + "/fifo.csv";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& csv : {std::string("/dev/zero"), fifo}) {
    std::string mapping = kMapping;
    mapping.replace(mapping.find("ops.csv"), 7, csv);
    msg = LoadError(dir, mapping);
    EXPECT_NE(msg.find("not a regular file"), std::string::npos) << csv << ": " << msg;
  }
}

}  // namespace
}  // namespace wattfleet
