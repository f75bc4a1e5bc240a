// The PostgreSQL backend's entry in the registry (dataset_backend.h): a libpq connection URI,
// a dataset several controllers share.
#include "pg_store.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/import_table.h"
#include "wattfleet/store/model_table.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet {

const DatasetBackend& PostgresBackend() {
  static const DatasetBackend kBackend = [] {
    DatasetBackend b;
    b.name = "postgresql";
    b.flag_help = "postgresql:// URI";
    b.local = false;
    b.takes = [](std::string_view db) {
      return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
    };
    b.open_store = OpenPostgresStore;
    b.open_reader = OpenPgDatasetReader;
    b.open_models = OpenPgModelTable;
    b.open_imports = OpenPgImportTable;
    b.label = pg::Label;
    return b;
  }();
  return kBackend;
}

}  // namespace wattfleet
