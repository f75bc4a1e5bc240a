#include "store_open.h"

#include "pg_store.h"

namespace wattfleet {

bool IsPostgresUri(std::string_view db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& db, const StoreOpenOptions& options) {
  if (IsPostgresUri(db)) return OpenPostgresStore(db, options);
  return OpenSqliteStore(db, options);
}

std::string DatasetLabel(const std::string& db) {
  return IsPostgresUri(db) ? pg::Label(db) : db;
}

Status RequireSqliteDataset(const std::string& db, std::string_view command) {
  if (!IsPostgresUri(db)) return Status::OK();
  return Status::InvalidArgument(
      "--db " + DatasetLabel(db) + ": " + std::string(command) +
      " reads an SQLite dataset file, not a shared PostgreSQL store (export the store's "
      "measurements with `wattfleet export --db URI`, or give an SQLite file; "
      "docs/operations.md, \"A shared PostgreSQL store\")");
}

}  // namespace wattfleet
