// The SQLite backend's entry in the registry (dataset_backend.h): a file on this machine, the
// embedded dataset of `wattfleet run` and the value every --db takes unless another backend
// claims it.
#include "sqlite_store.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/import_table.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet {

const DatasetBackend& SqliteBackend() {
  static const DatasetBackend kBackend = [] {
    DatasetBackend b;
    b.name = "sqlite";
    b.flag_help = "SQLite file";
    b.local = true;
    b.takes = [](std::string_view) { return true; };
    b.open_store = OpenSqliteStore;
    b.open_reader = OpenSqliteDatasetReader;
    b.open_models = OpenSqliteModelTable;
    b.open_imports = OpenSqliteImportTable;
    b.label = [](const std::string& db) { return db; };
    return b;
  }();
  return kBackend;
}

}  // namespace wattfleet
