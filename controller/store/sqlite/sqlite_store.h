// Private to the SQLite backend: RAII handles over the sqlite3 C API, a prepared statement
// wrapper with bound parameters, an IMMEDIATE transaction guard and the schema migration.
//
// Nothing here throws; every failure is a Status that names the SQL step that failed and
// SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>
#include <type_traits>
#include <utility>

#include "store_fwd.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

namespace sqlite {

// The schema version this build writes (PRAGMA user_version). Opening a newer file fails.
inline constexpr int kSchemaVersion = 8;

struct DbCloser {
  // close_v2 defers the close until every statement is finalized, so the order in which
  // owners are destroyed does not matter.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Maps an SQLite result code onto a Status: busy/locked -> Unavailable, constraint ->
// AlreadyExists (unique, primary key) or InvalidArgument (foreign key, check, not null),
// corrupt/notadb -> Corruption, I/O, read-only, full, cantopen -> IOError.
Status Error(sqlite3* db, int rc, std::string_view what);

// Runs SQL without parameters (schema, pragmas, BEGIN/COMMIT).
Status Exec(sqlite3* db, const char* sql);

// A BLOB parameter (a plain string is bound as TEXT).
struct Blob {
  std::string_view bytes;
};

class StmtCache;

// A prepared statement. Bind parameters by 1-based index, then Step() for rows or Run() for
// statements without a result. A bind failure is reported by the next Step()/Run().
class Stmt {
 public:
  static Result<Stmt> Prepare(sqlite3* db, std::string_view sql);
  Stmt(Stmt&&) noexcept = default;
  Stmt& operator=(Stmt&&) noexcept = default;
  // A statement taken from a cache goes back to it (reset, bindings cleared).
  ~Stmt();

  template <typename T>
  Stmt& Bind(int index, const T& value) {
    if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T> || std::is_enum_v<T>) {
      Check(sqlite3_bind_int64(stmt_.get(), index, static_cast<sqlite3_int64>(value)));
    } else if constexpr (std::is_floating_point_v<T>) {
      Check(sqlite3_bind_double(stmt_.get(), index, static_cast<double>(value)));
    } else if constexpr (std::is_same_v<T, Blob>) {
      // zeroblob-free empty blob: a non-null pointer keeps the value a BLOB rather than NULL.
      static const char kEmpty = 0;
      const char* data = value.bytes.empty() ? &kEmpty : value.bytes.data();
      Check(sqlite3_bind_blob64(stmt_.get(), index, data, value.bytes.size(),
                                SQLITE_TRANSIENT));
    } else if constexpr (std::is_same_v<T, std::nullopt_t>) {
      Check(sqlite3_bind_null(stmt_.get(), index));
    } else {
      const std::string_view text(value);
      Check(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(),
                                SQLITE_TRANSIENT, SQLITE_UTF8));
    }
    return *this;
  }
  template <typename T>
  Stmt& Bind(int index, const std::optional<T>& value) {
    if (value) return Bind(index, *value);
    return Bind(index, std::nullopt);
  }
  // Binds every argument, from index 1.
  template <typename... Args>
  Stmt& BindAll(const Args&... args) {
    int index = 1;
    (Bind(index++, args), ...);
    return *this;
  }

  // True when a row is ready, false when the statement is done.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();
  // Ready for new bindings (prepared statements are reused inside loops).
  void Reset();

  bool IsNull(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  double Double(int col) const { return sqlite3_column_double(stmt_.get(), col); }
  std::string Text(int col) const;
  std::string BlobAt(int col) const;

 private:
  friend class StmtCache;
  Stmt(sqlite3* db, StmtPtr stmt) : db_(db), stmt_(std::move(stmt)) {}
  void Check(int rc);

  sqlite3* db_;
  StmtPtr stmt_;
  Status bind_status_;
  StmtCache* cache_ = nullptr;  // where it goes back to, if it came from one
  std::string sql_;
};

// Prepared statements kept for reuse: preparing costs more than running the short statements
// of the dispatcher's hot path. One user at a time, like the connection it belongs to; it must
// be destroyed before the connection is closed.
class StmtCache {
 public:
  explicit StmtCache(sqlite3* db) : db_(db) {}
  // A cached statement for `sql`, or a freshly prepared one; either returns here when the
  // Stmt is destroyed.
  Result<Stmt> Get(std::string_view sql);

 private:
  friend class Stmt;
  sqlite3* db_;
  std::unordered_map<std::string, std::vector<StmtPtr>> free_;
};

// BEGIN IMMEDIATE on creation (the write lock is taken up front, so a transaction never fails
// half-way with SQLITE_BUSY on its first write); ROLLBACK on destruction unless committed.
// One write, atomically: a transaction of its own, or — inside a store batch (a transaction
// already open on the connection) — a savepoint, so that a failed write still leaves nothing
// behind while the batch carries on.
class Transaction {
 public:
  // `cache`, when given, supplies the savepoint statements (parsing them per write shows in
  // the dispatcher's profile).
  static Result<Transaction> Begin(sqlite3* db, StmtCache* cache = nullptr);
  Transaction(Transaction&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), nested_(other.nested_), cache_(other.cache_) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Status Commit();

 private:
  Transaction(sqlite3* db, bool nested, StmtCache* cache)
      : db_(db), nested_(nested), cache_(cache) {}
  Status Run(const char* sql);
  sqlite3* db_;  // null once committed or moved from
  bool nested_;  // a savepoint inside an open batch
  StmtCache* cache_;
};

// Jobs of one campaign (sqlite_campaign_jobs.cc), for the Store methods of the same names.
// InsertJob runs inside the caller's transaction; AddJob opens its own and refuses a campaign
// that is not running.
Status InsertJob(sqlite3* db, StmtCache& cache, int64_t campaign_id, const JobSpec& job,
                 int64_t now_ms, int64_t* job_id);
Result<CampaignSource> GetCampaignSource(sqlite3* db, StmtCache& cache, int64_t campaign_id);

// Store::ImportPackage (sqlite_package.cc), inside the caller's transaction.
Result<PackageImportOutcome> ImportPackage(sqlite3* db, StmtCache& cache,
                                           const DatasetPackage& package, int64_t now_ms);
Result<std::vector<CampaignJob>> ListCampaignJobs(sqlite3* db, StmtCache& cache,
                                                  int64_t campaign_id,
                                                  const CampaignJobFilter& filter);
Result<ActiveJob> AddJob(sqlite3* db, StmtCache& cache, int64_t campaign_id,
                         const JobSpec& job, int64_t now_ms);

// Brings the schema from the file's user_version up to kSchemaVersion, one transaction per
// step. A file written by a newer build (user_version > kSchemaVersion) is refused.
Status Migrate(sqlite3* db);

// For an open that must not create a dataset: InvalidArgument, naming `path`, unless the file
// already holds a wattfleet schema (any version).
Status RequireSchema(sqlite3* db, const std::string& path);

// The file's PRAGMA user_version.
Result<int> SchemaVersion(sqlite3* db);

// wattfleet's mark in the SQLite file header (PRAGMA application_id), "WFLT": set when the
// schema is created or upgraded, so that another application's database is never taken for
// a dataset.
inline constexpr int32_t kApplicationId = 0x57464c54;

// Refuses, before anything writes to it, a file that is not a wattfleet dataset: not an
// SQLite database at all, another application's (its application_id), or a database holding
// tables without wattfleet's mark or schema. An empty database (a file just created, or of
// zero bytes) is accepted when `empty_ok`. InvalidArgument naming `path`: the file is the
// user's input, and it is left as it was.
Status CheckOwnership(sqlite3* db, const std::string& path, bool empty_ok);

// Opens a dataset file as every connection to one is opened: extended result codes, a 5 s
// wait on another connection's write lock, and CheckOwnership (with `empty_ok`) before
// anything writes, the SidecarGuard around it all. A file that does not exist is
// InvalidArgument "PATH: no such dataset" where `flags` do not create it.
Result<DbPtr> OpenDatasetFile(const std::string& path, int flags, bool empty_ok);

// What a connection that writes sets before its first write, then the schema's migration.
Status PrepareForWrites(sqlite3* db);

// Opening a WAL database that was closed cleanly makes SQLite create its -wal and -shm
// files. Made before the open and destroyed after the connection closes, this removes the
// ones the open created, unless Keep() said the file is a dataset: another application's
// folder is left as it was.
class SidecarGuard {
 public:
  explicit SidecarGuard(std::string path);
  ~SidecarGuard();
  SidecarGuard(const SidecarGuard&) = delete;
  SidecarGuard& operator=(const SidecarGuard&) = delete;
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool had_wal_ = false, had_shm_ = false, keep_ = false;
};

// InvalidArgument naming `path` when the folder it would be created in does not exist.
Status RequireParentFolder(const std::string& path);

// An existing dataset opened read-only, with a busy timeout so that a controller writing to
// it meanwhile only delays the reader: for the commands that only read (fit, report).
// InvalidArgument naming --db when the file does not exist.
Result<DbPtr> OpenDatasetReadOnly(const std::string& path);

// A stepped statement's current row, as the shared row readers (read_rows.h, export_row.h,
// measurement_columns.h) read rows: Int, Double, Bool, Text, Bytes and IsNull by column.
struct StmtRow {
  const Stmt& q;
  int64_t Int(int c) const { return q.Int(c); }
  double Double(int c) const { return q.Double(c); }
  bool Bool(int c) const { return q.Int(c) != 0; }
  std::string Text(int c) const { return q.Text(c); }
  std::string Bytes(int c) const { return q.BlobAt(c); }
  bool IsNull(int c) const { return q.IsNull(c); }
};

// The export's rows (store.h, ExportRow) inside the caller's transaction, ordered by job id
// (sqlite_export.cc): the Store's export and the read side's both run it.
Result<std::vector<ExportRow>> ReadExportRows(sqlite3* db, std::optional<int64_t> campaign_id);

}  // namespace sqlite

class DatasetReader;
// DatasetReader over an SQLite dataset file (sqlite_reader.cc): read-only, one snapshot.
Result<std::unique_ptr<DatasetReader>> OpenSqliteDatasetReader(const std::string& path);
class ModelTable;
// ModelTable over an SQLite dataset file (sqlite_models.cc).
Result<std::unique_ptr<ModelTable>> OpenSqliteModelTable(const std::string& path,
                                                         bool read_only);
class ImportTable;
// ImportTable over an SQLite dataset file (sqlite_imports.cc).
Result<std::unique_ptr<ImportTable>> OpenSqliteImportTable(const std::string& path);

}  // namespace wattfleet
