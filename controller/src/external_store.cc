#include "external_store.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "sqlite_store.h"
#include "wattfleet/common/clock.h"

namespace wattfleet {

using sqlite::DbPtr;
using sqlite::Stmt;
using sqlite::Transaction;

struct ExternalStore::Impl {
  explicit Impl(DbPtr d) : db(std::move(d)) {}
  DbPtr db;
  sqlite::StmtCache cache{db.get()};  // after db: finalized before it closes
};

namespace {

std::string ToJson(const std::map<std::string, OperationCost>& ops) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : ops) obj[k] = {{"flops", v.flops}, {"count", v.count}};
  return obj.dump();
}

Result<std::map<std::string, OperationCost>> OperationsFromJson(const std::string& text,
                                                                const std::string& what) {
  std::map<std::string, OperationCost> out;
  try {
    const nlohmann::json obj = nlohmann::json::parse(text);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      out[it.key()] = OperationCost{it.value().at("flops").get<double>(),
                                    it.value().at("count").get<double>()};
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(what + ": " + e.what());
  }
  return out;
}

// features_json: the numeric features, and a layer's or a zoo architecture's spec under
// "layer" or "zoo" (objects, where features are numbers).
std::string FeaturesJson(const ExternalRecord& r) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : r.features) obj[k] = v;
  if (r.spec.is_object()) {
    for (const auto& [k, v] : r.spec.items()) obj[k] = v;
  }
  return obj.dump();
}

Status FromJson(const std::string& text, const std::string& what, ExternalRecord* r) {
  try {
    const nlohmann::json obj = nlohmann::json::parse(text);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (it.value().is_object() && (it.key() == "layer" || it.key() == "zoo")) {
        r->spec[it.key()] = it.value();
      } else {
        r->features[it.key()] = it.value().get<double>();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(what + ": " + e.what());
  }
  return Status::OK();
}

std::optional<double> Column(const Stmt& q, int col) {
  if (q.IsNull(col)) return std::nullopt;
  return q.Double(col);
}

}  // namespace

ExternalStore::ExternalStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExternalStore::~ExternalStore() = default;

Result<std::unique_ptr<ExternalStore>> ExternalStore::Open(const std::string& path) {
  WF_RETURN_IF_ERROR(sqlite::RequireParentFolder(path));
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  DbPtr db(raw);  // allocated even when the open fails
  if (rc != SQLITE_OK) return sqlite::Error(db.get(), rc, "open " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  // The same settings as the main store: a running controller may hold the write lock.
  sqlite3_busy_timeout(db.get(), 5000);
  // Before the pragmas, which write: an import may start a dataset, never take over a file.
  WF_RETURN_IF_ERROR(sqlite::CheckOwnership(db.get(), path, /*empty_ok=*/true));
  const Status s = [&]() -> Status {
    WF_RETURN_IF_ERROR(sqlite::Exec(db.get(), "PRAGMA journal_mode = WAL"));
    WF_RETURN_IF_ERROR(sqlite::Exec(db.get(), "PRAGMA synchronous = NORMAL"));
    WF_RETURN_IF_ERROR(sqlite::Exec(db.get(), "PRAGMA foreign_keys = ON"));
    return sqlite::Migrate(db.get());
  }();
  if (!s.ok()) return s.WithContext(path);
  return std::unique_ptr<ExternalStore>(
      new ExternalStore(std::make_unique<Impl>(std::move(db))));
}

Result<ImportOutcome> ExternalStore::Import(const ImportBatch& batch) {
  sqlite3* db = impl_->db.get();
  sqlite::StmtCache& cache = impl_->cache;
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db, &cache));

  {
    WF_ASSIGN_OR_RETURN(Stmt q, cache.Get("SELECT id, mapping_sha256, mapping_path FROM imports "
                                          "WHERE source = ? AND csv_sha256 = ?"));
    q.BindAll(batch.source, batch.csv_sha256);
    WF_ASSIGN_OR_RETURN(const bool found, q.Step());
    if (found) {
      ImportOutcome out;
      out.import_id = q.Int(0);
      if (q.Text(1) != batch.mapping_sha256) {
        return Status::InvalidArgument(
            batch.mapping_path + ": " + batch.csv_path + " was already imported as source '" +
            batch.source + "' (import " + std::to_string(out.import_id) + ", mapping " +
            q.Text(2) + ") with a different mapping; give this mapping another source name "
            "to keep both");
      }
      out.already_imported = true;
      return out;  // the guard rolls back the (empty) transaction
    }
  }

  for (const ExternalDevice& d : batch.devices) {
    WF_ASSIGN_OR_RETURN(Stmt q, cache.Get("SELECT peak_flops FROM external_devices WHERE name = ?"));
    q.BindAll(d.name);
    WF_ASSIGN_OR_RETURN(const bool found, q.Step());
    if (found) {
      const std::optional<double> stored = Column(q, 0);
      if (stored && d.peak_flops && std::fabs(*stored - *d.peak_flops) > 1e-9 * *stored) {
        return Status::InvalidArgument(batch.mapping_path + ": device '" + d.name +
                                       "' is stored with peak_flops " + std::to_string(*stored) +
                                       ", the mapping says " + std::to_string(*d.peak_flops));
      }
      if (stored || !d.peak_flops) continue;
    }
    WF_ASSIGN_OR_RETURN(Stmt up, cache.Get("INSERT INTO external_devices(name, peak_flops) "
                                           "VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET "
                                           "peak_flops = excluded.peak_flops"));
    up.BindAll(d.name, d.peak_flops);
    WF_RETURN_IF_ERROR(up.Run().WithContext("device '" + d.name + "'"));
  }

  WF_ASSIGN_OR_RETURN(Stmt ins_import,
                      cache.Get("INSERT INTO imports(source, csv_path, csv_sha256, mapping_path, "
                                "mapping_sha256, rows_read, rows_stored, created_ms) "
                                "VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  ins_import.BindAll(batch.source, batch.csv_path, batch.csv_sha256, batch.mapping_path,
                     batch.mapping_sha256, batch.rows_read,
                     static_cast<int64_t>(batch.records.size()), SystemClock().UnixMillis());
  WF_RETURN_IF_ERROR(ins_import.Run().WithContext("import of " + batch.csv_path));
  ImportOutcome out;
  out.import_id = sqlite3_last_insert_rowid(db);

  WF_ASSIGN_OR_RETURN(Stmt ins,
                      cache.Get("INSERT INTO external_measurements(import_id, row, device, kind, "
                                "name, family, flops, time_s, energy_j, features_json, "
                                "operations_json) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const ExternalRecord& r : batch.records) {
    ins.Reset();
    ins.BindAll(out.import_id, r.row, r.device, r.kind, r.name, r.family, r.flops, r.time_s,
                r.energy_j, FeaturesJson(r), ToJson(r.operations));
    WF_RETURN_IF_ERROR(ins.Run().WithContext(batch.csv_path + " row " + std::to_string(r.row)));
    ++out.rows_stored;
  }
  WF_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<std::vector<ExternalDevice>> ExternalStore::Devices() {
  WF_ASSIGN_OR_RETURN(Stmt q, impl_->cache.Get("SELECT name, peak_flops FROM external_devices "
                                               "ORDER BY name"));
  std::vector<ExternalDevice> out;
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    out.push_back(ExternalDevice{q.Text(0), Column(q, 1)});
  }
  return out;
}

Result<std::vector<StoredExternalRecord>> ExternalStore::Records(
    const std::string& kind, const std::optional<std::string>& device) {
  WF_ASSIGN_OR_RETURN(
      Stmt q, impl_->cache.Get("SELECT i.source, m.row, m.device, m.kind, m.name, m.family, "
                               "m.flops, m.time_s, m.energy_j, m.features_json, "
                               "m.operations_json FROM external_measurements m "
                               "JOIN imports i ON i.id = m.import_id "
                               "WHERE m.kind = ? AND (? IS NULL OR m.device = ?) "
                               "ORDER BY m.import_id, m.row"));
  q.BindAll(kind, device, device);
  std::vector<StoredExternalRecord> out;
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    StoredExternalRecord s;
    s.source = q.Text(0);
    ExternalRecord& r = s.record;
    r.row = q.Int(1);
    r.device = q.Text(2);
    r.kind = q.Text(3);
    r.name = q.Text(4);
    r.family = q.Text(5);
    r.flops = Column(q, 6);
    r.time_s = Column(q, 7);
    r.energy_j = Column(q, 8);
    const std::string where = s.source + " row " + std::to_string(r.row);
    WF_RETURN_IF_ERROR(FromJson(q.Text(9), where + " features", &r));
    WF_ASSIGN_OR_RETURN(r.operations, OperationsFromJson(q.Text(10), where + " operations"));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace wattfleet
