// The SQLite statements under a package import (package_import.h), inside the store's
// transaction.
#include "package_import.h"
#include "sqlite_store.h"
#include "measurement_columns.h"
#include "wattfleet/common/layer.h"

namespace wattfleet::sqlite {
namespace {

class SqlitePackageWriter final : public PackageRowWriter {
 public:
  SqlitePackageWriter(sqlite3* db, StmtCache& cache) : db_(db), cache_(cache) {}

  Result<bool> Imported(const std::string& source, const std::string& identity) override {
    return Exists("SELECT 1 FROM imports WHERE source = ? AND csv_sha256 = ?", source,
                  identity);
  }
  Result<bool> CampaignExists(int64_t id) override {
    return Exists("SELECT 1 FROM campaigns WHERE id = ?", id);
  }
  Result<bool> AnyJobExists(const std::vector<int64_t>& ids) override {
    for (const int64_t id : ids) {
      WF_ASSIGN_OR_RETURN(const bool taken, Exists("SELECT 1 FROM jobs WHERE id = ?", id));
      if (taken) return true;
    }
    return false;
  }
  Result<bool> DeviceExists(const std::string& name) override {
    return Exists("SELECT 1 FROM devices WHERE name = ?", name);
  }
  Result<int64_t> InsertCampaign(const CampaignRecord& c, int64_t id) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT INTO campaigns(id, name, state, mode, dtype, "
                                           "batch, source_path, yaml, created_ms, finished_ms) "
                                           "VALUES(?, ?, ?, ?, ?, ?, '', ?, ?, ?)"));
    q.BindAll(IdOrNull(id), c.name, c.state, c.mode, c.dtype, c.batch, c.yaml, c.created_ms,
              c.finished_ms > 0 ? std::optional<int64_t>(c.finished_ms) : std::nullopt);
    return RunForId(q, "campaign '" + c.name + "'");
  }
  Result<int64_t> InsertArchitecture(const ArchitectureRecord& a, int64_t campaign_id) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT INTO architectures(campaign_id, name, family, "
                                           "input_shape, output_shape, macs, flops, params, "
                                           "layers) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.BindAll(campaign_id, a.name, a.family, a.input_shape, a.output_shape, a.macs, a.flops,
              a.params, a.layers);
    return RunForId(q, "architecture '" + a.name + "'");
  }
  Result<std::vector<int64_t>> NewJobIds(int64_t n) override {
    // The write transaction holds the file: no other writer can take these before the commit.
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("SELECT COALESCE(MAX(id), 0) FROM jobs"));
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    const int64_t last = row ? q.Int(0) : 0;
    q.Reset();
    std::vector<int64_t> ids;
    for (int64_t i = 1; i <= n; ++i) ids.push_back(last + i);
    return ids;
  }
  Status InsertJob(const JobSpec& job, const std::string& spec, const std::string& agent,
                   int64_t updated_ms) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT INTO jobs(id, campaign_id, kind, "
                                           "device_class, subject, mode, dtype, batch, spec, "
                                           "state, attempts, agent, updated_ms) "
                                           "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 'done', 1, ?, ?)"));
    q.BindAll(job.job_id, job.campaign_id, JobKindName(job.kind), job.device_class, job.subject,
              ModeName(job.mode), DTypeName(job.dtype), job.batch, Blob{spec}, agent,
              updated_ms);
    return q.Run().WithContext("job for '" + job.subject + "'");
  }
  Status InsertLayer(const LayerRecord& l) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT OR IGNORE INTO layers(key, type, params_json, "
                                           "input_shape, output_shape, macs, flops, params, "
                                           "input_elements, output_elements) "
                                           "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.BindAll(l.key, l.type, l.params_json, l.input_shape, l.output_shape, l.macs, l.flops,
              l.params, l.input_elements, l.output_elements);
    return q.Run().WithContext("layer " + l.key);
  }
  Status InsertArchLayer(int64_t architecture_id, int64_t position, const std::string& node_name,
                         const std::string& key) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT INTO arch_layers(architecture_id, position, "
                                           "node_name, layer_key) VALUES(?, ?, ?, ?)"));
    q.BindAll(architecture_id, position, node_name, key);
    return q.Run().WithContext("node '" + node_name + "'");
  }
  Status InsertLease(int64_t job_id, int32_t attempt, const std::string& agent,
                     int64_t leased_ms) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT INTO leases(job_id, attempt, agent, "
                                           "leased_ms) VALUES(?, ?, ?, ?)"));
    q.BindAll(job_id, attempt, agent, leased_ms);
    return q.Run();
  }
  Status InsertMeasurement(int64_t job_id, int32_t attempt, const std::string& agent,
                           const std::string& payload_hash, int64_t created_ms,
                           const Measurement& m) override {
    static const std::string kInsert = [] {
      std::string marks;
      for (size_t i = 0; i < measurement_columns::Columns().size(); ++i) marks += ", ?";
      return "INSERT INTO measurements(job_id, attempt, agent, payload_hash, created_ms, " +
             measurement_columns::List() + ") VALUES(?, ?, ?, ?, ?" + marks + ")";
    }();
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get(kInsert));
    q.BindAll(job_id, attempt, agent, payload_hash, created_ms);
    int index = 6;
    measurement_columns::BindValues(m, [&](const auto& x) { q.Bind(index++, x); });
    return q.Run().WithContext("measurement of job " + std::to_string(job_id));
  }
  Status InsertDevice(const PackageDevice& d, int64_t first_seen_ms,
                      int64_t last_seen_ms) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT INTO devices(name, class, capabilities_json, "
                                           "first_seen_ms, last_seen_ms) VALUES(?, ?, ?, ?, ?)"));
    q.BindAll(d.name, d.device_class, d.capabilities_json, first_seen_ms, last_seen_ms);
    return q.Run().WithContext("device " + d.name);
  }
  Status RecordImport(const DatasetPackage& p, int64_t rows, int64_t now_ms) override {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get("INSERT INTO imports(source, csv_path, csv_sha256, "
                                           "mapping_path, mapping_sha256, rows_read, "
                                           "rows_stored, created_ms, provenance) "
                                           "VALUES(?, ?, ?, 'package', '', ?, ?, ?, ?)"));
    q.BindAll(p.source, p.path, p.identity, rows, rows, now_ms, p.provenance);
    return q.Run().WithContext("package " + p.path);
  }
  Status Flush() override { return Status::OK(); }  // every row is written at once
  Status AfterExplicitIds() override { return Status::OK(); }  // INTEGER PRIMARY KEY: max + 1

 private:
  static std::optional<int64_t> IdOrNull(int64_t id) {
    return id > 0 ? std::optional<int64_t>(id) : std::nullopt;
  }
  template <typename... Args>
  Result<bool> Exists(const char* sql, const Args&... args) {
    WF_ASSIGN_OR_RETURN(Stmt q, cache_.Get(sql));
    q.BindAll(args...);
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    q.Reset();
    return row;
  }
  Result<int64_t> RunForId(Stmt& q, const std::string& what) {
    WF_RETURN_IF_ERROR(q.Run().WithContext(what));
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
  }

  sqlite3* db_;
  StmtCache& cache_;
};

}  // namespace

Result<PackageImportOutcome> ImportPackage(sqlite3* db, StmtCache& cache,
                                           const DatasetPackage& package, int64_t now_ms) {
  SqlitePackageWriter writer(db, cache);
  return ImportPackageRows(package, writer, now_ms);
}

}  // namespace wattfleet::sqlite
