// ImportTable over an SQLite dataset file: a connection of its own; an import is one
// IMMEDIATE transaction.
#include <sqlite3.h>

#include "sqlite_store.h"
#include "wattfleet/store/import_table.h"

namespace wattfleet {
namespace {

using sqlite::DbPtr;
using sqlite::Stmt;
using sqlite::StmtCache;

std::optional<double> Column(const Stmt& q, int col) {
  if (q.IsNull(col)) return std::nullopt;
  return q.Double(col);
}

class SqliteImportTransaction final : public ImportTable::Transaction {
 public:
  SqliteImportTransaction(sqlite3* db, StmtCache& cache, sqlite::Transaction tx)
      : db_(db), cache_(cache), tx_(std::move(tx)) {}

  Result<std::optional<PreviousImport>> FindImport(const std::string& source,
                                                   const std::string& csv_sha256) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT id, mapping_sha256, mapping_path FROM "
                                           "imports WHERE source = ? AND csv_sha256 = ?"));
    q.BindAll(source, csv_sha256);
    WF_ASSIGN_OR_RETURN(const bool found, q.Step());
    if (!found) return std::optional<PreviousImport>();
    return std::optional<PreviousImport>(PreviousImport{q.Int(0), q.Text(1), q.Text(2)});
  }

  Result<std::optional<std::optional<double>>> DevicePeakFlops(const std::string& name) override {
    WF_ASSIGN_OR_RETURN(Stmt q,
                        cache_.Get("SELECT peak_flops FROM external_devices WHERE name = ?"));
    q.BindAll(name);
    WF_ASSIGN_OR_RETURN(const bool found, q.Step());
    if (!found) return std::optional<std::optional<double>>();
    return std::optional<std::optional<double>>(Column(q, 0));
  }

  Status PutDevice(const ImportedDeviceRow& d) override {
    WF_ASSIGN_OR_RETURN(Stmt up, cache_.Get("INSERT INTO external_devices(name, peak_flops) "
                                            "VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET "
                                            "peak_flops = excluded.peak_flops"));
    up.BindAll(d.name, d.peak_flops);
    return up.Run().WithContext("device '" + d.name + "'");
  }

  Result<int64_t> AddImport(const ImportRow& i) override {
    WF_ASSIGN_OR_RETURN(Stmt ins,
                        cache_.Get("INSERT INTO imports(source, csv_path, csv_sha256, "
                                   "mapping_path, mapping_sha256, rows_read, rows_stored, "
                                   "created_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.BindAll(i.source, i.csv_path, i.csv_sha256, i.mapping_path, i.mapping_sha256,
                i.rows_read, i.rows_stored, i.created_ms);
    WF_RETURN_IF_ERROR(ins.Run().WithContext("import of " + i.csv_path));
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
  }

  Status AddRow(int64_t import_id, const ImportedRow& r) override {
    WF_ASSIGN_OR_RETURN(Stmt ins,
                        cache_.Get("INSERT INTO external_measurements(import_id, row, device, "
                                   "kind, name, family, flops, time_s, energy_j, features_json, "
                                   "operations_json) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.BindAll(import_id, r.row, r.device, r.kind, r.name, r.family, r.flops, r.time_s,
                r.energy_j, r.features_json, r.operations_json);
    return ins.Run();
  }

  Status Commit() override { return tx_.Commit(); }

 private:
  sqlite3* db_;
  StmtCache& cache_;
  sqlite::Transaction tx_;  // rolled back on destruction unless committed
};

class SqliteImportTable final : public ImportTable {
 public:
  explicit SqliteImportTable(DbPtr db) : db_(std::move(db)) {}

  Result<std::unique_ptr<Transaction>> Begin() override {
    WF_ASSIGN_OR_RETURN(sqlite::Transaction tx, sqlite::Transaction::Begin(db_.get(), &cache_));
    return std::unique_ptr<Transaction>(
        std::make_unique<SqliteImportTransaction>(db_.get(), cache_, std::move(tx)));
  }

  Result<std::vector<ImportedDeviceRow>> Devices() override {
    WF_ASSIGN_OR_RETURN(Stmt q,
                        cache_.Get("SELECT name, peak_flops FROM external_devices ORDER BY name"));
    std::vector<ImportedDeviceRow> out;
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      out.push_back(ImportedDeviceRow{q.Text(0), Column(q, 1)});
    }
    return out;
  }

  Result<std::vector<StoredImportedRow>> Rows(const std::string& kind,
                                              const std::optional<std::string>& device) override {
    WF_ASSIGN_OR_RETURN(
        Stmt q, cache_.Get("SELECT i.source, m.row, m.device, m.kind, m.name, m.family, "
                           "m.flops, m.time_s, m.energy_j, m.features_json, m.operations_json "
                           "FROM external_measurements m JOIN imports i ON i.id = m.import_id "
                           "WHERE m.kind = ? AND (? IS NULL OR m.device = ?) "
                           "ORDER BY m.import_id, m.row"));
    q.BindAll(kind, device, device);
    std::vector<StoredImportedRow> out;
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      StoredImportedRow s;
      s.source = q.Text(0);
      ImportedRow& r = s.row;
      r.row = q.Int(1);
      r.device = q.Text(2);
      r.kind = q.Text(3);
      r.name = q.Text(4);
      r.family = q.Text(5);
      r.flops = Column(q, 6);
      r.time_s = Column(q, 7);
      r.energy_j = Column(q, 8);
      r.features_json = q.Text(9);
      r.operations_json = q.Text(10);
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  DbPtr db_;
  StmtCache cache_{db_.get()};  // after db_: finalized before it closes
};

}  // namespace

Result<std::unique_ptr<ImportTable>> OpenSqliteImportTable(const std::string& path) {
  WF_RETURN_IF_ERROR(sqlite::RequireParentFolder(path));
  // An import may start a dataset, never take over a file.
  WF_ASSIGN_OR_RETURN(DbPtr db, sqlite::OpenDatasetFile(
                                    path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, true));
  WF_RETURN_IF_ERROR(sqlite::PrepareForWrites(db.get()).WithContext(path));
  return std::unique_ptr<ImportTable>(std::make_unique<SqliteImportTable>(std::move(db)));
}

}  // namespace wattfleet
