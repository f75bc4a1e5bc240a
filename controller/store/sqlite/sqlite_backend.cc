// The SQLite backend's entry in the registry (dataset_backend.h): a file on this machine, the
// embedded dataset of `wattfleet run` and the value every --db takes unless another backend
// claims it.
#include "sqlite_store.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/import_table.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet {

namespace {

bool TakesAny(std::string_view) { return true; }
std::string AsGiven(const std::string& db) { return db; }

}  // namespace

const DatasetBackend& SqliteBackend() {
  // In the order of DatasetBackend's fields.
  static const DatasetBackend kBackend{
      "sqlite", "SQLite file", /*local=*/true, TakesAny, OpenSqliteStore, OpenSqliteDatasetReader,
      OpenSqliteModelTable, OpenSqliteImportTable, AsGiven};
  return kBackend;
}

}  // namespace wattfleet
