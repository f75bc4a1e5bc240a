// Private to the package library: what a published package holds, read from the dataset in
// one snapshot, and its tables as the files present them (one CSV and one JSON Lines file
// each, under data/).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/export.h"

namespace wattfleet::package {

struct DeviceRow {
  std::string device_class;
  std::string capabilities_json;
};

// What each sensor backend's measurements were, for the datasheet.
struct SensorUse {
  int64_t measurements = 0;
  int64_t estimated = 0;  // energy_is_estimate
  std::set<std::string> domains;
  double min_update_s = 0, max_update_s = 0;  // 0: not recorded
};

struct Content {
  std::vector<CampaignRecord> campaigns;  // the published ones, by id
  std::vector<ExportRow> measurements;    // by job id
  std::vector<LayerRecord> layers;        // those the measurements and architectures name
  std::vector<ArchitectureRecord> architectures;
  std::map<int64_t, std::vector<std::string>> architecture_layers;  // by architecture id
  std::map<int64_t, std::vector<std::string>> architecture_nodes;   // their names
  std::map<std::string, DeviceRow> devices;                         // by agent name
  std::map<int64_t, std::string> job_specs;                         // msgpack, by job id
  // Counts the datasheet and the provenance state.
  std::map<std::string, int64_t> flags;  // quality flag -> measurements carrying it
  std::map<std::string, int64_t> kinds;  // job kind -> measurements
  std::map<std::string, SensorUse> sensors;
  std::set<std::string> agent_versions, torch_versions, modes, device_classes;
  int64_t metered = 0, modeled = 0, windows = 0;
  int64_t first_ms = 0, last_ms = 0;  // measured_at_ms range
};

// Reads the campaigns `ids` (all of them when empty) with everything their measurements refer
// to. The reader must be one snapshot (DatasetReader is).
Result<Content> ReadContent(DatasetReader& reader, const std::vector<int64_t>& ids);

// A table of the package.
struct Table {
  struct Reference {
    std::string column, table, table_column;  // column's values are table.table_column's
  };
  std::string name;  // data/<name>.csv and data/<name>.jsonl
  std::string description;
  std::vector<ColumnInfo> columns;
  std::vector<std::string> key;  // the columns whose values identify a row
  std::vector<Reference> references;
  // Which files present it: both by default; the jobs' encoded records, which no reader
  // looks at cell by cell, only as JSON Lines.
  bool csv = true;
  bool json_lines = true;
  int64_t rows = 0;
  // Calls `row` with each row's cells, in the file's order.
  std::function<void(const std::function<void(const std::vector<ExportCell>&)>& row)> each;
};

// The path of a campaign's file, verbatim, in the package: campaigns/ID-NAME.yaml, the name
// reduced to letters, digits, '-', '_' and '.'.
std::string CampaignFile(const CampaignRecord& campaign);

// The package's tables over `content` (which must outlive them), in the order they are
// described.
std::vector<Table> TablesOf(const Content& content);

}  // namespace wattfleet::package
