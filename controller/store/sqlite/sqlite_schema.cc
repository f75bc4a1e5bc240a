// The SQLite backend's plumbing (statement and transaction wrappers) and its schema history.
//
// Schema changes are append-only: a new version is a new entry in kMigrations that alters the
// previous schema; released entries are never edited, because files in the field were
// created by them.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "sqlite_store.h"
#include "store_values.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace sqlite {

Status Error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = "sqlite: " + std::string(what) + ": ";
  // The connection's message describes the last failed call, which is this one; the generic
  // string is the fallback when there is no connection (open failed before allocating one).
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (" + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(msg));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return Status::AlreadyExists(std::move(msg));
      return Status::InvalidArgument(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(msg));
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status::PermissionDenied(std::move(msg));
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return Status::IOError(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Result<DbPtr> OpenDatasetReadOnly(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return Status::InvalidArgument("--db " + path + ": no such dataset");
  }
  SidecarGuard sidecars(path);  // before the connection: outlives it
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return Error(db.get(), rc, "open " + path);
  sqlite3_busy_timeout(db.get(), 5000);
  WF_RETURN_IF_ERROR(CheckOwnership(db.get(), "--db " + path, /*empty_ok=*/false));
  sidecars.Keep();
  return db;
}

Status Exec(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(db, rc, sql);
  return Status::OK();
}

Result<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return Error(db, rc, "prepare " + std::string(sql));
  return Stmt(db, std::move(stmt));
}

Stmt::~Stmt() {
  if (cache_ == nullptr || stmt_ == nullptr) return;
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  cache_->free_[sql_].push_back(std::move(stmt_));
}

Result<Stmt> StmtCache::Get(std::string_view sql) {
  std::string key(sql);
  auto it = free_.find(key);
  if (it != free_.end() && !it->second.empty()) {
    Stmt stmt(db_, std::move(it->second.back()));
    it->second.pop_back();
    stmt.cache_ = this;
    stmt.sql_ = std::move(key);
    return stmt;
  }
  WF_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, sql));
  stmt.cache_ = this;
  stmt.sql_ = std::move(key);
  return stmt;
}

void Stmt::Check(int rc) {
  if (rc != SQLITE_OK && bind_status_.ok()) bind_status_ = Error(db_, rc, "bind");
}

Result<bool> Stmt::Step() {
  if (!bind_status_.ok()) return bind_status_;
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(db_, rc, sqlite3_sql(stmt_.get()));
}

Status Stmt::Run() {
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) return Status::OK();
  }
}

void Stmt::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bind_status_ = Status::OK();
}

std::string Stmt::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

std::string Stmt::BlobAt(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

Status Transaction::Run(const char* sql) {
  if (cache_ == nullptr) return Exec(db_, sql);
  WF_ASSIGN_OR_RETURN(Stmt stmt, cache_->Get(sql));
  return stmt.Run();
}

Result<Transaction> Transaction::Begin(sqlite3* db, StmtCache* cache) {
  const bool nested = sqlite3_get_autocommit(db) == 0;
  Transaction tx(db, nested, cache);
  if (Status s = tx.Run(nested ? "SAVEPOINT wf_write" : "BEGIN IMMEDIATE"); !s.ok()) {
    tx.db_ = nullptr;  // nothing to roll back
    return s;
  }
  return tx;
}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  // Some errors (SQLITE_FULL, IOERR, ...) make SQLite roll back by itself; a second ROLLBACK
  // would only fail, so check whether a transaction is still open.
  if (sqlite3_get_autocommit(db_) != 0) return;
  if (nested_) {
    (void)Run("ROLLBACK TO wf_write");
    (void)Run("RELEASE wf_write");
  } else {
    (void)Run("ROLLBACK");
  }
}

Status Transaction::Commit() {
  if (db_ == nullptr) return Status::Internal("sqlite: commit of a finished transaction");
  // On failure (e.g. SQLITE_BUSY on the WAL) the transaction stays open and the destructor
  // rolls it back.
  WF_RETURN_IF_ERROR(Run(nested_ ? "RELEASE wf_write" : "COMMIT"));
  db_ = nullptr;
  return Status::OK();
}

namespace {

// Version 1. Notes on choices:
// - layers is keyed by the canonical key and shared by every campaign: the same layer measured
//   in two campaigns is one row, so measurements join across campaigns.
// - jobs keep the encoded JobSpec (what the agent receives) next to the queryable columns;
//   the BLOB is authoritative for dispatch, the columns serve queries and exports.
// - measurements: UNIQUE(job_id) is the "nothing stored twice" rule (one measurement per job,
//   whichever attempt came first); UNIQUE(job_id, attempt) documents the idempotency key.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE campaigns(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'done', 'cancelled')),
  mode TEXT NOT NULL,
  dtype TEXT NOT NULL,
  batch INTEGER NOT NULL,
  source_path TEXT NOT NULL DEFAULT '',
  yaml TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER
);
CREATE TABLE architectures(
  id INTEGER PRIMARY KEY,
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  name TEXT NOT NULL,
  family TEXT NOT NULL,
  input_shape TEXT NOT NULL,
  output_shape TEXT NOT NULL,
  macs INTEGER NOT NULL,
  flops INTEGER NOT NULL,
  params INTEGER NOT NULL,
  layers INTEGER NOT NULL,
  UNIQUE (campaign_id, name)
);
CREATE TABLE layers(
  key TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  params_json TEXT NOT NULL,
  input_shape TEXT NOT NULL,
  output_shape TEXT NOT NULL,
  macs INTEGER NOT NULL,
  flops INTEGER NOT NULL,
  params INTEGER NOT NULL,
  input_elements INTEGER NOT NULL,
  output_elements INTEGER NOT NULL
);
CREATE TABLE arch_layers(
  architecture_id INTEGER NOT NULL REFERENCES architectures(id),
  position INTEGER NOT NULL,
  node_name TEXT NOT NULL,
  layer_key TEXT NOT NULL REFERENCES layers(key),
  PRIMARY KEY (architecture_id, position)
);
CREATE INDEX arch_layers_by_layer ON arch_layers(layer_key);
CREATE TABLE devices(
  name TEXT PRIMARY KEY,
  class TEXT NOT NULL,
  capabilities_json TEXT NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL
);
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY,
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  kind TEXT NOT NULL,
  device_class TEXT NOT NULL,
  subject TEXT NOT NULL,
  mode TEXT NOT NULL,
  dtype TEXT NOT NULL,
  batch INTEGER NOT NULL,
  spec BLOB NOT NULL,
  -- Equalities rather than IN (...): SQLite builds an ephemeral table for an IN list on
  -- every write that checks it, which shows on the dispatcher's hot path.
  state TEXT NOT NULL CHECK (state = 'planned' OR state = 'queued' OR state = 'leased' OR
                             state = 'done' OR state = 'failed' OR state = 'quarantined' OR
                             state = 'cancelled'),
  attempts INTEGER NOT NULL DEFAULT 0,
  agent TEXT,
  lease_deadline_ms INTEGER,
  last_error TEXT,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX jobs_by_campaign_state ON jobs(campaign_id, state);
CREATE TABLE measurements(
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  attempt INTEGER NOT NULL,
  agent TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  sensor TEXT NOT NULL,
  domain TEXT NOT NULL,
  energy_is_estimate INTEGER NOT NULL,
  time_per_iter_s REAL NOT NULL,
  time_std_s REAL NOT NULL,
  energy_per_iter_j REAL NOT NULL,
  energy_std_j REAL NOT NULL,
  energy_dynamic_per_iter_j REAL NOT NULL,
  idle_w REAL NOT NULL,
  rel_ci REAL NOT NULL,
  time_rel_ci REAL NOT NULL,
  ci_met INTEGER NOT NULL,
  iterations_per_window INTEGER NOT NULL,
  repeats INTEGER NOT NULL,
  repeats_json TEXT NOT NULL,
  agent_version TEXT NOT NULL,
  torch_version TEXT NOT NULL,
  device TEXT NOT NULL,
  threads INTEGER NOT NULL,
  payload BLOB NOT NULL,
  UNIQUE (job_id, attempt)
);
CREATE UNIQUE INDEX measurements_one_per_job ON measurements(job_id);
)sql";

// Version 2: device temperature and clock before and after each measurement
// (docs/measurement.md, "The loop", rule 5). NULL where the device does not expose them, and
// in rows stored before version 2.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE measurements ADD COLUMN temperature_before_c REAL;
ALTER TABLE measurements ADD COLUMN temperature_after_c REAL;
ALTER TABLE measurements ADD COLUMN clock_before_mhz REAL;
ALTER TABLE measurements ADD COLUMN clock_after_mhz REAL;
ALTER TABLE measurements ADD COLUMN telemetry_source TEXT;
)sql";

// Version 3: measurements imported from other tools' CSVs (`wattfleet import`, docs/import.md).
// They are not jobs of a campaign, so they live apart from `measurements`:
// - imports: one row per imported file. UNIQUE(source, csv_sha256) makes a second import of
//   the same file under the same mapping source a no-op (the file's content, not its path or
//   mtime, is the identity).
// - external_measurements: one row per kept CSV row, UNIQUE(import_id, row); features and the
//   per-operation FLOPs of architecture rows as JSON objects.
// - external_devices: the devices those rows name, with the peak FLOP/s the mapping gave.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE external_devices(
  name TEXT PRIMARY KEY,
  peak_flops REAL
);
CREATE TABLE imports(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  csv_path TEXT NOT NULL,
  csv_sha256 TEXT NOT NULL,
  mapping_path TEXT NOT NULL,
  mapping_sha256 TEXT NOT NULL,
  rows_read INTEGER NOT NULL,
  rows_stored INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (source, csv_sha256)
);
CREATE TABLE external_measurements(
  id INTEGER PRIMARY KEY,
  import_id INTEGER NOT NULL REFERENCES imports(id),
  row INTEGER NOT NULL,
  device TEXT NOT NULL REFERENCES external_devices(name),
  kind TEXT NOT NULL CHECK (kind = 'operation' OR kind = 'architecture'),
  name TEXT NOT NULL,
  family TEXT NOT NULL,
  flops REAL,
  time_s REAL,
  energy_j REAL,
  features_json TEXT NOT NULL,
  operations_json TEXT NOT NULL,
  UNIQUE (import_id, row)
);
CREATE INDEX external_by_device_kind ON external_measurements(device, kind, name);
)sql";

// Version 4: fitted estimators (`wattfleet fit`, `wattfleet predict`, model_store.h). One row
// per fit, never updated: a new training set or a new fit is a new row, and readers take the
// latest row whose fingerprint (a SHA-256 over the training set's measurement ids) matches the
// data they would fit on, so a stored model is never used for data it was not fitted on.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE models(
  id INTEGER PRIMARY KEY,
  estimator TEXT NOT NULL,
  device_class TEXT NOT NULL,
  mode TEXT NOT NULL,
  target TEXT NOT NULL CHECK (target = 'energy' OR target = 'time'),
  format_version INTEGER NOT NULL,
  wattfleet_version TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  training_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX models_by_fit ON models(estimator, device_class, mode, target, fingerprint);
)sql";

// Version 5: each measurement's quality flags as text ("ci;interference", QualityFlagsText),
// so that status and ListCampaigns count them without decoding every payload. The rows
// already stored get theirs from their payloads (FillQualityFlags).
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE measurements ADD COLUMN quality_flags TEXT NOT NULL DEFAULT '';
)sql";

// Every stored measurement as its payload decodes: for the migrations that read what only the
// payloads held.
Status ForEachPayload(sqlite3* db,
                      const std::function<Status(int64_t id, const Measurement& m)>& fn) {
  WF_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, "SELECT id, payload FROM measurements"));
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) return Status::OK();
    auto m = DecodeMeasurement(q.BlobAt(1));
    if (!m.ok()) return m.status().WithContext("measurement " + std::to_string(q.Int(0)));
    WF_RETURN_IF_ERROR(fn(q.Int(0), *m));
  }
}

// Each stored measurement's flags, from its payload (where agents have put them since
// before the column existed; older payloads have only ci_met).
Status FillQualityFlags(sqlite3* db) {
  WF_ASSIGN_OR_RETURN(Stmt up,
                      Stmt::Prepare(db, "UPDATE measurements SET quality_flags = ? WHERE id = ?"));
  return ForEachPayload(db, [&](int64_t id, const Measurement& m) {
    const std::string flags = QualityFlagsText(m);
    if (flags.empty()) return Status::OK();
    up.Reset();
    up.BindAll(flags, id);
    return up.Run();
  });
}

// Version 6: who held each attempt of each job, written with the lease, so that a genuine
// late result for an earlier attempt is recognised after a controller restart. The leases
// open when the dataset is migrated are the first rows.
constexpr const char* kSchemaV6 = R"sql(
CREATE TABLE leases(
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  attempt INTEGER NOT NULL,
  agent TEXT NOT NULL,
  leased_ms INTEGER NOT NULL,
  PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;
INSERT INTO leases(job_id, attempt, agent, leased_ms)
  SELECT id, attempts, agent, updated_ms FROM jobs WHERE state = 'leased' AND agent IS NOT NULL;
)sql";

// Version 7: each measurement held once, in columns. The figures only the payload (the
// message as received) held get columns of their own, filled from the payloads
// (FillFromPayloads), and the payload goes: every figure is a column of measurement_columns.h.
constexpr const char* kSchemaV7 = R"sql(
ALTER TABLE measurements ADD COLUMN energy_model TEXT NOT NULL DEFAULT '';
ALTER TABLE measurements ADD COLUMN interference REAL;
ALTER TABLE measurements ADD COLUMN windows_discarded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE measurements ADD COLUMN energy_bound_j REAL;
ALTER TABLE measurements ADD COLUMN sensor_update_period_s REAL;
ALTER TABLE measurements ADD COLUMN agent_name TEXT NOT NULL DEFAULT '';
)sql";

// Version 8: a published package's provenance.json, kept with its import's record.
constexpr const char* kSchemaV8 = R"sql(
ALTER TABLE imports ADD COLUMN provenance TEXT;
)sql";

Status FillFromPayloads(sqlite3* db) {
  {
    WF_ASSIGN_OR_RETURN(
        Stmt up, Stmt::Prepare(db, "UPDATE measurements SET energy_model = ?, interference = ?, "
                                   "windows_discarded = ?, energy_bound_j = ?, "
                                   "sensor_update_period_s = ?, agent_name = ? WHERE id = ?"));
    WF_RETURN_IF_ERROR(ForEachPayload(db, [&](int64_t id, const Measurement& m) {
      up.Reset();
      up.BindAll(m.energy_model, Figure(m.interference), m.windows_discarded,
                 Figure(m.energy_bound_j), Figure(m.sensor_update_period_s), m.agent_name, id);
      return up.Run();
    }));
  }
  // Every statement on the table finalised first: SQLite cannot alter a table being read.
  return Exec(db, "ALTER TABLE measurements DROP COLUMN payload");
}

struct Migration {
  int to_version;
  const char* sql;
  Status (*fill)(sqlite3*) = nullptr;  // run after `sql`, in its transaction
};

// Append version N here as {N, "ALTER TABLE ..."}; Migrate() runs every step above the file's
// version in order.
constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
    {5, kSchemaV5, &FillQualityFlags},
    {6, kSchemaV6},
    {7, kSchemaV7, &FillFromPayloads},
    {8, kSchemaV8},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

}  // namespace

Result<int> SchemaVersion(sqlite3* db) {
  WF_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, "PRAGMA user_version"));
  WF_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return Status::Internal("sqlite: PRAGMA user_version returned no row");
  return static_cast<int>(stmt.Int(0));
}

namespace {

Result<int64_t> PragmaInt(sqlite3* db, const char* sql) {
  WF_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, sql));
  WF_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return Status::Internal(std::string("sqlite: ") + sql + " returned no row");
  return stmt.Int(0);
}

// Whether the file is a dataset: wattfleet's mark, or (empty_ok) an empty database, or a
// dataset written before the mark existed.
Status CheckMark(sqlite3* db, const std::string& path, bool empty_ok) {
  auto id = PragmaInt(db, "PRAGMA application_id");
  if (!id.ok()) {
    // The first read of the header: a file that is not SQLite fails here.
    if (id.status().code() == StatusCode::kCorruption) {
      return Status::InvalidArgument(path + ": not an SQLite database, so not a wattfleet "
                                     "dataset; left unchanged");
    }
    return id.status().WithContext(path);
  }
  if (*id == kApplicationId) return Status::OK();
  if (*id != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", static_cast<uint32_t>(*id));
    return Status::InvalidArgument(path + ": another application's SQLite database "
                                   "(application_id " + hex + "), not a wattfleet dataset; "
                                   "left unchanged");
  }
  // Every object counts (tables, views, indexes, triggers): a database of views only is
  // someone's too.
  // SQLite's own objects are exactly those named "sqlite_..." (the prefix is reserved); LIKE
  // would not do, since its '_' matches any character ("sqlitebrowser_cfg").
  WF_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, "SELECT name FROM sqlite_master WHERE "
                                                "substr(name, 1, 7) <> 'sqlite_' ORDER BY name"));
  std::vector<std::string> tables;
  for (;;) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    tables.push_back(q.Text(0));
  }
  if (tables.empty()) {
    if (empty_ok) return Status::OK();
    return Status::InvalidArgument(path + ": not a wattfleet dataset (an empty database; "
                                   "`wattfleet serve` and `wattfleet run` create one)");
  }
  // Datasets written before the mark existed: wattfleet's schema version and core tables.
  WF_ASSIGN_OR_RETURN(const int version, SchemaVersion(db));
  auto has = [&](const char* t) {
    return std::find(tables.begin(), tables.end(), t) != tables.end();
  };
  if (version > 0 && has("campaigns") && has("jobs") && has("measurements")) {
    return Status::OK();
  }
  std::string listed;
  for (size_t i = 0; i < tables.size() && i < 5; ++i) listed += (i ? ", " : "") + tables[i];
  if (tables.size() > 5) listed += ", ...";
  return Status::InvalidArgument(path + ": not a wattfleet dataset (it holds another "
                                 "application's tables or views: " + listed +
                                 "); left unchanged");
}

}  // namespace

Result<DbPtr> OpenDatasetFile(const std::string& path, int flags, bool empty_ok) {
  SidecarGuard sidecars(path);  // before the connection: outlives it
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);  // allocated even when the open fails; the owner closes it either way
  if (rc == SQLITE_CANTOPEN && (flags & SQLITE_OPEN_CREATE) == 0) {
    return Status::InvalidArgument(path + ": no such dataset");
  }
  if (rc != SQLITE_OK) return Error(db.get(), rc, "open " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  // Another controller or a CLI command may hold the write lock briefly: wait, not fail.
  sqlite3_busy_timeout(db.get(), 5000);
  WF_RETURN_IF_ERROR(CheckOwnership(db.get(), path, empty_ok));
  sidecars.Keep();
  return db;
}

Status PrepareForWrites(sqlite3* db) {
  // WAL: readers (status, export) never block the dispatcher's writes. NORMAL is durable
  // across process crashes in WAL mode; only an OS crash may lose the last commits.
  WF_RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode = WAL"));
  WF_RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous = NORMAL"));
  WF_RETURN_IF_ERROR(Exec(db, "PRAGMA foreign_keys = ON"));
  return Migrate(db);
}

Status CheckOwnership(sqlite3* db, const std::string& path, bool empty_ok) {
  // Closing the last connection to a WAL database checkpoints it and deletes its -wal file:
  // a rewrite of someone else's file. Held off until the file is known to be a dataset.
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  WF_RETURN_IF_ERROR(CheckMark(db, path, empty_ok));
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
  return Status::OK();
}

SidecarGuard::SidecarGuard(std::string path) : path_(std::move(path)) {
  struct stat st {};
  had_wal_ = ::lstat((path_ + "-wal").c_str(), &st) == 0;
  had_shm_ = ::lstat((path_ + "-shm").c_str(), &st) == 0;
}

SidecarGuard::~SidecarGuard() {
  if (keep_) return;
  if (!had_wal_) ::unlink((path_ + "-wal").c_str());
  if (!had_shm_) ::unlink((path_ + "-shm").c_str());
}

Status RequireParentFolder(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status::OK();
  const std::string dir = path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::OK();
  return Status::InvalidArgument(path + ": the directory " + dir + " does not exist");
}

Status Migrate(sqlite3* db) {
  WF_ASSIGN_OR_RETURN(const int current, SchemaVersion(db));
  if (current > kSchemaVersion) {
    return Status::InvalidArgument(
        "dataset schema version " + std::to_string(current) +
        " is newer than this build of wattfleet supports (version " +
        std::to_string(kSchemaVersion) + "); upgrade wattfleet to open it");
  }
  for (const Migration& m : kMigrations) {
    if (m.to_version <= current) continue;
    WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db));
    // Re-read inside the write lock: another process may have migrated meanwhile.
    WF_ASSIGN_OR_RETURN(const int now, SchemaVersion(db));
    if (now >= m.to_version) continue;
    WF_RETURN_IF_ERROR(Exec(db, m.sql).WithContext("schema migration to version " +
                                                   std::to_string(m.to_version)));
    if (m.fill != nullptr) {
      WF_RETURN_IF_ERROR(m.fill(db).WithContext("schema migration to version " +
                                                std::to_string(m.to_version)));
    }
    // user_version lives in the file header and is written by the same transaction, so a
    // crash leaves either the old schema and version or the new ones.
    const std::string set_version = "PRAGMA user_version = " + std::to_string(m.to_version);
    WF_RETURN_IF_ERROR(Exec(db, set_version.c_str()));
    WF_RETURN_IF_ERROR(tx.Commit());
  }
  // The mark goes on with the schema, and onto datasets written before it existed.
  WF_ASSIGN_OR_RETURN(const int64_t id, PragmaInt(db, "PRAGMA application_id"));
  if (id != kApplicationId) {
    const std::string mark = "PRAGMA application_id = " + std::to_string(kApplicationId);
    WF_RETURN_IF_ERROR(Exec(db, mark.c_str()));
  }
  return Status::OK();
}

Status RequireSchema(sqlite3* db, const std::string& path) {
  auto version = SchemaVersion(db);
  if (!version.ok()) return version.status().WithContext(path);
  if (*version > 0) return Status::OK();
  return Status::InvalidArgument(path + ": not a wattfleet dataset (it has no wattfleet schema; "
                                 "`wattfleet serve` and `wattfleet run` create one)");
}

}  // namespace sqlite
}  // namespace wattfleet
