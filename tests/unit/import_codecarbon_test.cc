// CodeCarbon's emissions.csv imported as CodeCarbon writes it (docs/import.md, "CodeCarbon"):
// the shipped mappings split `project_name`'s `key:value` list into columns and convert kWh
// to joules; a generated file holds per-layer runs, whole-model runs and a run named
// CodeCarbon's default, in one file, as one tracker appends them. Also the derived columns'
// own rules: a regex capture, unit conversion, and the errors that name the mapping or row.
#include <gtest/gtest.h>

#include <sstream>

#include "wattfleet/estimate/architecture_sample.h"
#include "wattfleet/estimate/training_data.h"
#include "wattfleet/import/external_store.h"
#include "wattfleet/import/import_mapping.h"
#include "wattfleet/zoo/zoo.h"
#include "temp_dir.h"

namespace wattfleet {
namespace {

using testing::TempDir;

constexpr const char* kHeader =
    "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
    "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,"
    "region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,"
    "cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,"
    "pue\n";

// Seconds per pass: 5 µs per call and 1 ns per MAC; 20 W while it runs.
double PassSeconds(double macs) { return 5e-6 + 1e-9 * macs; }
constexpr double kWatts = 20;

// One emissions.csv row: `passes` passes of `seconds` each, at kWatts.
std::string Row(const std::string& project, double seconds, int passes) {
  std::ostringstream row;
  row.precision(17);
  const double duration = seconds * passes;
  const double kwh = kWatts * duration / 3.6e6;
  row << "2026-11-02T10:00:00,\"" << project << "\",9b2a43db-5992-46d8-ac23-3edc602667fc,"
      << duration << "," << kwh * 0.05 << ",1e-07,15.0,0.0,5.0," << kwh * 0.75 << ",0,"
      << kwh * 0.25 << "," << kwh
      << ",France,FRA,,,,Linux-6.1-x86_64,3.11.4,2.3.4,8,Intel(R) Xeon(R),,,2.35,48.85,"
         "31.3,machine,N,1.0\n";
  return row.str();
}

std::string EmissionsCsv() {
  std::string csv = kHeader;
  for (int batch : {1, 8}) {
    for (auto [in, out] : {std::pair{784, 256}, {256, 128}, {128, 10}}) {
      const double macs = static_cast<double>(batch) * in * out;
      csv += Row("layer:Linear,in:" + std::to_string(in) + ",out:" + std::to_string(out) +
                     ",batch:" + std::to_string(batch) + ",passes:100",
                 PassSeconds(macs), 100);
    }
    csv += Row("layer:ReLU,in:16,size:14,batch:" + std::to_string(batch) + ",passes:100",
               PassSeconds(0), 100);
    csv += Row("model:mlp-mnist,batch:" + std::to_string(batch) + ",passes:20",
               PassSeconds(batch * (784.0 * 256 + 256 * 128 + 128 * 10)) * 1.1, 20);
  }
  // A run that wrapped the whole script under CodeCarbon's default name: neither mapping's.
  csv += Row("codecarbon", 300, 1);
  return csv;
}

std::string ShippedMapping(const std::string& name) {
  return std::string(WATTFLEET_SOURCE_DIR) + "/experiments/mappings/" + name;
}

TEST(ImportCodeCarbon, ShippedMappingsImportLayerAndModelRunsOfOneFile) {
  TempDir dir;
  const std::string csv = dir.Write("emissions.csv", EmissionsCsv());
  auto layers = LoadImport(ShippedMapping("codecarbon-layers.yaml"), csv);
  ASSERT_TRUE(layers.ok()) << layers.status().message();
  EXPECT_EQ(layers->rows_read, 11);
  EXPECT_EQ(layers->rows_filtered, 3) << "two model runs and the default-named run";
  ASSERT_EQ(layers->records.size(), 8u);
  const ExternalRecord& first = layers->records[0];
  EXPECT_EQ(first.name, "Linear");
  ASSERT_TRUE(first.time_s && first.energy_j);
  const double t = PassSeconds(784.0 * 256);
  EXPECT_NEAR(*first.time_s / t, 1.0, 1e-12) << "duration over passes";
  EXPECT_NEAR(*first.energy_j / (kWatts * t), 1.0, 1e-12) << "kWh over passes, in joules";
  ASSERT_TRUE(first.spec.contains("layer")) << first.spec.dump();

  auto models = LoadImport(ShippedMapping("codecarbon-models.yaml"), csv);
  ASSERT_TRUE(models.ok()) << models.status().message();
  ASSERT_EQ(models->records.size(), 2u);
  EXPECT_EQ(models->records[1].name, "mlp-mnist-b8");
  ASSERT_TRUE(models->records[1].spec.contains("zoo"));

  // Stored, they are the layer-wise estimators' samples under the zoo's own layer keys.
  const std::string db = dir.File("lab.db");
  {
    auto store = ExternalStore::Open(db);
    ASSERT_TRUE(store.ok()) << store.status().message();
    ASSERT_TRUE((*store)->Import(*layers).ok());
    ASSERT_TRUE((*store)->Import(*models).ok());
  }
  auto data = LoadTrainingData(db);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->layers.size(), 8u);
  ASSERT_EQ(data->models.size(), 2u);
  auto arch = FindZooArchitecture("mlp-mnist");
  ASSERT_TRUE(arch.ok());
  auto sample = MakeArchitectureSample(*arch, 8, "lab-cpu", "inference");
  ASSERT_TRUE(sample.ok());
  EXPECT_EQ(data->models[1].layer_keys, sample->model.layer_keys);
  int linear1 = 0;
  for (const LayerSample& s : data->layers) {
    EXPECT_EQ(s.campaign, "import:codecarbon-layers");
    linear1 += s.key == sample->nodes[0].key && s.batch == 8;
  }
  EXPECT_EQ(linear1, 1) << "an imported Linear 784→256 is mlp-mnist's first layer";
}

constexpr const char* kRegexMapping = R"(source: runs
device: {name: lab-gpu}
columns:
  - {from: project_name, regex: '([a-z0-9_]+)-bs([0-9]+)', into: [model, batch_size]}
  - {from: duration, unit: ms, into: duration_s}
filters:
  - {column: model, not_equals: ""}
record:
  kind: architecture
  name: "{model}-b{batch_size}"
  family: "{model}"
  time_s: duration_s / batch_size
  energy_j: 1
)";

TEST(ImportCodeCarbon, RegexCapturesAndUnitsAreColumnsForTemplatesAndExpressions) {
  TempDir dir;
  const std::string csv = dir.Write("runs.csv",
                                    "project_name,duration\n"
                                    "resnet18-bs32,640\n"
                                    "warm-up,12\n"
                                    "vit_b_16-bs8,80\n");
  auto batch = LoadImport(dir.Write("map.yaml", kRegexMapping), csv);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(batch->rows_filtered, 1) << "a name the regex does not match gives empty cells";
  ASSERT_EQ(batch->records.size(), 2u);
  EXPECT_EQ(batch->records[0].name, "resnet18-b32");
  EXPECT_EQ(batch->records[0].family, "resnet18");
  EXPECT_DOUBLE_EQ(*batch->records[0].time_s, 0.640 / 32);
  EXPECT_EQ(batch->records[1].name, "vit_b_16-b8");
  EXPECT_DOUBLE_EQ(*batch->records[1].time_s, 0.080 / 8);
}

// The error `LoadImport` gives for `mapping` over `csv`, or "" when it loads.
std::string ImportError(const std::string& mapping, const std::string& csv) {
  TempDir dir;
  auto batch = LoadImport(dir.Write("map.yaml", mapping), dir.Write("runs.csv", csv));
  return batch.ok() ? "" : batch.status().message();
}

std::string WithColumns(const std::string& columns) {
  return "device: {name: d}\ncolumns:\n" + columns +
         "record: {kind: architecture, name: \"{project_name}\", time_s: duration}\n";
}

TEST(ImportCodeCarbon, BadDerivedColumnsNameTheMappingOrTheRow) {
  const std::string csv = "project_name,duration\n\"a:1,b:2\",1\n";
  struct Case {
    std::string columns, csv, expect;
  };
  const std::vector<Case> cases = {
      {"  - {from: project_name, regex: '(a', into: [x]}\n", csv, "map.yaml:3:"},
      {"  - {from: project_name, regex: '(a)(b)', into: [x]}\n", csv, "2 groups"},
      {"  - {from: duration, unit: kcal, into: x}\n", csv, "unknown unit 'kcal'"},
      {"  - {from: project_name, split: {}, keys: [a], regex: 'x', into: [y]}\n", csv,
       "exactly one of split, regex or unit"},
      {"  - {from: project_name, split: {items: \",\", pairs: \",\"}, keys: [a]}\n", csv,
       "different separators"},
      {"  - {from: nothing, unit: s, into: x}\n", csv, "column 'nothing' is not in the header"},
      {"  - {from: duration, unit: s, into: project_name}\n", csv,
       "'project_name' is already a column"},
      {"  - {from: project_name, split: {}, keys: [a]}\n", "project_name,duration\n\"a:1,a:2\",1\n",
       "row 1 (line 2)"},
      {"  - {from: project_name, regex: '(a+)', into: [x]}\n",
       "project_name,duration\n" + std::string(5000, 'a') + ",1\n", "more than the 4096"},
  };
  for (const Case& c : cases) {
    const std::string error = ImportError(WithColumns(c.columns), c.csv);
    EXPECT_NE(error.find(c.expect), std::string::npos) << c.columns << " → " << error;
  }
  // A split key a row does not give is an empty cell: an expression reading it names the row.
  const std::string missing = ImportError(
      "device: {name: d}\ncolumns:\n  - {from: project_name, split: {}, keys: [passes]}\n"
      "record: {kind: architecture, name: x, time_s: duration / passes}\n",
      csv);
  EXPECT_NE(missing.find("column 'passes' is not a number"), std::string::npos) << missing;
  EXPECT_NE(missing.find("row 1"), std::string::npos) << missing;
}

}  // namespace
}  // namespace wattfleet
