// `wattfleet import`: a mapping file (YAML, docs/import.md) that turns the rows of an external
// measurement CSV into operation or architecture records of the dataset.
//
// Loading is all or nothing: the first bad mapping entry or bad row is the result, as an
// InvalidArgument naming the mapping's file:line:column and, for a row, the CSV's row and
// line numbers. Nothing here touches the store (external_store.h does).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/common/status.h"

namespace wattfleet {

// A device named by a mapping; `peak_flops` (FLOP/s) is what the power-law estimator divides
// by, unknown when the mapping does not give it.
struct ExternalDevice {
  std::string name;
  std::optional<double> peak_flops;
};

// An operation type inside an architecture: the FLOPs of one call and how many calls one
// iteration makes (e.g. once per layer). Efficiency depends on the size of a call, so the
// power-law estimator predicts one call's duration and multiplies by the count.
struct OperationCost {
  double flops = 0;
  double count = 1;
};

// One CSV row as the dataset keeps it. `kind` is "operation" (one operation or layer run:
// flops and time_s of one iteration) or "architecture" (a whole model: energy_j, time_s,
// features, and the FLOPs of each operation type it contains).
struct ExternalRecord {
  int64_t row = 0;  // 1-based data row of the CSV (the header is not counted)
  std::string device;
  std::string kind;
  std::string name;
  std::string family;
  std::optional<double> flops;
  std::optional<double> time_s;
  std::optional<double> energy_j;
  std::map<std::string, double> features;
  std::map<std::string, OperationCost> operations;  // by operation type (architectures)
  // What the layer-wise estimators need of a row that names a layer or a zoo architecture:
  // null, {"layer": ImportedLayer(...)} or {"zoo": ImportedArchitecture(...)}
  // (import_layers.h); stored beside the features.
  nlohmann::json spec;
};

// Everything one `import` would store.
struct ImportBatch {
  std::string source;          // the mapping's source label
  std::string mapping_path;
  std::string mapping_sha256;  // of the mapping file's bytes
  std::string csv_path;        // as resolved (relative to the mapping's directory)
  std::string csv_sha256;      // of the CSV file's bytes: the identity of the import
  std::vector<ExternalDevice> devices;
  std::vector<ExternalRecord> records;
  int64_t rows_read = 0;      // data rows in the CSV
  int64_t rows_filtered = 0;  // left out by the mapping's filters
};

// Reads the mapping at `mapping_path` and the CSV it names (or `csv_path`, when given: the
// command line's CSV, relative to the working directory), and evaluates every row.
Result<ImportBatch> LoadImport(const std::string& mapping_path, const std::string& csv_path = "");

}  // namespace wattfleet
