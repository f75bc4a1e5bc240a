// ModelTable over a PostgreSQL dataset: a connection of its own; the models table arrives with
// schema version 3, which opening it for writing migrates to (as every other opener does).
#include <libpq-fe.h>

#include "pg_store.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet {
namespace {

using pg::ConnPtr;
using pg::Params;
using pg::Rows;

class PgModelTable final : public ModelTable {
 public:
  PgModelTable(ConnPtr conn, bool writable, bool has_table, std::string reason)
      : conn_(std::move(conn)), writable_(writable), has_table_(has_table),
        reason_(std::move(reason)) {}

  bool writable() const override { return writable_; }
  const std::string& read_only_reason() const override { return reason_; }

  Result<std::optional<ModelRow>> Latest(const ModelKey& key) override {
    if (!has_table_) return std::optional<ModelRow>();
    WF_ASSIGN_OR_RETURN(
        const Rows q,
        pg::Exec(conn_.get(),
                 "SELECT id, wattfleet_version, training_json, state_json, created_ms "
                 "FROM models WHERE estimator = $1 AND device_class = $2 AND mode = $3 AND "
                 "target = $4 AND fingerprint = $5 AND format_version = $6 "
                 "ORDER BY id DESC LIMIT 1",
                 Params::Of(key.estimator, key.device_class, key.mode, key.target,
                            key.fingerprint, key.format_version)));
    if (q.empty()) return std::optional<ModelRow>();
    ModelRow r;
    r.id = q.Int(0, 0);
    r.key = key;
    r.wattfleet_version = q.Text(0, 1);
    r.training_json = q.Text(0, 2);
    r.state_json = q.Text(0, 3);
    r.created_ms = q.Int(0, 4);
    return std::optional<ModelRow>(std::move(r));
  }

  Result<int64_t> Insert(const ModelRow& r) override {
    if (!writable_) return Status::IOError("models table not written: " + reason_);
    WF_ASSIGN_OR_RETURN(
        const Rows q,
        pg::Exec(conn_.get(),
                 "INSERT INTO models(estimator, device_class, mode, target, format_version, "
                 "wattfleet_version, fingerprint, training_json, state_json, created_ms) "
                 "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                 Params::Of(r.key.estimator, r.key.device_class, r.key.mode, r.key.target,
                            r.key.format_version, r.wattfleet_version, r.key.fingerprint,
                            r.training_json, r.state_json, r.created_ms)));
    if (q.empty()) return Status::Internal("models: INSERT returned no id");
    return q.Int(0, 0);
  }

 private:
  ConnPtr conn_;
  bool writable_;
  bool has_table_;
  std::string reason_;
};

}  // namespace

Result<std::unique_ptr<ModelTable>> OpenPgModelTable(const std::string& conninfo,
                                                     bool read_only) {
  const std::string label = pg::Label(conninfo);
  WF_ASSIGN_OR_RETURN(ConnPtr conn, pg::Connect(conninfo));
  WF_ASSIGN_OR_RETURN(const int version, pg::SchemaVersion(conn.get()));
  if (version == 0) return Status::InvalidArgument("--db " + label + ": not a wattfleet dataset");
  if (version > pg::kSchemaVersion) {
    return Status::InvalidArgument("--db " + label + ": written by a newer wattfleet (schema " +
                                   std::to_string(version) + ", this build reads up to " +
                                   std::to_string(pg::kSchemaVersion) + ")");
  }
  std::string reason = "opened read-only";
  if (!read_only) {
    // A role that may read but not change the schema or write keeps reading.
    const Status migrated = pg::Migrate(conn.get(), /*create_if_missing=*/false);
    if (migrated.ok()) {
      return std::unique_ptr<ModelTable>(
          std::make_unique<PgModelTable>(std::move(conn), true, true, ""));
    }
    if (migrated.code() != StatusCode::kPermissionDenied) return migrated.WithContext(label);
    reason = migrated.message();
  }
  WF_ASSIGN_OR_RETURN(const Rows has,
                      pg::Exec(conn.get(), "SELECT to_regclass('models') IS NOT NULL"));
  const bool has_table = !has.empty() && has.Bool(0, 0);
  return std::unique_ptr<ModelTable>(
      std::make_unique<PgModelTable>(std::move(conn), false, has_table, std::move(reason)));
}

}  // namespace wattfleet
