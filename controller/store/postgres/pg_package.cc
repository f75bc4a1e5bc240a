// The PostgreSQL statements under a package import (package_import.h), inside the store's
// transaction. A kept id is written as given; the identity sequences are then moved past the
// largest id, so that the next campaign or job a controller creates gets a free one.
#include "measurement_columns.h"
#include "package_import.h"
#include "pg_store.h"

#include <algorithm>

namespace wattfleet::pg {
namespace {

class PgPackageWriter final : public PackageRowWriter {
 public:
  explicit PgPackageWriter(PGconn* conn) : c_(conn) {}

  Result<bool> Imported(const std::string& source, const std::string& identity) override {
    return Exists("SELECT 1 FROM imports WHERE source = $1 AND csv_sha256 = $2",
                  Params::Of(source, identity));
  }
  Result<bool> CampaignExists(int64_t id) override {
    return Exists("SELECT 1 FROM campaigns WHERE id = $1", Params::Of(id));
  }
  Result<bool> AnyJobExists(const std::vector<int64_t>& ids) override {
    // One statement: an array literal of the ids.
    std::string array = "{";
    for (size_t i = 0; i < ids.size(); ++i) array += (i ? "," : "") + std::to_string(ids[i]);
    return Exists("SELECT 1 FROM jobs WHERE id = ANY($1::bigint[]) LIMIT 1",
                  Params::Of(array + "}"));
  }
  Result<bool> DeviceExists(const std::string& name) override {
    return Exists("SELECT 1 FROM devices WHERE name = $1", Params::Of(name));
  }
  Result<int64_t> InsertCampaign(const CampaignRecord& c, int64_t id) override {
    return Id("INSERT INTO campaigns(id, name, state, mode, dtype, batch, source_path, yaml, "
              "created_ms, finished_ms) VALUES(" + IdOrNext("campaigns", 1) +
                  ", $2, $3, $4, $5, $6, '', $7, $8, $9) RETURNING id",
              Params::Of(IdOrNull(id), c.name, c.state, c.mode, c.dtype, c.batch, c.yaml,
                         c.created_ms,
                         c.finished_ms > 0 ? std::optional<int64_t>(c.finished_ms)
                                           : std::nullopt),
              "campaign '" + c.name + "'");
  }
  Result<int64_t> InsertArchitecture(const ArchitectureRecord& a, int64_t campaign_id) override {
    return Id("INSERT INTO architectures(campaign_id, name, family, input_shape, output_shape, "
              "macs, flops, params, layers) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) "
              "RETURNING id",
              Params::Of(campaign_id, a.name, a.family, a.input_shape, a.output_shape, a.macs,
                         a.flops, a.params, a.layers),
              "architecture '" + a.name + "'");
  }
  Result<std::vector<int64_t>> NewJobIds(int64_t n) override {
    // From the sequence, as CreateCampaign takes them: other controllers may take ids too.
    WF_ASSIGN_OR_RETURN(const Rows q, Exec(c_,
                                           "SELECT nextval(pg_get_serial_sequence('jobs', 'id')) "
                                           "FROM generate_series(1, $1::bigint)",
                                           Params::Of(n)));
    std::vector<int64_t> ids;
    for (int i = 0; i < q.size(); ++i) ids.push_back(q.Int(i, 0));
    std::sort(ids.begin(), ids.end());
    if (static_cast<int64_t>(ids.size()) != n) {
      return Status::Internal("postgresql: the job id sequence returned " +
                              std::to_string(ids.size()) + " ids for " + std::to_string(n));
    }
    return ids;
  }
  // Architectures' nodes, jobs, leases and measurements are held and written many rows per
  // statement (Flush): one round trip per row made a 100 000-measurement package take minutes.
  Status InsertJob(const JobSpec& job, const std::string& spec, const std::string& agent,
                   int64_t updated_ms) override {
    jobs_.push_back(Params::Of(job.job_id, job.campaign_id, JobKindName(job.kind),
                               job.device_class, job.subject, ModeName(job.mode),
                               DTypeName(job.dtype), job.batch, Bytes{spec}, agent, updated_ms));
    return FlushIfFull();
  }
  Status InsertLayer(const LayerRecord& l) override {
    return Run("INSERT INTO layers(key, type, params_json, input_shape, output_shape, macs, "
               "flops, params, input_elements, output_elements) "
               "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (key) DO NOTHING",
               Params::Of(l.key, l.type, l.params_json, l.input_shape, l.output_shape, l.macs,
                          l.flops, l.params, l.input_elements, l.output_elements),
               "layer " + l.key);
  }
  Status InsertArchLayer(int64_t architecture_id, int64_t position, const std::string& node_name,
                         const std::string& key) override {
    nodes_.push_back(Params::Of(architecture_id, position, node_name, key));
    return Status::OK();
  }
  Status InsertLease(int64_t job_id, int32_t attempt, const std::string& agent,
                     int64_t leased_ms) override {
    leases_.push_back(Params::Of(job_id, attempt, agent, leased_ms));
    return Status::OK();
  }
  Status InsertMeasurement(int64_t job_id, int32_t attempt, const std::string& agent,
                           const std::string& payload_hash, int64_t created_ms,
                           const Measurement& m) override {
    Params params = Params::Of(job_id, attempt, agent, payload_hash, created_ms);
    measurement_columns::BindValues(m, [&](const auto& x) { params.Add(x); });
    measurements_.push_back(std::move(params));
    return Status::OK();
  }
  Status InsertDevice(const PackageDevice& d, int64_t first_seen_ms,
                      int64_t last_seen_ms) override {
    return Run("INSERT INTO devices(name, class, capabilities_json, first_seen_ms, "
               "last_seen_ms) VALUES($1, $2, $3, $4, $5)",
               Params::Of(d.name, d.device_class, d.capabilities_json, first_seen_ms,
                          last_seen_ms),
               "device " + d.name);
  }
  Status RecordImport(const DatasetPackage& p, int64_t rows, int64_t now_ms) override {
    return Run("INSERT INTO imports(source, csv_path, csv_sha256, mapping_path, mapping_sha256, "
               "rows_read, rows_stored, created_ms, provenance) "
               "VALUES($1, $2, $3, 'package', '', $4, $5, $6, $7)",
               Params::Of(p.source, p.path, p.identity, rows, rows, now_ms, p.provenance),
               "package " + p.path);
  }
  Status Flush() override {
    static const std::string kMeasurementRow = [] {
      std::string marks = "(?, ?, ?, ?, ?";
      for (size_t i = 0; i < measurement_columns::Columns().size(); ++i) marks += ", ?";
      return marks + ")";
    }();
    WF_RETURN_IF_ERROR(InsertRows(c_,
                                  "INSERT INTO arch_layers(architecture_id, position, node_name, "
                                  "layer_key)",
                                  "(?, ?, ?, ?)", nodes_, "", "the architectures' nodes"));
    nodes_.clear();
    // Jobs first: leases and measurements reference them.
    WF_RETURN_IF_ERROR(InsertRows(c_,
                                  "INSERT INTO jobs(id, campaign_id, kind, device_class, subject, "
                                  "mode, dtype, batch, spec, state, attempts, agent, updated_ms)",
                                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, 'done', 1, ?, ?)", jobs_, "",
                                  "the package's jobs"));
    WF_RETURN_IF_ERROR(InsertRows(c_, "INSERT INTO leases(job_id, attempt, agent, leased_ms)",
                                  "(?, ?, ?, ?)", leases_, "", "the package's leases"));
    WF_RETURN_IF_ERROR(InsertRows(c_,
                                  "INSERT INTO measurements(job_id, attempt, agent, payload_hash, "
                                  "created_ms, " + measurement_columns::List() + ")",
                                  kMeasurementRow, measurements_, "",
                                  "the package's measurements"));
    jobs_.clear();
    leases_.clear();
    measurements_.clear();
    return Status::OK();
  }
  Status AfterExplicitIds() override {
    for (const char* table : {"campaigns", "jobs"}) {
      const std::string t = table;
      WF_RETURN_IF_ERROR(Run("SELECT setval(pg_get_serial_sequence('" + t + "', 'id'), "
                             "(SELECT COALESCE(MAX(id), 0) + 1 FROM " + t + "), false)",
                             Params(), "the id sequence of " + t));
    }
    return Status::OK();
  }

 private:
  static std::optional<int64_t> IdOrNull(int64_t id) {
    return id > 0 ? std::optional<int64_t>(id) : std::nullopt;
  }
  // The parameter `$n` when given, else the table's next id.
  static std::string IdOrNext(const std::string& table, int n) {
    return "COALESCE($" + std::to_string(n) + "::bigint, nextval(pg_get_serial_sequence('" +
           table + "', 'id')))";
  }
  Result<bool> Exists(const std::string& sql, const Params& params) {
    WF_ASSIGN_OR_RETURN(const Rows q, Exec(c_, sql, params));
    return !q.empty();
  }
  Result<int64_t> Id(const std::string& sql, const Params& params, const std::string& what) {
    auto q = Exec(c_, sql, params);
    if (!q.ok()) return q.status().WithContext(what);
    return q->Int(0, 0);
  }
  Status Run(const std::string& sql, const Params& params, const std::string& what) {
    return Exec(c_, sql, params).status().WithContext(what);
  }

  // Written when a few thousand rows are held, and at the end.
  Status FlushIfFull() { return jobs_.size() >= 2000 ? Flush() : Status::OK(); }

  PGconn* c_;
  std::vector<Params> nodes_, jobs_, leases_, measurements_;
};

}  // namespace

Result<PackageImportOutcome> ImportPackage(PGconn* conn, const DatasetPackage& package,
                                           int64_t now_ms) {
  PgPackageWriter writer(conn);
  return ImportPackageRows(package, writer, now_ms);
}

}  // namespace wattfleet::pg
