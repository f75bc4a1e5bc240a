#include "wattfleet/store/store_open.h"

#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/import_table.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet {

Result<std::unique_ptr<Store>> OpenStore(const std::string& db, const StoreOpenOptions& options) {
  return BackendFor(db).open_store(db, options);
}

Result<std::unique_ptr<DatasetReader>> OpenDatasetReader(const std::string& db) {
  return BackendFor(db).open_reader(db);
}

Result<std::unique_ptr<ModelTable>> OpenModelTable(const std::string& db, bool read_only) {
  return BackendFor(db).open_models(db, read_only);
}

Result<std::unique_ptr<ImportTable>> OpenImportTable(const std::string& db) {
  return BackendFor(db).open_imports(db);
}

std::string DatasetLabel(const std::string& db) { return BackendFor(db).label(db); }

}  // namespace wattfleet
