// Private to the PostgreSQL backend: RAII handles over libpq, the parameters and rows of one
// PQexecParams call, a transaction guard (a savepoint inside a store batch), multi-row inserts
// and the schema migration.
//
// Nothing here throws; every failure is a Status that names the statement that failed and the
// server's own message, with its SQLSTATE.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "store_fwd.h"
#include "wattfleet/common/status.h"

namespace wattfleet {
namespace pg {

// The schema version this build writes (table wattfleet_schema). Opening a newer database
// fails. Versions count on their own: they are not the SQLite file's user_version.
inline constexpr int kSchemaVersion = 7;

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;

struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

// A BYTEA parameter, sent in binary (a plain string is sent as TEXT).
struct Bytes {
  std::string_view bytes;
};

// Text as PostgreSQL stores it: valid UTF-8 without NUL. SQLite keeps any bytes; a UTF8
// database refuses invalid sequences, and a name or an error text sent by a peer must not make
// a write fail, so what is not valid becomes U+FFFD.
std::string ValidText(std::string_view text);

// A double as text that reads back exactly ("%.17g"; NaN and the infinities by name).
std::string DoubleText(double v);

// The parameters $1..$n of one statement. Integers, doubles and text travel as text, BYTEA in
// binary; nullopt is NULL. The server infers the types from the statement (cast a parameter
// where its use leaves the type open: `$1::bigint IS NULL`).
class Params {
 public:
  template <typename T>
  Params& Add(const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      Push(value ? "true" : "false", 0);
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
      Push(std::to_string(static_cast<int64_t>(value)), 0);
    } else if constexpr (std::is_floating_point_v<T>) {
      Push(DoubleText(static_cast<double>(value)), 0);
    } else if constexpr (std::is_same_v<T, Bytes>) {
      Push(std::string(value.bytes), 1);
    } else if constexpr (std::is_same_v<T, std::nullopt_t>) {
      values_.emplace_back();
      null_.push_back(true);
      formats_.push_back(0);
    } else {
      Push(ValidText(std::string_view(value)), 0);
    }
    return *this;
  }
  template <typename T>
  Params& Add(const std::optional<T>& value) {
    if (value) return Add(*value);
    return Add(std::nullopt);
  }
  template <typename... Args>
  static Params Of(const Args&... args) {
    Params p;
    (p.Add(args), ...);
    return p;
  }
  // Appends another statement's parameters (rows of a multi-row insert).
  Params& Append(const Params& other);

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers for PQexecParams, valid while this object is neither changed nor destroyed.
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;
  const int* Formats() const { return formats_.data(); }

 private:
  void Push(std::string value, int format) {
    values_.push_back(std::move(value));
    null_.push_back(false);
    formats_.push_back(format);
  }
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> formats_;
};

// The result of one statement: rows in text format, or the count of rows a write touched.
class Rows {
 public:
  explicit Rows(ResultPtr result) : result_(std::move(result)) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) == 1; }
  int64_t Int(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const;
  std::string Text(int row, int col) const;
  // A BYTEA column (sent as text, hex or escape format): its bytes.
  std::string BytesAt(int row, int col) const;
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t Affected() const;
  // The command tag ("COMMIT", "ROLLBACK", "UPDATE 1", ...).
  std::string Command() const { return PQcmdStatus(result_.get()); }

  // Row `row`, read by column as read_rows.h and export_row.h read rows.
  struct Row {
    const Rows& r;
    int row;
    int64_t Int(int c) const { return r.Int(row, c); }
    double Double(int c) const { return r.Double(row, c); }
    bool Bool(int c) const { return r.Bool(row, c); }
    std::string Text(int c) const { return r.Text(row, c); }
    std::string Bytes(int c) const { return r.BytesAt(row, c); }
    bool IsNull(int c) const { return r.IsNull(row, c); }
  };
  Row At(int row) const { return Row{*this, row}; }

 private:
  ResultPtr result_;
};

// Maps a failed statement onto a Status by its SQLSTATE: connection loss, serialization
// failure, deadlock, lock timeout, shutdown -> Unavailable; unique violation -> AlreadyExists;
// other integrity and data errors -> InvalidArgument; disk full, out of memory, I/O ->
// IOError; privileges and authentication -> PermissionDenied; data corruption -> Corruption.
Status Error(PGconn* conn, const PGresult* result, std::string_view what);

// One statement with its parameters (PQexecParams: a single statement, never spliced values).
Result<Rows> Exec(PGconn* conn, std::string_view sql, const Params& params = Params());

// Inserts `rows` (each `Params` one row) with as few statements as the protocol's parameter
// limit allows: `head` ("INSERT INTO t(a, b)"), then " VALUES " and `row_template` once per
// row with its '?' numbered ($1, $2, ...), then `tail` (" ON CONFLICT ..."). Rows go in the
// order given, which is the order in which their locks are taken. `what` names the rows in
// errors.
Status InsertRows(PGconn* conn, std::string_view head, std::string_view row_template,
                  const std::vector<Params>& rows, std::string_view tail, std::string_view what);

// A transaction, rolled back on destruction unless committed. Inside a store batch (a
// transaction already open on the connection) it is a savepoint, so that a failed write still
// leaves nothing behind while the batch carries on. READ COMMITTED, the server's default: a
// writer that must see other controllers' latest commits locks the rows it decides on
// (SELECT ... FOR NO KEY UPDATE).
class Transaction {
 public:
  enum class Kind {
    kWrite,
    kSnapshot,  // one consistent view for several reads (REPEATABLE READ, READ ONLY)
  };
  static Result<Transaction> Begin(PGconn* conn, Kind kind = Kind::kWrite);
  Transaction(Transaction&& other) noexcept
      : conn_(std::exchange(other.conn_, nullptr)), nested_(other.nested_) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Status Commit();

 private:
  Transaction(PGconn* conn, bool nested) : conn_(conn), nested_(nested) {}
  PGconn* conn_;  // null once committed or moved from
  bool nested_;   // a savepoint inside an open batch
};

// Jobs of one campaign (pg_campaign_jobs.cc), for the Store methods of the same names.
// InsertJobs runs inside the caller's transaction and returns the new ids in the order of
// `jobs`; AddJob opens its own and refuses a campaign that is not running.
Result<std::vector<int64_t>> InsertJobs(PGconn* conn, int64_t campaign_id,
                                        const std::vector<JobSpec>& jobs, int64_t now_ms);
Result<CampaignSource> GetCampaignSource(PGconn* conn, int64_t campaign_id);
// `columns` of the campaign's row, locked as `lock` says (" FOR SHARE", ...; empty: not);
// NotFound for an unknown id.
Result<Rows> CampaignRow(PGconn* conn, int64_t campaign_id, const std::string& columns,
                         const std::string& lock = "");
Result<std::vector<CampaignJob>> ListCampaignJobs(PGconn* conn, int64_t campaign_id,
                                                  const CampaignJobFilter& filter);
Result<ActiveJob> AddJob(PGconn* conn, int64_t campaign_id, const JobSpec& job, int64_t now_ms);

// A job's state changes (pg_jobs.cc), for the Store methods of the same names, with their
// semantics (store.h); each is one transaction, a savepoint inside a store batch.
Status MarkLeased(PGconn* conn, int64_t job_id, int32_t attempt, const std::string& agent,
                  int64_t lease_deadline_ms, int64_t now_ms);
Status Requeue(PGconn* conn, int64_t job_id, int32_t attempt, const std::string& reason,
               int64_t now_ms);
Result<RecordOutcome> RecordResult(PGconn* conn, const JobResult& result,
                                   const std::string& agent, int64_t now_ms);
Status RecordFailure(PGconn* conn, const JobResult& result, const std::string& agent,
                     std::optional<JobState> final_state, int64_t now_ms);

// Store::ImportPackage (pg_package.cc), inside the caller's transaction.
Result<PackageImportOutcome> ImportPackage(PGconn* conn, const DatasetPackage& package,
                                           int64_t now_ms);

// The export's rows, ordered by job id, inside the caller's transaction
// (DatasetReader::ExportRows, in its snapshot; pg_export.cc).
Result<std::vector<ExportRow>> ReadExportRows(PGconn* conn, std::optional<int64_t> campaign_id);

// Creates or upgrades the schema to kSchemaVersion in one transaction, under an advisory lock
// so that controllers opening the same database at once migrate it once. A database written
// by a newer build is refused. `create_if_missing` false: a database without any wattfleet
// schema is refused too (InvalidArgument, "not a wattfleet dataset"), and nothing is created.
Status Migrate(PGconn* conn, bool create_if_missing = true);

// The database's schema version (0: no wattfleet schema yet).
Result<int> SchemaVersion(PGconn* conn);

// The conninfo without its password, for messages: postgresql://user@host:port/dbname.
std::string Label(const std::string& conninfo);

// A connection (a bounded connect, UTF-8, notices to the log), nothing read or written yet.
// InvalidArgument for a malformed URI; Unavailable when the server cannot be reached.
Result<ConnPtr> Connect(const std::string& conninfo);

}  // namespace pg

class DatasetReader;
// DatasetReader over a PostgreSQL dataset (pg_reader.cc): no migration, one snapshot.
Result<std::unique_ptr<DatasetReader>> OpenPgDatasetReader(const std::string& conninfo);
class ModelTable;
// ModelTable over a PostgreSQL dataset (pg_models.cc).
Result<std::unique_ptr<ModelTable>> OpenPgModelTable(const std::string& conninfo,
                                                     bool read_only);
class ImportTable;
// ImportTable over a PostgreSQL dataset (pg_imports.cc).
Result<std::unique_ptr<ImportTable>> OpenPgImportTable(const std::string& conninfo);

}  // namespace wattfleet
