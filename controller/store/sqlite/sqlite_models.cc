// ModelTable over an SQLite dataset file: its own connection, read-write where the file (and
// its journal beside it) can be written, read-only otherwise.
#include <sqlite3.h>
#include <unistd.h>

#include "model_table_base.h"
#include "sqlite_store.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet {
namespace {

using sqlite::DbPtr;
using sqlite::Stmt;
using sqlite::Transaction;

Result<DbPtr> OpenConnection(const std::string& path, int flags) {
  return sqlite::OpenDatasetFile(path, flags, /*empty_ok=*/false);
}

Result<bool> HasModelsTable(sqlite3* db) {
  WF_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, "SELECT COUNT(*) FROM sqlite_master WHERE "
                                                "type = 'table' AND name = 'models'"));
  WF_ASSIGN_OR_RETURN(const bool row, q.Step());
  return row && q.Int(0) > 0;
}

class SqliteModelTable final : public ModelTableBase {
 public:
  SqliteModelTable(DbPtr db, bool writable, bool has_table, std::string reason)
      : ModelTableBase(writable, has_table, std::move(reason)), db_(std::move(db)) {}

  Result<std::optional<ModelRow>> Latest(const ModelKey& key) override {
    if (!has_table_) return std::optional<ModelRow>();
    static const std::string kSql = LatestSql(Mark);
    WF_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_.get(), kSql));
    q.BindAll(key.estimator, key.device_class, key.mode, key.target, key.fingerprint,
              key.format_version);
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) return std::optional<ModelRow>();
    return std::optional<ModelRow>(RowOf(key, q));
  }

  Result<int64_t> Insert(const ModelRow& r) override {
    if (!writable_) return RefuseWrite();
    WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db_.get()));
    static const std::string kSql = InsertSql(Mark);
    WF_ASSIGN_OR_RETURN(Stmt ins, Stmt::Prepare(db_.get(), kSql));
    ins.BindAll(r.key.estimator, r.key.device_class, r.key.mode, r.key.target,
                r.key.format_version, r.wattfleet_version, r.key.fingerprint, r.training_json,
                r.state_json, r.created_ms);
    WF_RETURN_IF_ERROR(ins.Run());
    const int64_t id = sqlite3_last_insert_rowid(db_.get());
    WF_RETURN_IF_ERROR(tx.Commit());
    return id;
  }

 private:
  static std::string Mark(int) { return "?"; }

  DbPtr db_;
};

Result<std::unique_ptr<ModelTable>> OpenReadOnly(const std::string& path, std::string reason) {
  WF_ASSIGN_OR_RETURN(DbPtr db, OpenConnection(path, SQLITE_OPEN_READONLY));
  WF_ASSIGN_OR_RETURN(const int version, sqlite::SchemaVersion(db.get()));
  if (version > sqlite::kSchemaVersion) {
    // Its models table may not be laid out as this build expects.
    return Status::InvalidArgument("dataset schema version " + std::to_string(version) +
                                   " is newer than this build of wattfleet supports (version " +
                                   std::to_string(sqlite::kSchemaVersion) + ")");
  }
  WF_ASSIGN_OR_RETURN(const bool has_table, HasModelsTable(db.get()));
  return std::unique_ptr<ModelTable>(std::make_unique<SqliteModelTable>(
      std::move(db), /*writable=*/false, has_table, std::move(reason)));
}

// Read-write where SQLite can write the file (and its journal next to it); null with the
// reason where it cannot, so that the caller opens it read-only instead.
Result<std::unique_ptr<ModelTable>> OpenWritable(const std::string& path, std::string* why_not) {
  auto db = OpenConnection(path, SQLITE_OPEN_READWRITE);
  if (!db.ok()) {
    *why_not = db.status().message();
    return std::unique_ptr<ModelTable>();
  }
  // SQLite silently opens a write-protected file read-only.
  if (sqlite3_db_readonly(db->get(), "main") == 1) {
    *why_not = "the dataset file is read-only";
    return std::unique_ptr<ModelTable>();
  }
  if (Status s = sqlite::Migrate(db->get()); !s.ok()) {
    if (s.code() != StatusCode::kIOError) return s;  // a newer schema, a corrupt file
    *why_not = s.message();  // e.g. a directory where the journal cannot be created
    return std::unique_ptr<ModelTable>();
  }
  return std::unique_ptr<ModelTable>(std::make_unique<SqliteModelTable>(
      std::move(db).value(), /*writable=*/true, /*has_table=*/true, ""));
}

}  // namespace

Result<std::unique_ptr<ModelTable>> OpenSqliteModelTable(const std::string& path,
                                                         bool read_only) {
  if (::access(path.c_str(), R_OK) != 0) {
    return Status::InvalidArgument(path + ": no such dataset");
  }
  if (read_only) return OpenReadOnly(path, "opened read-only");
  std::string why_not;
  WF_ASSIGN_OR_RETURN(std::unique_ptr<ModelTable> table, OpenWritable(path, &why_not));
  if (table) return table;
  return OpenReadOnly(path, why_not);
}

}  // namespace wattfleet
