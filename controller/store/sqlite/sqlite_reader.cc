// DatasetReader over an SQLite dataset file: opened read-only, one read transaction for the
// reader's life (a snapshot under WAL), the queries of read_rows.h.
#include <sqlite3.h>

#include <set>
#include <string>

#include "read_rows.h"
#include "sqlite_store.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet {
namespace {

using sqlite::DbPtr;
using sqlite::Stmt;
using sqlite::StmtRow;

class SqliteReader final : public DatasetReader {
 public:
  SqliteReader(DbPtr db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
  ~SqliteReader() override {
    // Ends the read transaction (nothing was written).
    sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
  }

  Status Begin() { return sqlite::Exec(db_.get(), "BEGIN"); }

  Result<std::vector<LayerRecord>> Layers() override {
    return Collect<LayerRecord>(read_rows::kLayersSql,
                                [](const StmtRow& r) { return read_rows::LayerFrom(r); });
  }

  Status ForEachMeasurement(
      const std::function<Status(const MeasurementRecord&)>& fn) override {
    WF_ASSIGN_OR_RETURN(const std::set<std::string> columns, MeasurementColumns());
    const std::string sql = read_rows::MeasurementsSql(
        [&](const std::string& c) { return columns.count(c) > 0; });
    WF_ASSIGN_OR_RETURN(Stmt q, Prepare(sql.c_str()));
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      const std::optional<MeasurementRecord> m = read_rows::MeasurementFrom(StmtRow{q});
      if (m) WF_RETURN_IF_ERROR(fn(*m));
    }
    return Status::OK();
  }

  Result<std::vector<std::string>> ArchitectureLayers(int64_t architecture_id) override {
    if (!arch_layers_) {
      WF_ASSIGN_OR_RETURN(Stmt q, Prepare(read_rows::kArchitectureLayersSql));
      arch_layers_.emplace(std::move(q));
    }
    Stmt& q = *arch_layers_;
    q.Reset();
    q.Bind(1, architecture_id);
    return Texts(q);
  }

  Result<std::vector<std::string>> ArchitectureNodes(int64_t architecture_id) override {
    WF_ASSIGN_OR_RETURN(Stmt q, Prepare(read_rows::kArchitectureNodesSql));
    q.Bind(1, architecture_id);
    return Texts(q);
  }

  Result<std::vector<ArchitectureRecord>> Architectures() override {
    return Collect<ArchitectureRecord>(read_rows::kArchitecturesSql, [](const StmtRow& r) {
      return read_rows::ArchitectureFrom(r);
    });
  }

  Result<std::vector<CampaignRecord>> Campaigns() override {
    WF_ASSIGN_OR_RETURN(std::vector<CampaignRecord> out,
                        Collect<CampaignRecord>(read_rows::kCampaignsSql, [](const StmtRow& r) {
                          return read_rows::CampaignFrom(r);
                        }));
    WF_ASSIGN_OR_RETURN(Stmt q, Prepare(read_rows::kJobCountsSql));
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      read_rows::AddJobCount(q.Int(0), q.Text(1), q.Int(2), &out);
    }
    return out;
  }

  Result<std::vector<ImportedRecord>> ImportedRecords() override {
    // Datasets from before schema version 3 have no import tables.
    WF_ASSIGN_OR_RETURN(Stmt has, Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                          "AND name = 'external_measurements'"));
    WF_ASSIGN_OR_RETURN(const bool exists, has.Step());
    if (!exists) return std::vector<ImportedRecord>{};
    return Collect<ImportedRecord>(read_rows::kImportedSql,
                                   [](const StmtRow& r) { return read_rows::ImportedFrom(r); });
  }

  Result<std::vector<ExportRow>> ExportRows(std::optional<int64_t> campaign_id) override {
    return sqlite::ReadExportRows(db_.get(), campaign_id);
  }

 private:
  // Every row `q` gives, each read by `from`.
  template <typename Record, typename From>
  static Result<std::vector<Record>> RowsOf(Stmt& q, From from) {
    std::vector<Record> out;
    for (;;) {
      WF_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) return out;
      out.push_back(from(StmtRow{q}));
    }
  }
  template <typename Record, typename From>
  Result<std::vector<Record>> Collect(const char* sql, From from) {
    WF_ASSIGN_OR_RETURN(Stmt q, Prepare(sql));
    return RowsOf<Record>(q, from);
  }
  // The first column of every row `q` gives.
  static Result<std::vector<std::string>> Texts(Stmt& q) {
    return RowsOf<std::string>(q, [](const StmtRow& r) { return r.Text(0); });
  }

  // The measurements table's columns: a dataset read without being upgraded lacks the newest.
  Result<std::set<std::string>> MeasurementColumns() {
    WF_ASSIGN_OR_RETURN(Stmt q, Prepare("SELECT name FROM pragma_table_info('measurements')"));
    WF_ASSIGN_OR_RETURN(const std::vector<std::string> names, Texts(q));
    return std::set<std::string>(names.begin(), names.end());
  }

  // A query that does not prepare means tables are missing: not a dataset this build reads.
  Result<Stmt> Prepare(const char* sql) {
    Result<Stmt> q = Stmt::Prepare(db_.get(), sql);
    if (!q.ok()) {
      return Status::InvalidArgument("--db " + path_ + ": not a wattfleet dataset (" +
                                     q.status().message() + ")");
    }
    return q;
  }

  DbPtr db_;
  std::string path_;
  std::optional<Stmt> arch_layers_;  // prepared once, reused per architecture
};

}  // namespace

Result<std::unique_ptr<DatasetReader>> OpenSqliteDatasetReader(const std::string& path) {
  WF_ASSIGN_OR_RETURN(DbPtr db, sqlite::OpenDatasetReadOnly(path));
  WF_ASSIGN_OR_RETURN(const int version, sqlite::SchemaVersion(db.get()));
  if (version > sqlite::kSchemaVersion) {
    return Status::InvalidArgument("--db " + path + ": written by a newer wattfleet (schema " +
                                   std::to_string(version) + ", this build reads up to " +
                                   std::to_string(sqlite::kSchemaVersion) + ")");
  }
  auto reader = std::make_unique<SqliteReader>(std::move(db), path);
  WF_RETURN_IF_ERROR(reader->Begin());
  return std::unique_ptr<DatasetReader>(std::move(reader));
}

}  // namespace wattfleet
