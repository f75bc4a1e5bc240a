// The PostgreSQL backend's plumbing (parameters, rows, errors, transactions, multi-row
// inserts) and its schema history.
//
// Schema changes are append-only, as for SQLite: a new version is a new entry in kMigrations
// that alters the previous schema; released entries are never edited, because databases in
// the field were created by them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "pg_store.h"
#include "store_values.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace pg {

namespace {

// The length of the valid UTF-8 sequence (NUL excluded) that starts at `i`, or 0.
size_t ValidSequence(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};  // no overlong forms
  if (cp < kSmallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// A statement for messages: whitespace collapsed, long ones cut.
std::string Short(std::string_view sql) {
  std::string out;
  bool space = false;
  for (const char c : sql) {
    if (c == ' ' || c == '\n' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() > 160) return out + "...";
  }
  return out;
}

std::string Trimmed(const char* text) {
  std::string s = text == nullptr ? "" : text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct FreeMem {
  void operator()(unsigned char* p) const { PQfreemem(p); }
};

}  // namespace

std::string ValidText(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t n = ValidSequence(text, i);
    if (n == 0) break;
    i += n;
  }
  if (i == text.size()) return std::string(text);  // the common case: nothing to replace
  std::string out(text.substr(0, i));
  while (i < text.size()) {
    const size_t n = ValidSequence(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD, one per byte that starts no valid sequence
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string DoubleText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

Params& Params::Append(const Params& other) {
  values_.insert(values_.end(), other.values_.begin(), other.values_.end());
  null_.insert(null_.end(), other.null_.begin(), other.null_.end());
  formats_.insert(formats_.end(), other.formats_.begin(), other.formats_.end());
  return *this;
}

std::vector<const char*> Params::Values() const {
  std::vector<const char*> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out[i] = null_[i] ? nullptr : values_[i].c_str();
  return out;
}

std::vector<int> Params::Lengths() const {
  std::vector<int> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out[i] = static_cast<int>(values_[i].size());
  return out;
}

int64_t Rows::Int(int row, int col) const {
  return std::strtoll(PQgetvalue(result_.get(), row, col), nullptr, 10);
}

double Rows::Double(int row, int col) const {
  // strtod reads "NaN", "Infinity" and "-Infinity" as the server writes them.
  return std::strtod(PQgetvalue(result_.get(), row, col), nullptr);
}

bool Rows::Bool(int row, int col) const { return PQgetvalue(result_.get(), row, col)[0] == 't'; }

std::string Rows::Text(int row, int col) const {
  return std::string(PQgetvalue(result_.get(), row, col),
                     static_cast<size_t>(PQgetlength(result_.get(), row, col)));
}

std::string Rows::BytesAt(int row, int col) const {
  size_t n = 0;
  std::unique_ptr<unsigned char, FreeMem> bytes(PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col)), &n));
  if (bytes == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(bytes.get()), n);
}

int64_t Rows::Affected() const {
  const char* n = PQcmdTuples(result_.get());
  return n[0] == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

Status Error(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string primary;
  const char* state = nullptr;
  if (result != nullptr) {
    state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (const char* p = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) primary = p;
    if (const char* d = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
      primary += std::string(" (") + d + ")";
    }
  }
  if (primary.empty()) primary = Trimmed(PQerrorMessage(conn));
  const std::string code = state == nullptr ? "" : state;
  std::string msg = "postgresql: " + std::string(what) + ": " + primary;
  if (!code.empty()) msg += " [SQLSTATE " + code + "]";
  const std::string cls = code.substr(0, 2);
  if (code.empty()) {
    // No SQLSTATE: the client library failed (lost connection, out of memory).
    if (PQstatus(conn) == CONNECTION_BAD) return Status::Unavailable(std::move(msg));
    return Status::Internal(std::move(msg));
  }
  if (cls == "08" || code == "40001" || code == "40P01" || code == "55P03" || cls == "57" ||
      code == "25P02") {
    // Connection trouble, serialization failure, deadlock, lock timeout, shutdown, a batch
    // already spoiled: worth another try.
    return Status::Unavailable(std::move(msg));
  }
  if (code == "23505") return Status::AlreadyExists(std::move(msg));
  if (cls == "23" || cls == "22") return Status::InvalidArgument(std::move(msg));
  if (cls == "53" || cls == "58") return Status::IOError(std::move(msg));
  // 25006: a read-only transaction (a hot standby, default_transaction_read_only): as a role
  // without the right, the dataset can be read and not written.
  if (cls == "28" || code == "42501" || code == "25006") {
    return Status::PermissionDenied(std::move(msg));
  }
  if (code == "XX001" || code == "XX002") return Status::Corruption(std::move(msg));
  return Status::Internal(std::move(msg));
}

Result<Rows> Exec(PGconn* conn, std::string_view sql, const Params& params) {
  const std::string text(sql);
  const std::vector<const char*> values = params.Values();
  const std::vector<int> lengths = params.Lengths();
  ResultPtr result(PQexecParams(conn, text.c_str(), params.size(), /*paramTypes=*/nullptr,
                                values.data(), lengths.data(), params.Formats(),
                                /*resultFormat=*/0));
  if (result == nullptr) return Error(conn, nullptr, Short(sql));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Error(conn, result.get(), Short(sql));
  }
  return Rows(std::move(result));
}

Status InsertRows(PGconn* conn, std::string_view head, std::string_view row_template,
                  const std::vector<Params>& rows, std::string_view tail, std::string_view what) {
  const int width = static_cast<int>(std::count(row_template.begin(), row_template.end(), '?'));
  if (width == 0) return Status::Internal("postgresql: a row template without parameters");
  // The protocol counts a statement's parameters in 16 bits; staying well under the limit
  // keeps each statement a manageable size too.
  constexpr int kMaxParams = 30000;
  const size_t per_statement = static_cast<size_t>(std::max(1, kMaxParams / width));
  for (size_t start = 0; start < rows.size(); start += per_statement) {
    const size_t end = std::min(rows.size(), start + per_statement);
    std::string sql(head);
    sql += " VALUES ";
    Params params;
    int n = 0;
    for (size_t i = start; i < end; ++i) {
      if (rows[i].size() != width) {
        return Status::Internal("postgresql: " + std::string(what) + ": a row has " +
                                std::to_string(rows[i].size()) + " values for " +
                                std::to_string(width) + " columns");
      }
      if (i > start) sql += ", ";
      for (const char c : row_template) {
        if (c == '?') {
          sql += '$';
          sql += std::to_string(++n);
        } else {
          sql += c;
        }
      }
      params.Append(rows[i]);
    }
    sql += tail;
    auto inserted = Exec(conn, sql, params);
    if (!inserted.ok()) return inserted.status().WithContext(std::string(what));
  }
  return Status::OK();
}

Result<Transaction> Transaction::Begin(PGconn* conn, Kind kind) {
  const PGTransactionStatusType ts = PQtransactionStatus(conn);
  if (ts == PQTRANS_UNKNOWN || ts == PQTRANS_ACTIVE) {
    return Status::Unavailable("postgresql: the connection is lost: " +
                               Trimmed(PQerrorMessage(conn)));
  }
  const bool nested = ts != PQTRANS_IDLE;
  const char* sql = nested                     ? "SAVEPOINT wf_write"
                    : kind == Kind::kSnapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                                               : "BEGIN";
  WF_RETURN_IF_ERROR(Exec(conn, sql).status());
  return Transaction(conn, nested);
}

Transaction::~Transaction() {
  if (conn_ == nullptr) return;
  // After a lost connection (or a failed COMMIT, which ends the transaction) there is nothing
  // left to roll back.
  const PGTransactionStatusType ts = PQtransactionStatus(conn_);
  if (ts == PQTRANS_IDLE || ts == PQTRANS_UNKNOWN) return;
  if (nested_) {
    (void)Exec(conn_, "ROLLBACK TO SAVEPOINT wf_write");
    (void)Exec(conn_, "RELEASE SAVEPOINT wf_write");
  } else {
    (void)Exec(conn_, "ROLLBACK");
  }
}

Status Transaction::Commit() {
  if (conn_ == nullptr) return Status::Internal("postgresql: commit of a finished transaction");
  if (nested_) {
    WF_RETURN_IF_ERROR(Exec(conn_, "RELEASE SAVEPOINT wf_write").status());
    conn_ = nullptr;
    return Status::OK();
  }
  WF_ASSIGN_OR_RETURN(const Rows done, Exec(conn_, "COMMIT"));
  conn_ = nullptr;
  // COMMIT of a transaction that had failed "succeeds" by rolling back.
  if (done.Command() != "COMMIT") {
    return Status::Unavailable("postgresql: the transaction was rolled back");
  }
  return Status::OK();
}

namespace {

// Version 1: the tables of the Store interface, as SQLite's versions 1 and 2 hold them.
// Notes on choices (see also sqlite_schema.cc):
// - layers is keyed by the canonical key and shared by every campaign; controllers creating
//   campaigns at once insert with ON CONFLICT DO NOTHING, so a key is one row.
// - measurements: UNIQUE(job_id) is the "nothing stored twice" rule, which holds across
//   controllers: a second insert for a job waits for the first transaction and then finds
//   its row.
// - ids are identity columns; job ids are taken from the sequence before the insert, because
//   the stored spec BYTEA carries its own id.
// - The tables of `wattfleet fit` and `wattfleet import` (SQLite versions 4 and 3) arrive
//   with versions 3 and 4 here.
constexpr const char* kSchemaV1[] = {
    R"sql(CREATE TABLE campaigns(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'done', 'cancelled')),
  mode TEXT NOT NULL,
  dtype TEXT NOT NULL,
  batch BIGINT NOT NULL,
  source_path TEXT NOT NULL DEFAULT '',
  yaml TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  finished_ms BIGINT
))sql",
    R"sql(CREATE TABLE architectures(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
  name TEXT NOT NULL,
  family TEXT NOT NULL,
  input_shape TEXT NOT NULL,
  output_shape TEXT NOT NULL,
  macs BIGINT NOT NULL,
  flops BIGINT NOT NULL,
  params BIGINT NOT NULL,
  layers BIGINT NOT NULL,
  UNIQUE (campaign_id, name)
))sql",
    R"sql(CREATE TABLE layers(
  key TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  params_json TEXT NOT NULL,
  input_shape TEXT NOT NULL,
  output_shape TEXT NOT NULL,
  macs BIGINT NOT NULL,
  flops BIGINT NOT NULL,
  params BIGINT NOT NULL,
  input_elements BIGINT NOT NULL,
  output_elements BIGINT NOT NULL
))sql",
    R"sql(CREATE TABLE arch_layers(
  architecture_id BIGINT NOT NULL REFERENCES architectures(id),
  position BIGINT NOT NULL,
  node_name TEXT NOT NULL,
  layer_key TEXT NOT NULL REFERENCES layers(key),
  PRIMARY KEY (architecture_id, position)
))sql",
    "CREATE INDEX arch_layers_by_layer ON arch_layers(layer_key)",
    R"sql(CREATE TABLE devices(
  name TEXT PRIMARY KEY,
  class TEXT NOT NULL,
  capabilities_json TEXT NOT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL
))sql",
    R"sql(CREATE TABLE jobs(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
  kind TEXT NOT NULL,
  device_class TEXT NOT NULL,
  subject TEXT NOT NULL,
  mode TEXT NOT NULL,
  dtype TEXT NOT NULL,
  batch BIGINT NOT NULL,
  spec BYTEA NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('planned', 'queued', 'leased', 'done', 'failed',
                                       'quarantined', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  agent TEXT,
  lease_deadline_ms BIGINT,
  last_error TEXT,
  updated_ms BIGINT NOT NULL
))sql",
    "CREATE INDEX jobs_by_campaign_state ON jobs(campaign_id, state)",
    R"sql(CREATE TABLE measurements(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  job_id BIGINT NOT NULL REFERENCES jobs(id),
  attempt INTEGER NOT NULL,
  agent TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  sensor TEXT NOT NULL,
  domain TEXT NOT NULL,
  energy_is_estimate BOOLEAN NOT NULL,
  time_per_iter_s DOUBLE PRECISION NOT NULL,
  time_std_s DOUBLE PRECISION NOT NULL,
  energy_per_iter_j DOUBLE PRECISION NOT NULL,
  energy_std_j DOUBLE PRECISION NOT NULL,
  energy_dynamic_per_iter_j DOUBLE PRECISION NOT NULL,
  idle_w DOUBLE PRECISION NOT NULL,
  rel_ci DOUBLE PRECISION NOT NULL,
  time_rel_ci DOUBLE PRECISION NOT NULL,
  ci_met BOOLEAN NOT NULL,
  iterations_per_window BIGINT NOT NULL,
  repeats INTEGER NOT NULL,
  repeats_json TEXT NOT NULL,
  agent_version TEXT NOT NULL,
  torch_version TEXT NOT NULL,
  device TEXT NOT NULL,
  threads BIGINT NOT NULL,
  payload BYTEA NOT NULL,
  temperature_before_c DOUBLE PRECISION,
  temperature_after_c DOUBLE PRECISION,
  clock_before_mhz DOUBLE PRECISION,
  clock_after_mhz DOUBLE PRECISION,
  telemetry_source TEXT,
  UNIQUE (job_id, attempt),
  CONSTRAINT measurements_one_per_job UNIQUE (job_id)
))sql",
};

// Version 2: each measurement's quality flags as text, as SQLite's version 5; the rows
// already stored get theirs from their payloads (FillQualityFlags).
constexpr const char* kSchemaV2[] = {
    "ALTER TABLE measurements ADD COLUMN quality_flags TEXT NOT NULL DEFAULT ''",
};

// Every stored measurement as its payload decodes, a thousand at a time: a shared dataset
// may hold millions. For the migrations that read what only the payloads held.
Status ForEachPayload(PGconn* conn,
                      const std::function<Status(int64_t id, const Measurement& m)>& fn) {
  int64_t after = 0;
  for (;;) {
    WF_ASSIGN_OR_RETURN(const Rows rows,
                        Exec(conn,
                             "SELECT id, payload FROM measurements WHERE id > $1 "
                             "ORDER BY id LIMIT 1000",
                             Params::Of(after)));
    if (rows.size() == 0) return Status::OK();
    for (int row = 0; row < rows.size(); ++row) {
      after = rows.Int(row, 0);
      auto m = DecodeMeasurement(rows.BytesAt(row, 1));
      if (!m.ok()) return m.status().WithContext("measurement " + std::to_string(after));
      WF_RETURN_IF_ERROR(fn(after, *m));
    }
  }
}

Status FillQualityFlags(PGconn* conn) {
  return ForEachPayload(conn, [&](int64_t id, const Measurement& m) {
    const std::string flags = QualityFlagsText(m);
    if (flags.empty()) return Status::OK();
    return Exec(conn, "UPDATE measurements SET quality_flags = $1 WHERE id = $2",
                Params::Of(flags, id))
        .status();
  });
}

// Version 3: fitted estimators (`wattfleet fit`, `wattfleet predict`), as SQLite's version 4.
// One row per fit, never updated (store/model_table.h).
constexpr const char* kSchemaV3[] = {
    R"sql(CREATE TABLE models(
  id BIGSERIAL PRIMARY KEY,
  estimator TEXT NOT NULL,
  device_class TEXT NOT NULL,
  mode TEXT NOT NULL,
  target TEXT NOT NULL CHECK (target = 'energy' OR target = 'time'),
  format_version INTEGER NOT NULL,
  wattfleet_version TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  training_json TEXT NOT NULL,
  state_json TEXT NOT NULL,
  created_ms BIGINT NOT NULL
))sql",
    "CREATE INDEX models_by_fit ON models(estimator, device_class, mode, target, fingerprint)",
};

// Version 4: rows imported from other datasets (`wattfleet import`), as SQLite's version 3.
constexpr const char* kSchemaV4[] = {
    "CREATE TABLE external_devices(name TEXT PRIMARY KEY, peak_flops DOUBLE PRECISION)",
    R"sql(CREATE TABLE imports(
  id BIGSERIAL PRIMARY KEY,
  source TEXT NOT NULL,
  csv_path TEXT NOT NULL,
  csv_sha256 TEXT NOT NULL,
  mapping_path TEXT NOT NULL,
  mapping_sha256 TEXT NOT NULL,
  rows_read BIGINT NOT NULL,
  rows_stored BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  UNIQUE (source, csv_sha256)
))sql",
    R"sql(CREATE TABLE external_measurements(
  id BIGSERIAL PRIMARY KEY,
  import_id BIGINT NOT NULL REFERENCES imports(id),
  row BIGINT NOT NULL,
  device TEXT NOT NULL REFERENCES external_devices(name),
  kind TEXT NOT NULL CHECK (kind = 'operation' OR kind = 'architecture'),
  name TEXT NOT NULL,
  family TEXT NOT NULL,
  flops DOUBLE PRECISION,
  time_s DOUBLE PRECISION,
  energy_j DOUBLE PRECISION,
  features_json TEXT NOT NULL,
  operations_json TEXT NOT NULL,
  UNIQUE (import_id, row)
))sql",
    "CREATE INDEX external_by_device_kind ON external_measurements(device, kind, name)",
};

// Version 5: who held each attempt of each job, as SQLite's version 6.
constexpr const char* kSchemaV5[] = {
    R"sql(CREATE TABLE leases(
  job_id BIGINT NOT NULL REFERENCES jobs(id),
  attempt INTEGER NOT NULL,
  agent TEXT NOT NULL,
  leased_ms BIGINT NOT NULL,
  PRIMARY KEY (job_id, attempt)
))sql",
    "INSERT INTO leases(job_id, attempt, agent, leased_ms) SELECT id, attempts, agent, "
    "updated_ms FROM jobs WHERE state = 'leased' AND agent IS NOT NULL",
};

// Version 6: each measurement held once, in columns, as SQLite's version 7: the figures only
// the payload held get columns (FillFromPayloads), and the payload goes.
constexpr const char* kSchemaV6[] = {
    "ALTER TABLE measurements ADD COLUMN energy_model TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE measurements ADD COLUMN interference DOUBLE PRECISION",
    "ALTER TABLE measurements ADD COLUMN windows_discarded BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE measurements ADD COLUMN energy_bound_j DOUBLE PRECISION",
    "ALTER TABLE measurements ADD COLUMN sensor_update_period_s DOUBLE PRECISION",
    "ALTER TABLE measurements ADD COLUMN agent_name TEXT NOT NULL DEFAULT ''",
};

// Version 7: a published package's provenance.json, kept with its import's record.
constexpr const char* kSchemaV7[] = {
    "ALTER TABLE imports ADD COLUMN provenance TEXT",
};

Status FillFromPayloads(PGconn* conn) {
  WF_RETURN_IF_ERROR(ForEachPayload(conn, [&](int64_t id, const Measurement& m) {
    return Exec(conn,
                "UPDATE measurements SET energy_model = $1, interference = $2, "
                "windows_discarded = $3, energy_bound_j = $4, sensor_update_period_s = $5, "
                "agent_name = $6 WHERE id = $7",
                Params::Of(m.energy_model, Figure(m.interference), m.windows_discarded,
                           Figure(m.energy_bound_j), Figure(m.sensor_update_period_s),
                           m.agent_name, id))
        .status();
  }));
  return Exec(conn, "ALTER TABLE measurements DROP COLUMN payload").status();
}

struct Migration {
  int to_version;
  const char* const* statements;
  size_t count;
  Status (*fill)(PGconn*) = nullptr;  // run after the statements, in the same transaction
};

// Append version N here as {N, kSchemaVN, std::size(kSchemaVN)}; Migrate() runs every step
// above the database's version in order, all in one transaction.
constexpr Migration kMigrations[] = {
    {1, kSchemaV1, sizeof(kSchemaV1) / sizeof(kSchemaV1[0])},
    {2, kSchemaV2, sizeof(kSchemaV2) / sizeof(kSchemaV2[0]), &FillQualityFlags},
    {3, kSchemaV3, sizeof(kSchemaV3) / sizeof(kSchemaV3[0])},
    {4, kSchemaV4, sizeof(kSchemaV4) / sizeof(kSchemaV4[0])},
    {5, kSchemaV5, sizeof(kSchemaV5) / sizeof(kSchemaV5[0])},
    {6, kSchemaV6, sizeof(kSchemaV6) / sizeof(kSchemaV6[0]), &FillFromPayloads},
    {7, kSchemaV7, sizeof(kSchemaV7) / sizeof(kSchemaV7[0])},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

// pg_advisory_xact_lock's key for the migration: any constant of this program's own ("wattf").
constexpr int64_t kMigrationLock = 0x7761747466;

}  // namespace

Result<int> SchemaVersion(PGconn* conn) {
  WF_ASSIGN_OR_RETURN(const Rows exists,
                      Exec(conn, "SELECT to_regclass('wattfleet_schema') IS NOT NULL"));
  if (exists.empty() || !exists.Bool(0, 0)) return 0;
  WF_ASSIGN_OR_RETURN(const Rows version,
                      Exec(conn, "SELECT COALESCE(MAX(version), 0) FROM wattfleet_schema"));
  return static_cast<int>(version.Int(0, 0));
}

Status Migrate(PGconn* conn, bool create_if_missing) {
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn));
  // Controllers opening the database at once queue here (the lock ends with the transaction):
  // the first creates the schema, the others then find it current. Without the lock two
  // CREATE TABLEs could race and one open would fail.
  WF_RETURN_IF_ERROR(
      Exec(conn, "SELECT pg_advisory_xact_lock($1::bigint)", Params::Of(kMigrationLock))
          .status());
  WF_ASSIGN_OR_RETURN(const int current, SchemaVersion(conn));
  if (current > kSchemaVersion) {
    return Status::InvalidArgument(
        "dataset schema version " + std::to_string(current) +
        " is newer than this build of wattfleet supports (version " +
        std::to_string(kSchemaVersion) + "); upgrade wattfleet to open it");
  }
  // A current schema needs no write at all, so a role without CREATE rights can open it.
  if (current == kSchemaVersion) return tx.Commit();
  if (current == 0 && !create_if_missing) {
    return Status::InvalidArgument(
        "not a wattfleet dataset (the database has no wattfleet schema; `wattfleet serve` and "
        "`wattfleet run` create one)");
  }
  WF_RETURN_IF_ERROR(
      Exec(conn, "CREATE TABLE IF NOT EXISTS wattfleet_schema(version INTEGER NOT NULL)")
          .status());
  for (const Migration& m : kMigrations) {
    if (m.to_version <= current) continue;
    for (size_t i = 0; i < m.count; ++i) {
      WF_RETURN_IF_ERROR(Exec(conn, m.statements[i])
                             .status()
                             .WithContext("schema migration to version " +
                                          std::to_string(m.to_version)));
    }
    if (m.fill != nullptr) {
      WF_RETURN_IF_ERROR(m.fill(conn).WithContext("schema migration to version " +
                                                  std::to_string(m.to_version)));
    }
  }
  WF_RETURN_IF_ERROR(Exec(conn, "DELETE FROM wattfleet_schema").status());
  WF_RETURN_IF_ERROR(Exec(conn, "INSERT INTO wattfleet_schema(version) VALUES($1)",
                          Params::Of(kSchemaVersion))
                         .status());
  return tx.Commit();
}

std::string Label(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return "postgresql://(unreadable connection string)";
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  std::string label = "postgresql://";
  if (!user.empty()) label += user + "@";
  label += host;
  if (!port.empty()) label += ":" + port;
  return label + "/" + dbname;
}

}  // namespace pg
}  // namespace wattfleet
