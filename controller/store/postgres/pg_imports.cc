// ImportTable over a PostgreSQL dataset: a connection of its own, the schema created or
// migrated as `serve` does (the import tables arrive with schema version 4); an import is one
// transaction.
#include <libpq-fe.h>

#include "pg_store.h"
#include "wattfleet/store/import_table.h"

namespace wattfleet {
namespace {

using pg::ConnPtr;
using pg::Params;
using pg::Rows;

std::optional<double> Column(const Rows& q, int row, int col) {
  if (q.IsNull(row, col)) return std::nullopt;
  return q.Double(row, col);
}

// pg_advisory_xact_lock's key for imports: a constant of this program's own ("wfimp").
constexpr int64_t kImportLock = 0x7766696d70;

class PgImportTransaction final : public ImportTable::Transaction {
 public:
  PgImportTransaction(PGconn* conn, pg::Transaction tx) : conn_(conn), tx_(std::move(tx)) {}

  Result<std::optional<PreviousImport>> FindImport(const std::string& source,
                                                   const std::string& csv_sha256) override {
    WF_ASSIGN_OR_RETURN(const Rows q,
                        pg::Exec(conn_,
                                 "SELECT id, mapping_sha256, mapping_path FROM imports "
                                 "WHERE source = $1 AND csv_sha256 = $2",
                                 Params::Of(source, csv_sha256)));
    if (q.empty()) return std::optional<PreviousImport>();
    return std::optional<PreviousImport>(
        PreviousImport{q.Int(0, 0), q.Text(0, 1), q.Text(0, 2)});
  }

  Result<std::optional<std::optional<double>>> DevicePeakFlops(const std::string& name) override {
    WF_ASSIGN_OR_RETURN(const Rows q,
                        pg::Exec(conn_, "SELECT peak_flops FROM external_devices WHERE name = $1",
                                 Params::Of(name)));
    if (q.empty()) return std::optional<std::optional<double>>();
    return std::optional<std::optional<double>>(Column(q, 0, 0));
  }

  Status PutDevice(const ImportedDeviceRow& d) override {
    return pg::Exec(conn_,
                    "INSERT INTO external_devices(name, peak_flops) VALUES($1, $2) "
                    "ON CONFLICT (name) DO UPDATE SET peak_flops = excluded.peak_flops",
                    Params::Of(d.name, d.peak_flops))
        .status()
        .WithContext("device '" + d.name + "'");
  }

  Result<int64_t> AddImport(const ImportRow& i) override {
    Result<Rows> q = pg::Exec(conn_,
                              "INSERT INTO imports(source, csv_path, csv_sha256, mapping_path, "
                              "mapping_sha256, rows_read, rows_stored, created_ms) "
                              "VALUES($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                              Params::Of(i.source, i.csv_path, i.csv_sha256, i.mapping_path,
                                         i.mapping_sha256, i.rows_read, i.rows_stored,
                                         i.created_ms));
    if (!q.ok()) return q.status().WithContext("import of " + i.csv_path);
    if (q->empty()) return Status::Internal("imports: INSERT returned no id");
    return q->Int(0, 0);
  }

  Status AddRow(int64_t import_id, const ImportedRow& r) override {
    return pg::Exec(conn_,
                    "INSERT INTO external_measurements(import_id, row, device, kind, name, "
                    "family, flops, time_s, energy_j, features_json, operations_json) "
                    "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    Params::Of(import_id, r.row, r.device, r.kind, r.name, r.family, r.flops,
                               r.time_s, r.energy_j, r.features_json, r.operations_json))
        .status();
  }

  Status Commit() override { return tx_.Commit(); }

 private:
  PGconn* conn_;
  pg::Transaction tx_;  // rolled back on destruction unless committed
};

class PgImportTable final : public ImportTable {
 public:
  explicit PgImportTable(ConnPtr conn) : conn_(std::move(conn)) {}

  Result<std::unique_ptr<Transaction>> Begin() override {
    WF_ASSIGN_OR_RETURN(pg::Transaction tx, pg::Transaction::Begin(conn_.get()));
    // Imports one at a time, as SQLite's IMMEDIATE transaction makes them: the importer reads
    // before it writes (is this file stored? is this device's peak the same?), and two
    // imports deciding at once would both store the file, or the second silently change the
    // first one's device. Held until the transaction ends.
    WF_RETURN_IF_ERROR(
        pg::Exec(conn_.get(), "SELECT pg_advisory_xact_lock($1::bigint)", Params::Of(kImportLock))
            .status());
    return std::unique_ptr<Transaction>(
        std::make_unique<PgImportTransaction>(conn_.get(), std::move(tx)));
  }

  Result<std::vector<ImportedDeviceRow>> Devices() override {
    WF_ASSIGN_OR_RETURN(
        const pg::Rows q,
        pg::Exec(conn_.get(), "SELECT name, peak_flops FROM external_devices ORDER BY name"));
    std::vector<ImportedDeviceRow> out;
    for (int i = 0; i < q.size(); ++i) out.push_back({q.Text(i, 0), Column(q, i, 1)});
    return out;
  }

  Result<std::vector<StoredImportedRow>> Rows(const std::string& kind,
                                              const std::optional<std::string>& device) override {
    WF_ASSIGN_OR_RETURN(
        const pg::Rows q,
        pg::Exec(conn_.get(),
                 "SELECT i.source, m.row, m.device, m.kind, m.name, m.family, m.flops, "
                 "m.time_s, m.energy_j, m.features_json, m.operations_json "
                 "FROM external_measurements m JOIN imports i ON i.id = m.import_id "
                 "WHERE m.kind = $1 AND ($2::text IS NULL OR m.device = $2) "
                 "ORDER BY m.import_id, m.row",
                 Params::Of(kind, device)));
    std::vector<StoredImportedRow> out;
    out.reserve(static_cast<size_t>(q.size()));
    for (int i = 0; i < q.size(); ++i) {
      StoredImportedRow s;
      s.source = q.Text(i, 0);
      ImportedRow& r = s.row;
      r.row = q.Int(i, 1);
      r.device = q.Text(i, 2);
      r.kind = q.Text(i, 3);
      r.name = q.Text(i, 4);
      r.family = q.Text(i, 5);
      r.flops = Column(q, i, 6);
      r.time_s = Column(q, i, 7);
      r.energy_j = Column(q, i, 8);
      r.features_json = q.Text(i, 9);
      r.operations_json = q.Text(i, 10);
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  ConnPtr conn_;
};

}  // namespace

Result<std::unique_ptr<ImportTable>> OpenPgImportTable(const std::string& conninfo) {
  const std::string label = pg::Label(conninfo);
  WF_ASSIGN_OR_RETURN(ConnPtr conn, pg::Connect(conninfo));
  if (Status s = pg::Migrate(conn.get(), /*create_if_missing=*/true); !s.ok()) {
    return s.WithContext(label);
  }
  return std::unique_ptr<ImportTable>(std::make_unique<PgImportTable>(std::move(conn)));
}

}  // namespace wattfleet
