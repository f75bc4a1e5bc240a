// The export formats: CSV header and RFC 4180 quoting (canonical layer keys contain commas),
// JSON Lines types, and the atomic file write.
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.h"
#include <nlohmann/json.hpp>

#include "wattfleet/store/export.h"

namespace wattfleet {
namespace {

using testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A strict RFC 4180 reader: records of fields, quoted fields may hold commas, quotes (doubled)
// and line breaks.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quote";
  EXPECT_TRUE(field.empty() && record.empty()) << "last record without a line break";
  return records;
}

ExportRow LayerRow() {
  ExportRow r;
  r.campaign_id = 3;
  r.campaign = "thor \"lenet5\", take 2\nsecond line";
  r.job_id = 41;
  r.attempt = 2;
  r.device = "agent-1";
  r.device_class = "cpu";
  r.kind = JobKind::kLayer;
  r.layer_key = "Conv2d(bias=1,dilation=1,groups=1,in_channels=1,kernel_size=5)[1,28,28]";
  r.layer_type = "Conv2d";
  r.architecture = "lenet5;mlp-d3-w64";
  r.mode = "training";
  r.dtype = "float32";
  r.batch = 32;
  r.macs = 3763200;
  r.flops = 7526400;
  r.params = 156;
  r.measured_at_ms = 1700000000123;
  r.m.sensor = "rapl";
  r.m.domain = "package";
  r.m.energy_is_estimate = false;
  r.m.repeats = {{10, 0.5, 3.0}, {10, 0.5, 3.1}};
  r.m.iterations_per_window = 10;
  r.m.time_per_iter_s = 0.05;
  r.m.time_std_s = 1.0 / 3.0;
  r.m.energy_per_iter_j = 0.1;
  r.m.energy_std_j = 1e-9;
  r.m.energy_dynamic_per_iter_j = 0.07;
  r.m.idle_w = 12.25;
  r.m.rel_ci = 0.031;
  r.m.time_rel_ci = 0.002;
  r.m.ci_met = true;
  r.m.agent_version = "0.1.0";
  r.m.torch_version = "2.1.0";
  r.m.device = "cpu";
  r.m.threads = 8;
  r.m.temperature_before_c = 44.5;
  r.m.temperature_after_c = 58.25;
  r.m.clock_before_mhz = 2400;
  r.m.clock_after_mhz = 1800.5;
  r.m.telemetry_source = "sysfs:x86_pkg_temp+cpufreq";
  r.m.interference = 0.375;
  r.m.windows_discarded = 2;
  r.m.flags = {"interference", "below-idle"};
  r.m.energy_bound_j = 2.5e-5;
  r.m.sensor_update_period_s = 0.1;
  return r;
}

ExportRow ModelRow() {
  ExportRow r = LayerRow();
  r.campaign = "plain";
  r.job_id = 42;
  r.kind = JobKind::kModel;
  r.layer_key.clear();
  r.layer_type.clear();
  r.architecture = "lenet5";
  r.m.energy_is_estimate = true;
  r.m.energy_model = "15 W per core x 2 cores = 30 W at full load, idle 9 W";
  r.m.ci_met = false;
  r.m.rel_ci = std::nan("");
  // Not exposed on this device.
  r.m.temperature_before_c = r.m.temperature_after_c = std::nan("");
  r.m.clock_before_mhz = r.m.clock_after_mhz = std::nan("");
  r.m.telemetry_source.clear();
  r.m.interference = std::nan("");
  r.m.windows_discarded = 0;
  r.m.flags.clear();
  r.m.energy_bound_j = std::nan("");  // from an agent that predates the bound
  r.m.sensor_update_period_s = std::nan("");
  return r;
}

size_t Col(const std::string& name) {
  const auto& cols = ExportColumns();
  for (size_t i = 0; i < cols.size(); ++i)
    if (cols[i] == name) return i;
  ADD_FAILURE() << "no column " << name;
  return 0;
}

TEST(ExportTest, ColumnsStartWithTheDocumentedOnesInOrder) {
  const std::vector<std::string> documented = {
      "campaign",      "campaign_id",   "job_id",       "attempt",
      "device",        "device_class",  "sensor",       "domain",
      "energy_is_estimate", "kind",     "layer_key",    "layer_type",
      "architecture",  "mode",          "dtype",        "batch",
      "macs",          "flops",         "params",       "energy_j",
      "energy_std_j",  "energy_dynamic_j", "time_s",    "time_std_s",
      "repeats",       "rel_ci",        "time_rel_ci",  "ci_met",
      "idle_w",        "iterations_per_window", "agent_version", "torch_version",
      "measured_at_ms"};
  const auto& cols = ExportColumns();
  ASSERT_GE(cols.size(), documented.size());
  for (size_t i = 0; i < documented.size(); ++i) EXPECT_EQ(cols[i], documented[i]) << i;
  // Later columns are appended (docs/dataset.md), so readers by position keep working:
  // telemetry, then the quality of the measurement.
  const std::vector<std::string> appended = {
      "temperature_before_c", "temperature_after_c", "clock_before_mhz", "clock_after_mhz",
      "telemetry_source",     "interference",        "windows_discarded", "quality_flags",
      "energy_bound_j",       "sensor_update_period_s", "energy_model"};
  ASSERT_GE(cols.size(), appended.size());
  EXPECT_EQ(std::vector<std::string>(cols.end() - 11, cols.end()), appended);
  // Columns are unique (they are JSON keys too).
  for (size_t i = 0; i < cols.size(); ++i)
    for (size_t j = i + 1; j < cols.size(); ++j) EXPECT_NE(cols[i], cols[j]);
}

TEST(ExportTest, CsvHeaderIsExactlyTheColumns) {
  std::ostringstream out;
  WriteCsv({}, out);
  std::string want;
  for (const auto& c : ExportColumns()) want += (want.empty() ? "" : ",") + c;
  EXPECT_EQ(out.str(), want + "\n");
}

TEST(ExportTest, CsvQuotesAndParsesBack) {
  std::ostringstream out;
  WriteCsv({LayerRow(), ModelRow()}, out);
  const auto records = ParseCsv(out.str());
  ASSERT_EQ(records.size(), 3u);
  for (const auto& rec : records) ASSERT_EQ(rec.size(), ExportColumns().size());
  EXPECT_EQ(records[0], ExportColumns());

  const auto& row = records[1];
  const ExportRow r = LayerRow();
  EXPECT_EQ(row[Col("campaign")], r.campaign);
  EXPECT_EQ(row[Col("layer_key")], r.layer_key);
  EXPECT_EQ(row[Col("architecture")], "lenet5;mlp-d3-w64");
  EXPECT_EQ(row[Col("job_id")], "41");
  EXPECT_EQ(row[Col("attempt")], "2");
  EXPECT_EQ(row[Col("macs")], "3763200");
  EXPECT_EQ(row[Col("measured_at_ms")], "1700000000123");
  EXPECT_EQ(row[Col("repeats")], "2");
  EXPECT_EQ(row[Col("energy_is_estimate")], "false");
  EXPECT_EQ(row[Col("ci_met")], "true");
  EXPECT_EQ(row[Col("energy_j")], "0.1");  // shortest form that round-trips
  EXPECT_EQ(row[Col("idle_w")], "12.25");
  // Every double reads back exactly.
  EXPECT_EQ(std::strtod(row[Col("time_std_s")].c_str(), nullptr), 1.0 / 3.0);
  EXPECT_EQ(std::strtod(row[Col("energy_std_j")].c_str(), nullptr), 1e-9);
  EXPECT_EQ(std::strtod(row[Col("rel_ci")].c_str(), nullptr), 0.031);

  const auto& model = records[2];
  EXPECT_EQ(model[Col("kind")], "model");
  EXPECT_EQ(model[Col("layer_key")], "");
  EXPECT_EQ(model[Col("rel_ci")], "");  // NaN is a missing value
  EXPECT_EQ(model[Col("energy_is_estimate")], "true");
  EXPECT_EQ(model[Col("energy_model")], "15 W per core x 2 cores = 30 W at full load, idle 9 W");
  EXPECT_EQ(row[Col("energy_model")], "");  // measured: no model to state

  // Quality: the measurement's own flags; "ci" for a missed target, also from ci_met alone.
  EXPECT_EQ(row[Col("interference")], "0.375");
  EXPECT_EQ(row[Col("windows_discarded")], "2");
  EXPECT_EQ(row[Col("quality_flags")], "interference;below-idle");
  EXPECT_EQ(model[Col("interference")], "");
  EXPECT_EQ(model[Col("quality_flags")], "ci");
  // The sensor's own bound beside the CI, and the update period the windows were sized from.
  EXPECT_EQ(row[Col("energy_bound_j")], "2.5e-05");
  EXPECT_EQ(row[Col("sensor_update_period_s")], "0.1");
  EXPECT_EQ(model[Col("energy_bound_j")], "");

  EXPECT_EQ(row[Col("temperature_before_c")], "44.5");
  EXPECT_EQ(row[Col("temperature_after_c")], "58.25");
  EXPECT_EQ(row[Col("clock_before_mhz")], "2400");
  EXPECT_EQ(row[Col("clock_after_mhz")], "1800.5");
  EXPECT_EQ(row[Col("telemetry_source")], "sysfs:x86_pkg_temp+cpufreq");
  for (const char* c : {"temperature_before_c", "temperature_after_c", "clock_before_mhz",
                        "clock_after_mhz", "telemetry_source"}) {
    EXPECT_EQ(model[Col(c)], "") << c;  // not exposed: an empty cell
  }
}

// Text from peers (an agent's version, its device name) that a spreadsheet would run.
TEST(ExportTest, CsvCellsThatWouldRunAsFormulasAreWrittenAsText) {
  ExportRow r = LayerRow();
  r.m.agent_version = "=HYPERLINK(\"http://x.example\",\"click\")";
  r.device = "+cmd|' /C calc'!A0";
  r.m.torch_version = "@SUM(1+1)";
  r.m.device = "-2+3";
  r.m.temperature_before_c = -20.5;  // a number, not text: stays a number
  std::ostringstream out;
  WriteCsv({r}, out);
  const auto records = ParseCsv(out.str());
  ASSERT_EQ(records.size(), 2u);
  const auto& row = records[1];
  EXPECT_EQ(row[Col("agent_version")], "'" + r.m.agent_version);
  EXPECT_EQ(row[Col("device")], "'" + r.device);
  EXPECT_EQ(row[Col("torch_version")], "'" + r.m.torch_version);
  EXPECT_EQ(row[Col("torch_device")], "'" + r.m.device);
  EXPECT_EQ(row[Col("temperature_before_c")], "-20.5");
  EXPECT_EQ(row[Col("layer_type")], "Conv2d");  // ordinary text untouched

  // A program that parses the CSV itself gets the exact text, as JSON Lines gives it.
  std::ostringstream exact;
  WriteCsv({r}, exact, CsvText::kExact);
  const auto exact_records = ParseCsv(exact.str());
  ASSERT_EQ(exact_records.size(), 2u);
  EXPECT_EQ(exact_records[1][Col("agent_version")], r.m.agent_version);
  EXPECT_EQ(exact_records[1][Col("device")], r.device);
  std::ostringstream json;
  WriteJsonLines({r}, json);
  EXPECT_EQ(nlohmann::json::parse(json.str())["agent_version"], r.m.agent_version);
}

// A program's window: no mode of ours, no spread or CI over one window, and no dynamic energy
// or idle power where idle was not measured; with idle measured, both are there.
TEST(ExportTest, WindowRowsClaimNothingTheyDoNotHave) {
  ExportRow w = LayerRow();
  w.kind = JobKind::kWindow;
  w.layer_key.clear();
  w.layer_type.clear();
  w.architecture = "epoch-1";
  w.m.idle_w = 0;  // as stored without measure_idle
  w.m.energy_dynamic_per_iter_j = w.m.energy_per_iter_j;
  w.m.ci_met = true;
  std::ostringstream json;
  WriteJsonLines({w}, json);
  const auto j = nlohmann::json::parse(json.str());
  EXPECT_EQ(j["kind"], "window");
  for (const char* c : {"mode", "ci_met", "rel_ci", "time_rel_ci", "energy_std_j", "time_std_s",
                        "energy_dynamic_j", "idle_w"}) {
    EXPECT_TRUE(j[c].is_null()) << c << ": " << j[c];
  }
  EXPECT_DOUBLE_EQ(j["energy_j"].get<double>(), w.m.energy_per_iter_j);

  w.m.idle_w = 12.5;
  w.m.energy_dynamic_per_iter_j = 0.004;
  std::ostringstream csv;
  WriteCsv({w}, csv);
  const auto records = ParseCsv(csv.str());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1][Col("idle_w")], "12.5");
  EXPECT_EQ(records[1][Col("energy_dynamic_j")], "0.004");
  EXPECT_EQ(records[1][Col("mode")], "");
  EXPECT_EQ(records[1][Col("ci_met")], "");
}

// Dynamic energy at or below zero is no energy a device spent: shown as missing, while the
// raw figure and the flags that say why stay.
TEST(ExportTest, DynamicEnergyAtOrBelowZeroIsMissing) {
  ExportRow r = LayerRow();
  r.m.energy_dynamic_per_iter_j = -0.25;
  r.m.flags = {kFlagBelowIdle};
  std::ostringstream out;
  WriteCsv({r}, out);
  const auto records = ParseCsv(out.str());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1][Col("energy_dynamic_j")], "");
  EXPECT_NE(records[1][Col("energy_j")], "");
  EXPECT_NE(records[1][Col("idle_w")], "");
  EXPECT_NE(records[1][Col("quality_flags")].find("below-idle"), std::string::npos);
  EXPECT_EQ(records[1][Col("mode")], "training");
}

TEST(ExportTest, JsonLinesHaveEveryColumnWithItsType) {
  std::ostringstream out;
  WriteJsonLines({LayerRow(), ModelRow()}, out);
  std::istringstream in(out.str());
  std::string line;
  std::vector<nlohmann::json> objs;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << line;
    objs.push_back(std::move(j));
  }
  ASSERT_EQ(objs.size(), 2u);
  for (const auto& j : objs) {
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), ExportColumns().size());
    for (const auto& c : ExportColumns()) EXPECT_TRUE(j.contains(c)) << c;
  }
  const auto& j = objs[0];
  EXPECT_EQ(j["layer_key"], LayerRow().layer_key);
  EXPECT_EQ(j["campaign"], LayerRow().campaign);
  EXPECT_TRUE(j["job_id"].is_number_integer());
  EXPECT_EQ(j["job_id"].get<int64_t>(), 41);
  EXPECT_EQ(j["measured_at_ms"].get<int64_t>(), 1700000000123);
  EXPECT_TRUE(j["energy_j"].is_number_float());
  EXPECT_EQ(j["energy_j"].get<double>(), 0.1);
  EXPECT_EQ(j["time_std_s"].get<double>(), 1.0 / 3.0);
  EXPECT_TRUE(j["ci_met"].is_boolean());
  EXPECT_TRUE(j["ci_met"].get<bool>());
  EXPECT_FALSE(j["energy_is_estimate"].get<bool>());
  EXPECT_EQ(j["repeats"].get<int64_t>(), 2);
  EXPECT_TRUE(objs[1]["rel_ci"].is_null());
  EXPECT_EQ(j["temperature_before_c"].get<double>(), 44.5);
  EXPECT_EQ(j["clock_after_mhz"].get<double>(), 1800.5);
  EXPECT_EQ(j["telemetry_source"], "sysfs:x86_pkg_temp+cpufreq");
  for (const char* c : {"temperature_before_c", "temperature_after_c", "clock_before_mhz",
                        "clock_after_mhz", "telemetry_source"}) {
    EXPECT_TRUE(objs[1][c].is_null()) << c;
  }
  // Keys come in column order, like the CSV.
  EXPECT_EQ(out.str().rfind("{\"campaign\":", 0), 0u);
}

TEST(ExportTest, WriteExportFileIsAtomic) {
  TempDir dir;
  const std::string path = dir.File("data.csv");
  {
    std::ofstream(path) << "old contents\n";
  }
  ASSERT_TRUE(WriteExportFile({LayerRow()}, "csv", path).ok());
  std::ostringstream want;
  WriteCsv({LayerRow()}, want);
  EXPECT_EQ(ReadFile(path), want.str());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  const std::string jsonl = dir.File("data.jsonl");
  ASSERT_TRUE(WriteExportFile({LayerRow(), ModelRow()}, "jsonl", jsonl).ok());
  std::ostringstream want_jsonl;
  WriteJsonLines({LayerRow(), ModelRow()}, want_jsonl);
  EXPECT_EQ(ReadFile(jsonl), want_jsonl.str());

  // An unknown format writes nothing at all.
  const std::string parquet = dir.File("data.parquet");
  const Status bad = WriteExportFile({LayerRow()}, "parquet", parquet);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("parquet"), std::string::npos) << bad.ToString();
  EXPECT_FALSE(std::filesystem::exists(parquet));
  EXPECT_FALSE(std::filesystem::exists(parquet + ".tmp"));

  // A folder that does not exist is a typo in the path, named, and nothing is created.
  const std::string nowhere = dir.File("no/such/dir/data.csv");
  const Status io = WriteExportFile({LayerRow()}, "csv", nowhere);
  EXPECT_EQ(io.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir.File("no")));
  EXPECT_NE(io.message().find(nowhere), std::string::npos) << io.ToString();

  // A rename that fails (the target is a non-empty directory) removes the temporary file.
  const std::string taken = dir.File("taken");
  std::filesystem::create_directories(taken + "/child");
  const Status rename = WriteExportFile({LayerRow()}, "csv", taken);
  EXPECT_EQ(rename.code(), StatusCode::kIOError);
  EXPECT_FALSE(std::filesystem::exists(taken + ".tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(taken));

  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"data.csv", "data.jsonl", "taken"}));
}

TEST(ExportTest, EmptyExportsAreValid) {
  TempDir dir;
  ASSERT_TRUE(WriteExportFile({}, "jsonl", dir.File("e.jsonl")).ok());
  EXPECT_EQ(ReadFile(dir.File("e.jsonl")), "");
  ASSERT_TRUE(WriteExportFile({}, "csv", dir.File("e.csv")).ok());
  EXPECT_EQ(ParseCsv(ReadFile(dir.File("e.csv"))).size(), 1u);
}

}  // namespace
}  // namespace wattfleet
