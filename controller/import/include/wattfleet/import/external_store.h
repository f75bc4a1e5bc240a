// Imported (external) measurements in the dataset: the external_devices, imports and
// external_measurements tables (store/import_table.h, of either backend; docs/dataset.md).
//
// An import is one transaction: every row is stored, or — on any failure — none.
// A file is identified by its content (SHA-256) together with the mapping's source label:
// importing the same file again stores nothing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/import/import_mapping.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ImportOutcome {
  int64_t import_id = 0;
  bool already_imported = false;  // the same file under the same source: nothing stored
  int64_t rows_stored = 0;
};

// A stored external record with where it came from.
struct StoredExternalRecord {
  std::string source;
  ExternalRecord record;
};

class ExternalStore {
 public:
  // Opens (creating and migrating as needed) the dataset `db` names, an SQLite file or a
  // postgresql:// URI (OpenImportTable).
  static Result<std::unique_ptr<ExternalStore>> Open(const std::string& db);
  ~ExternalStore();

  // Stores `batch` atomically. The same (source, CSV SHA-256) already stored with the same
  // mapping is not an error (already_imported); with a different mapping it is
  // InvalidArgument, since the rows would be stored twice under two interpretations. A
  // device already stored with a different peak_flops is InvalidArgument too.
  Result<ImportOutcome> Import(const ImportBatch& batch);

  Result<std::vector<ExternalDevice>> Devices();
  // Records of `kind` ("operation" or "architecture"), optionally of one device, in import
  // and row order.
  Result<std::vector<StoredExternalRecord>> Records(const std::string& kind,
                                                    const std::optional<std::string>& device);

  struct Impl;

 private:
  explicit ExternalStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wattfleet
