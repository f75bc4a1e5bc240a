// The models table and fit-or-restore. The store opens its own connection: it is used by
// offline commands (fit, predict) that otherwise read the dataset read-only.
#include "model_store.h"

#include <cmath>

#include <unistd.h>

#include <string>

#include "sha256.h"
#include "sqlite_store.h"
#include "wattfleet/common/clock.h"

namespace wattfleet {

using sqlite::DbPtr;
using sqlite::Stmt;
using sqlite::Transaction;

struct ModelStore::Impl {
  explicit Impl(DbPtr d) : db(std::move(d)) {}
  DbPtr db;
  bool writable = false;
  bool has_models_table = false;
  std::string read_only_reason;
};

namespace {

Result<DbPtr> OpenConnection(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);  // allocated even when the open fails
  if (rc != SQLITE_OK) return sqlite::Error(db.get(), rc, "open " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  // A running controller may hold the write lock for a moment.
  sqlite3_busy_timeout(db.get(), 5000);
  WF_RETURN_IF_ERROR(sqlite::CheckOwnership(db.get(), path, /*empty_ok=*/false));
  return db;
}

Result<bool> HasTable(sqlite3* db, const char* name) {
  WF_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, "SELECT COUNT(*) FROM sqlite_master WHERE "
                                                "type = 'table' AND name = ?"));
  q.Bind(1, std::string_view(name));
  WF_ASSIGN_OR_RETURN(bool row, q.Step());
  return row && q.Int(0) > 0;
}

Result<std::unique_ptr<ModelStore::Impl>> OpenReadOnlyImpl(const std::string& path,
                                                           std::string reason) {
  WF_ASSIGN_OR_RETURN(DbPtr db, OpenConnection(path, SQLITE_OPEN_READONLY));
  WF_ASSIGN_OR_RETURN(const int version, sqlite::SchemaVersion(db.get()));
  if (version > sqlite::kSchemaVersion) {
    // Its models table may not be laid out as this build expects.
    return Status::InvalidArgument("dataset schema version " + std::to_string(version) +
                                   " is newer than this build of wattfleet supports (version " +
                                   std::to_string(sqlite::kSchemaVersion) + ")");
  }
  auto impl = std::make_unique<ModelStore::Impl>(std::move(db));
  WF_ASSIGN_OR_RETURN(impl->has_models_table, HasTable(impl->db.get(), "models"));
  impl->read_only_reason = std::move(reason);
  return impl;
}

// Read-write where SQLite can write the file (and its journal next to it); nullopt with the
// reason where it cannot, so that the caller opens it read-only instead.
Result<std::unique_ptr<ModelStore::Impl>> OpenWritableImpl(const std::string& path,
                                                           std::string* why_not) {
  auto db = OpenConnection(path, SQLITE_OPEN_READWRITE);
  if (!db.ok()) {
    *why_not = db.status().message();
    return std::unique_ptr<ModelStore::Impl>();
  }
  // SQLite silently opens a write-protected file read-only.
  if (sqlite3_db_readonly(db->get(), "main") == 1) {
    *why_not = "the dataset file is read-only";
    return std::unique_ptr<ModelStore::Impl>();
  }
  if (Status s = sqlite::Migrate(db->get()); !s.ok()) {
    if (s.code() != StatusCode::kIOError) return s;  // a newer schema, a corrupt file
    *why_not = s.message();  // e.g. a directory where the journal cannot be created
    return std::unique_ptr<ModelStore::Impl>();
  }
  auto impl = std::make_unique<ModelStore::Impl>(std::move(db).value());
  impl->writable = true;
  impl->has_models_table = true;
  return impl;
}

std::string Fingerprint(const TrainingSet& set, const std::vector<int64_t>& ids) {
  // The counts are part of it: a reader that turns the same measurements into other samples
  // gives another training set.
  std::string text = "wattfleet-training/1 " + set.device_class + " " + set.mode + " layers=" +
                     std::to_string(set.layers.size()) +
                     " models=" + std::to_string(set.models.size()) + " ids=";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(ids[i]);
  }
  return Sha256Hex(text);
}

void AddNote(ObtainedEstimator* e, const std::string& note) {
  e->note += (e->note.empty() ? "" : "; ") + note;
}

TrainingSetInfo TrainingFromJson(const nlohmann::json& j) {
  TrainingSetInfo t;
  if (!j.is_object()) return t;
  t.layer_samples = j.value("layer_samples", int64_t{0});
  t.model_samples = j.value("model_samples", int64_t{0});
  t.measurements = j.value("measurements", int64_t{0});
  t.first_measurement_id = j.value("first_measurement_id", int64_t{0});
  t.last_measurement_id = j.value("last_measurement_id", int64_t{0});
  t.fingerprint = j.value("fingerprint", std::string());
  return t;
}

}  // namespace

TrainingSet SelectTrainingSet(const TrainingData& data, const std::string& device_class,
                              const std::string& mode) {
  TrainingSet set;
  set.device_class = device_class;
  set.mode = mode;
  for (const LayerSample& s : data.layers) {
    if (s.device_class == device_class && s.mode == mode) set.layers.push_back(s);
  }
  for (const ModelSample& s : data.models) {
    if (s.device_class == device_class && s.mode == mode) set.models.push_back(s);
  }
  set.layer_features = data.layer_features;
  return set;
}

nlohmann::json TrainingSetInfo::ToJson() const {
  return {{"layer_samples", layer_samples},
          {"model_samples", model_samples},
          {"measurements", measurements},
          {"first_measurement_id", first_measurement_id},
          {"last_measurement_id", last_measurement_id},
          {"fingerprint", fingerprint}};
}

ModelStore::ModelStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModelStore::~ModelStore() = default;

Result<std::unique_ptr<ModelStore>> ModelStore::Open(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return Status::InvalidArgument(path + ": no such dataset");
  }
  std::string why_not;
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, OpenWritableImpl(path, &why_not));
  if (impl == nullptr) {
    WF_ASSIGN_OR_RETURN(impl, OpenReadOnlyImpl(path, why_not));
  }
  return std::unique_ptr<ModelStore>(new ModelStore(std::move(impl)));
}

Result<std::unique_ptr<ModelStore>> ModelStore::OpenReadOnly(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return Status::InvalidArgument(path + ": no such dataset");
  }
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, OpenReadOnlyImpl(path, "opened read-only"));
  return std::unique_ptr<ModelStore>(new ModelStore(std::move(impl)));
}

bool ModelStore::writable() const { return impl_->writable; }
const std::string& ModelStore::read_only_reason() const { return impl_->read_only_reason; }

Result<TrainingSetInfo> ModelStore::Describe(const TrainingSet& set) {
  // The measurements LoadTrainingData turns into this set's samples: layer jobs whose layer
  // row exists, and every other kind of job.
  WF_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(impl_->db.get(),
                            "SELECT m.id FROM measurements m JOIN jobs j ON j.id = m.job_id "
                            "WHERE j.device_class = ? AND j.mode = ? AND (j.kind <> 'layer' OR "
                            "EXISTS (SELECT 1 FROM layers l WHERE l.key = j.subject)) "
                            "ORDER BY m.id"));
  q.BindAll(set.device_class, set.mode);
  std::vector<int64_t> ids;
  for (;;) {
    WF_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ids.push_back(q.Int(0));
  }
  TrainingSetInfo info;
  info.layer_samples = static_cast<int64_t>(set.layers.size());
  info.model_samples = static_cast<int64_t>(set.models.size());
  info.measurements = static_cast<int64_t>(ids.size());
  if (!ids.empty()) {
    info.first_measurement_id = ids.front();
    info.last_measurement_id = ids.back();
  }
  info.fingerprint = Fingerprint(set, ids);
  return info;
}

Result<std::optional<StoredModel>> ModelStore::Latest(const std::string& estimator,
                                                      const std::string& device_class,
                                                      const std::string& mode, Target target,
                                                      const std::string& fingerprint) {
  if (!impl_->has_models_table) return std::optional<StoredModel>();
  WF_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(impl_->db.get(),
                            "SELECT id, wattfleet_version, training_json, state_json, "
                            "created_ms FROM models WHERE estimator = ? AND device_class = ? "
                            "AND mode = ? AND target = ? AND fingerprint = ? AND "
                            "format_version = ? ORDER BY id DESC LIMIT 1"));
  q.BindAll(estimator, device_class, mode, TargetName(target), fingerprint,
            kModelFormatVersion);
  WF_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<StoredModel>();
  StoredModel m;
  m.id = q.Int(0);
  m.estimator = estimator;
  m.device_class = device_class;
  m.mode = mode;
  m.target = target;
  m.wattfleet_version = q.Text(1);
  m.training = TrainingFromJson(nlohmann::json::parse(q.Text(2), nullptr, false));
  m.state = nlohmann::json::parse(q.Text(3), nullptr, false);
  m.created_ms = q.Int(4);
  if (m.state.is_discarded()) {
    return Status::Corruption("models row " + std::to_string(m.id) + ": state_json is not JSON");
  }
  return std::optional<StoredModel>(std::move(m));
}

Result<int64_t> ModelStore::Save(StoredModel m) {
  if (!impl_->writable) {
    return Status::IOError("models table not written: " + impl_->read_only_reason);
  }
  if (m.wattfleet_version.empty()) m.wattfleet_version = WATTFLEET_VERSION;
  m.created_ms = SystemClock().UnixMillis();
  std::string training, state;
  try {
    training = m.training.ToJson().dump();
    state = m.state.dump();
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(m.estimator + ": state not storable: " + e.what());
  }
  sqlite3* db = impl_->db.get();
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db));
  WF_ASSIGN_OR_RETURN(Stmt ins,
                      Stmt::Prepare(db, "INSERT INTO models(estimator, device_class, mode, "
                                        "target, format_version, wattfleet_version, "
                                        "fingerprint, training_json, state_json, created_ms) "
                                        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  ins.BindAll(m.estimator, m.device_class, m.mode, TargetName(m.target), m.format_version,
              m.wattfleet_version, m.training.fingerprint, training, state, m.created_ms);
  WF_RETURN_IF_ERROR(ins.Run());
  const int64_t id = sqlite3_last_insert_rowid(db);
  WF_RETURN_IF_ERROR(tx.Commit());
  return id;
}

std::string_view ModelSourceName(ModelSource s) {
  switch (s) {
    case ModelSource::kRestored: return "restored";
    case ModelSource::kStored: return "stored";
    case ModelSource::kFitted: return "fitted";
  }
  return "";
}

namespace {

Interval IntervalFromJson(const nlohmann::json& state) {
  Interval out;
  auto it = state.find("interval");
  if (it == state.end() || !it->is_object()) return out;
  const auto q = it->find("log_q"), n = it->find("n"), c = it->find("coverage");
  // A stored interval that is not what this build writes is no interval (never a crash).
  if (q == it->end() || !q->is_number() || n == it->end() || !n->is_number_integer()) return out;
  const double log_q = q->get<double>();
  if (!(log_q >= 0) || !std::isfinite(log_q)) return out;
  out.log_q = log_q;
  out.n = n->get<int>();
  if (c != it->end() && c->is_number()) out.coverage = c->get<double>();
  return out;
}

// The estimator's interval from a grouped 5-fold over the set's architectures.
Interval CrossValidatedInterval(const TrainingSet& set, const std::string& name, Target target) {
  TrainingData data;
  data.layers = set.layers;
  data.models = set.models;
  data.layer_features = set.layer_features;
  const std::vector<EvalResult> r = Evaluate(data, {name}, target, Split::kGroupedKFold);
  return r.empty() ? Interval{} : r.front().interval;
}

}  // namespace

Result<ObtainedEstimator> ObtainEstimator(ModelStore* store, const TrainingSet& set,
                                          const TrainingSetInfo& info, const std::string& name,
                                          Target target, const ObtainOptions& options) {
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Estimator> estimator, MakeEstimator(name));
  std::string note;
  if (store != nullptr && options.restore) {
    auto latest = store->Latest(name, set.device_class, set.mode, target, info.fingerprint);
    if (!latest.ok()) {
      note = "stored model not read (" + latest.status().message() + "); fitted again";
    } else if (latest->has_value()) {
      const StoredModel& stored = **latest;
      Status s = estimator->FromJson(stored.state);
      if (s.ok()) {
        ObtainedEstimator out{std::move(estimator), ModelSource::kRestored, stored.id, "", {}};
        out.interval = IntervalFromJson(stored.state);
        return out;
      }
      note = "stored model " + std::to_string(stored.id) + " not restored (" + s.message() +
             "); fitted again";
      // A failed FromJson may leave the estimator half-restored.
      WF_ASSIGN_OR_RETURN(estimator, MakeEstimator(name));
    }
  }
  WF_RETURN_IF_ERROR(estimator->Fit(set.layers, set.models, target));
  ObtainedEstimator out{std::move(estimator), ModelSource::kFitted, 0, note, {}};
  out.interval = options.interval ? *options.interval : CrossValidatedInterval(set, name, target);
  if (options.store) StoreFitted(store, set, info, name, target, &out);
  return out;
}

void StoreFitted(ModelStore* store, const TrainingSet& set, const TrainingSetInfo& info,
                 const std::string& name, Target target, ObtainedEstimator* out) {
  if (store == nullptr || out->source != ModelSource::kFitted) return;
  if (!store->writable()) {
    AddNote(out, "not stored: " + store->read_only_reason());
    return;
  }
  StoredModel m;
  m.estimator = name;
  m.device_class = set.device_class;
  m.mode = set.mode;
  m.target = target;
  m.training = info;
  m.state = out->estimator->ToJson();
  if (out->interval.ok()) {
    m.state["interval"] = {{"log_q", out->interval.log_q},
                           {"n", out->interval.n},
                           {"coverage", out->interval.coverage}};
  }
  // Fitting the same training set again gives the same state: one row is enough.
  auto latest = store->Latest(name, set.device_class, set.mode, target, info.fingerprint);
  if (latest.ok() && latest->has_value() && (*latest)->state == m.state) {
    out->model_id = (*latest)->id;
    AddNote(out, "identical to stored model " + std::to_string(out->model_id));
    return;
  }
  auto id = store->Save(std::move(m));
  if (!id.ok()) {
    AddNote(out, "not stored: " + id.status().message());
    return;
  }
  out->source = ModelSource::kStored;
  out->model_id = *id;
}

}  // namespace wattfleet
