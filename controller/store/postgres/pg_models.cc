// ModelTable over a PostgreSQL dataset: a connection of its own; the models table arrives with
// schema version 3, which opening it for writing migrates to (as every other opener does).
#include <libpq-fe.h>

#include "model_table_base.h"
#include "pg_store.h"
#include "wattfleet/store/model_table.h"

namespace wattfleet {
namespace {

using pg::ConnPtr;
using pg::Params;
using pg::Rows;

class PgModelTable final : public ModelTableBase {
 public:
  PgModelTable(ConnPtr conn, bool writable, bool has_table, std::string reason)
      : ModelTableBase(writable, has_table, std::move(reason)), conn_(std::move(conn)) {}

  Result<std::optional<ModelRow>> Latest(const ModelKey& key) override {
    if (!has_table_) return std::optional<ModelRow>();
    static const std::string kSql = LatestSql(Dollar);
    WF_ASSIGN_OR_RETURN(const Rows q,
                        pg::Exec(conn_.get(), kSql,
                                 Params::Of(key.estimator, key.device_class, key.mode, key.target,
                                            key.fingerprint, key.format_version)));
    if (q.empty()) return std::optional<ModelRow>();
    struct Row {
      const Rows& q;
      int64_t Int(int c) const { return q.Int(0, c); }
      std::string Text(int c) const { return q.Text(0, c); }
    };
    return std::optional<ModelRow>(RowOf(key, Row{q}));
  }

  Result<int64_t> Insert(const ModelRow& r) override {
    if (!writable_) return RefuseWrite();
    static const std::string kSql = InsertSql(Dollar) + " RETURNING id";
    WF_ASSIGN_OR_RETURN(
        const Rows q,
        pg::Exec(conn_.get(), kSql,
                 Params::Of(r.key.estimator, r.key.device_class, r.key.mode, r.key.target,
                            r.key.format_version, r.wattfleet_version, r.key.fingerprint,
                            r.training_json, r.state_json, r.created_ms)));
    if (q.empty()) return Status::Internal("models: INSERT returned no id");
    return q.Int(0, 0);
  }

 private:
  static std::string Dollar(int i) { return "$" + std::to_string(i); }

  ConnPtr conn_;
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
