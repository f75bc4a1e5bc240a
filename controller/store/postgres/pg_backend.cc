// The PostgreSQL backend's entry in the registry (dataset_backend.h): a libpq connection URI,
// a dataset several controllers share.
#include "pg_store.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/import_table.h"
#include "wattfleet/store/model_table.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet {

namespace {

bool TakesUri(std::string_view db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

}  // namespace

const DatasetBackend& PostgresBackend() {
  // In the order of DatasetBackend's fields.
  static const DatasetBackend kBackend{
      "postgresql", "postgresql:// URI", /*local=*/false, TakesUri, OpenPostgresStore,
      OpenPgDatasetReader, OpenPgModelTable, OpenPgImportTable, pg::Label};
  return kBackend;
}

}  // namespace wattfleet
