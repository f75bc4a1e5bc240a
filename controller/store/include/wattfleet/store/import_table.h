// Rows imported from other datasets, as the dataset keeps them: the external_devices, imports
// and external_measurements tables (docs/dataset.md, docs/import.md). Plain rows; what they
// mean and the rules of an import (import/external_store.h) are the importer's. Both backends.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct ImportedDeviceRow {
  std::string name;
  std::optional<double> peak_flops;
};

// One imported file.
struct ImportRow {
  std::string source;  // the mapping's source label
  std::string csv_path;
  std::string csv_sha256;
  std::string mapping_path;
  std::string mapping_sha256;
  int64_t rows_read = 0;
  int64_t rows_stored = 0;
  int64_t created_ms = 0;
};

// The import a (source, CSV SHA-256) pair already has.
struct PreviousImport {
  int64_t id = 0;
  std::string mapping_sha256;
  std::string mapping_path;
};

// One imported CSV row.
struct ImportedRow {
  int64_t row = 0;  // 1-based data row of its CSV
  std::string device;
  std::string kind;  // "operation" | "architecture"
  std::string name;
  std::string family;
  std::optional<double> flops;
  std::optional<double> time_s;
  std::optional<double> energy_j;
  std::string features_json;
  std::string operations_json;
};

// An imported row with the source label of its import.
struct StoredImportedRow {
  std::string source;
  ImportedRow row;
};

class ImportTable {
 public:
  // One import, atomically: what is written between Begin and Commit is stored together or,
  // when the transaction is destroyed uncommitted, not at all.
  class Transaction {
   public:
    virtual ~Transaction() = default;
    virtual Result<std::optional<PreviousImport>> FindImport(const std::string& source,
                                                             const std::string& csv_sha256) = 0;
    // The device's stored peak FLOP/s: nullopt when the device is not stored, a nullopt
    // inside when it is stored without one.
    virtual Result<std::optional<std::optional<double>>> DevicePeakFlops(
        const std::string& name) = 0;
    // Stores the device, or sets its peak FLOP/s.
    virtual Status PutDevice(const ImportedDeviceRow& device) = 0;
    // The import's id.
    virtual Result<int64_t> AddImport(const ImportRow& import) = 0;
    virtual Status AddRow(int64_t import_id, const ImportedRow& row) = 0;
    virtual Status Commit() = 0;
  };

  virtual ~ImportTable() = default;
  virtual Result<std::unique_ptr<Transaction>> Begin() = 0;
  // Every imported device, by name.
  virtual Result<std::vector<ImportedDeviceRow>> Devices() = 0;
  // Rows of `kind`, of one device or all, in import and row order.
  virtual Result<std::vector<StoredImportedRow>> Rows(const std::string& kind,
                                                      const std::optional<std::string>& device) = 0;
};

// Opens the dataset `db` names for importing: an SQLite file (created, with the dataset's
// schema, when missing; its folder must exist), or a postgresql:// URI (the schema created or
// migrated as `serve` does). InvalidArgument for another application's file or a dataset
// written by a newer wattfleet.
Result<std::unique_ptr<ImportTable>> OpenImportTable(const std::string& db);

}  // namespace wattfleet
