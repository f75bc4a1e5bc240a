#include "wattfleet/store/store_open.h"

#include "pg_store.h"
#include "sqlite_store.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/import_table.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet {

bool IsPostgresUri(std::string_view db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& db, const StoreOpenOptions& options) {
  if (IsPostgresUri(db)) return OpenPostgresStore(db, options);
  return OpenSqliteStore(db, options);
}

Result<std::unique_ptr<DatasetReader>> OpenDatasetReader(const std::string& db) {
  if (IsPostgresUri(db)) return OpenPgDatasetReader(db);
  return OpenSqliteDatasetReader(db);
}

Result<std::unique_ptr<ModelTable>> OpenModelTable(const std::string& db, bool read_only) {
  if (IsPostgresUri(db)) return OpenPgModelTable(db, read_only);
  return OpenSqliteModelTable(db, read_only);
}

Result<std::unique_ptr<ImportTable>> OpenImportTable(const std::string& db) {
  if (IsPostgresUri(db)) return OpenPgImportTable(db);
  return OpenSqliteImportTable(db);
}

std::string DatasetLabel(const std::string& db) {
  return IsPostgresUri(db) ? pg::Label(db) : db;
}

}  // namespace wattfleet
