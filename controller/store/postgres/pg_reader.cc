// DatasetReader over a PostgreSQL dataset: a connection of its own, one REPEATABLE READ, READ
// ONLY transaction for the reader's life (a snapshot while controllers write), the queries of
// read_rows.h; measurements through a cursor, so that a large dataset is never one result.
#include <libpq-fe.h>

#include <set>
#include <string>

#include "pg_store.h"
#include "read_rows.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet {
namespace {

using pg::ConnPtr;
using pg::Params;
using pg::Rows;


// Rows fetched per round trip of the measurement cursor.
constexpr int kFetchRows = 2000;

class PgReader final : public DatasetReader {
 public:
  PgReader(ConnPtr conn, pg::Transaction snapshot)
      : conn_(std::move(conn)), snapshot_(std::move(snapshot)) {}
  // The snapshot is rolled back (nothing was written) before the connection closes.
  ~PgReader() override = default;

  Result<std::vector<LayerRecord>> Layers() override {
    return Collect<LayerRecord>(read_rows::kLayersSql, {},
                                [](const Rows::Row& r) { return read_rows::LayerFrom(r); });
  }

  Status ForEachMeasurement(
      const std::function<Status(const MeasurementRecord&)>& fn) override {
    // The measurements table's columns: a dataset read without being upgraded lacks the
    // newest.
    WF_ASSIGN_OR_RETURN(const Rows cols,
                        pg::Exec(conn_.get(),
                                 "SELECT column_name FROM information_schema.columns "
                                 "WHERE table_name = 'measurements' "
                                 "AND table_schema = current_schema()"));
    std::set<std::string> columns;
    for (int i = 0; i < cols.size(); ++i) columns.insert(FirstText(cols.At(i)));
    const std::string sql = read_rows::MeasurementsSql(
        [&](const std::string& c) { return columns.count(c) > 0; });
    const std::string cursor = "wattfleet_measurements_" + std::to_string(++cursors_);
    WF_RETURN_IF_ERROR(
        pg::Exec(conn_.get(), "DECLARE " + cursor + " NO SCROLL CURSOR FOR " + sql).status());
    Status result = Status::OK();
    for (;;) {
      Result<Rows> batch = pg::Exec(
          conn_.get(), "FETCH FORWARD " + std::to_string(kFetchRows) + " FROM " + cursor);
      if (!batch.ok()) return batch.status();
      const Rows& q = *batch;
      for (int i = 0; i < q.size() && result.ok(); ++i) {
        std::optional<MeasurementRecord> m = read_rows::MeasurementFrom(q.At(i));
        if (m) result = fn(*m);
      }
      if (!result.ok() || q.size() < kFetchRows) break;
    }
    // After a failure the snapshot may be aborted, and CLOSE would only replace the real error
    // with "transaction aborted": the reader's rollback ends the cursor then.
    if (!result.ok()) return result;
    return pg::Exec(conn_.get(), "CLOSE " + cursor).status();
  }

  Result<std::vector<std::string>> ArchitectureLayers(int64_t architecture_id) override {
    return Collect<std::string>(read_rows::kArchitectureLayersSql, Params::Of(architecture_id),
                                FirstText);
  }

  Result<std::vector<std::string>> ArchitectureNodes(int64_t architecture_id) override {
    return Collect<std::string>(read_rows::kArchitectureNodesSql, Params::Of(architecture_id),
                                FirstText);
  }

  Result<std::vector<ArchitectureRecord>> Architectures() override {
    return Collect<ArchitectureRecord>(
        read_rows::kArchitecturesSql, {},
        [](const Rows::Row& r) { return read_rows::ArchitectureFrom(r); });
  }

  Result<std::vector<CampaignRecord>> Campaigns() override {
    WF_ASSIGN_OR_RETURN(
        std::vector<CampaignRecord> out,
        Collect<CampaignRecord>(read_rows::kCampaignsSql, {},
                                [](const Rows::Row& r) { return read_rows::CampaignFrom(r); }));
    WF_ASSIGN_OR_RETURN(const Rows j, pg::Exec(conn_.get(), read_rows::kJobCountsSql));
    for (int i = 0; i < j.size(); ++i) {
      read_rows::AddJobCount(j.Int(i, 0), j.Text(i, 1), j.Int(i, 2), &out);
    }
    return out;
  }

  Result<std::vector<ImportedRecord>> ImportedRecords() override {
    // A database whose schema has no import tables has imported nothing.
    WF_ASSIGN_OR_RETURN(
        const Rows has,
        pg::Exec(conn_.get(), "SELECT to_regclass('external_measurements') IS NOT NULL"));
    if (has.empty() || !has.Bool(0, 0)) return std::vector<ImportedRecord>{};
    return Collect<ImportedRecord>(read_rows::kImportedSql, {},
                                   [](const Rows::Row& r) { return read_rows::ImportedFrom(r); });
  }

  Result<std::vector<ExportRow>> ExportRows(std::optional<int64_t> campaign_id) override {
    return pg::ReadExportRows(conn_.get(), campaign_id);
  }

 private:
  static std::string FirstText(const Rows::Row& r) { return r.Text(0); }

  // Every row `sql` gives, each read by `from`.
  template <typename Record, typename From>
  Result<std::vector<Record>> Collect(const char* sql, const Params& params, From from) {
    WF_ASSIGN_OR_RETURN(const Rows q, pg::Exec(conn_.get(), sql, params));
    std::vector<Record> out;
    out.reserve(static_cast<size_t>(q.size()));
    for (int i = 0; i < q.size(); ++i) out.push_back(from(q.At(i)));
    return out;
  }

  ConnPtr conn_;
  pg::Transaction snapshot_;  // after conn_: rolled back before the connection closes
  int cursors_ = 0;
};

}  // namespace

Result<std::unique_ptr<DatasetReader>> OpenPgDatasetReader(const std::string& conninfo) {
  const std::string label = pg::Label(conninfo);
  WF_ASSIGN_OR_RETURN(ConnPtr conn, pg::Connect(conninfo));
  WF_ASSIGN_OR_RETURN(const int version, pg::SchemaVersion(conn.get()));
  if (version == 0) {
    return Status::InvalidArgument("--db " + label + ": not a wattfleet dataset");
  }
  if (version > pg::kSchemaVersion) {
    return Status::InvalidArgument("--db " + label + ": written by a newer wattfleet (schema " +
                                   std::to_string(version) + ", this build reads up to " +
                                   std::to_string(pg::kSchemaVersion) + ")");
  }
  WF_ASSIGN_OR_RETURN(pg::Transaction snapshot,
                      pg::Transaction::Begin(conn.get(), pg::Transaction::Kind::kSnapshot));
  return std::unique_ptr<DatasetReader>(
      std::make_unique<PgReader>(std::move(conn), std::move(snapshot)));
}

}  // namespace wattfleet
