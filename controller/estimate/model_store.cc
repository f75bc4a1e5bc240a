// Stored models and fit-or-restore. The rows are the models table's (store/model_table.h, of
// either backend), which opens its own connection: fit and predict otherwise read the dataset
// read-only.
#include "wattfleet/estimate/model_store.h"

#include <algorithm>
#include <cmath>

#include <string>

#include "wattfleet/common/sha256.h"
#include "wattfleet/common/enum_names.h"
#include "wattfleet/store/model_table.h"
#include "wattfleet/common/clock.h"

namespace wattfleet {

struct ModelStore::Impl {
  std::unique_ptr<ModelTable> table;
};

namespace {

std::string Fingerprint(const TrainingSet& set, const std::vector<int64_t>& ids) {
  // The counts are part of it: a reader that turns the same measurements into other samples
  // gives another training set.
  std::string text = "wattfleet-training/1 " + set.device_class + " " + set.mode + " layers=" +
                     std::to_string(set.layers.size()) +
                     " models=" + std::to_string(set.models.size()) +
                     (set.include_flagged ? " flagged=included" : "") + " ids=";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(ids[i]);
  }
  return Sha256Hex(text);
}

}  // namespace

void FillCounts(const TrainingSet& set, TrainingSetInfo* info) {
  info->layer_samples = static_cast<int64_t>(set.layers.size());
  info->model_samples = static_cast<int64_t>(set.models.size());
  auto imported = [](const auto& s) { return s.campaign.rfind("import:", 0) == 0; };
  info->imported_samples =
      std::count_if(set.layers.begin(), set.layers.end(), imported) +
      std::count_if(set.models.begin(), set.models.end(), imported);
  // Imported rows are measurements too: another lab's, not this dataset's jobs.
  info->measurements = static_cast<int64_t>(set.measurement_ids.size()) + info->imported_samples;
  info->include_flagged = set.include_flagged;
}

namespace {

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
  t.imported_samples = j.value("imported_samples", int64_t{0});
  t.include_flagged = j.value("include_flagged", false);
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
  set.include_flagged = data.include_flagged;
  if (auto ids = data.measurement_ids.find({device_class, mode});
      ids != data.measurement_ids.end()) {
    set.measurement_ids = ids->second;
  }
  return set;
}

nlohmann::json TrainingSetInfo::ToJson() const {
  return {{"layer_samples", layer_samples},
          {"model_samples", model_samples},
          {"measurements", measurements},
          {"first_measurement_id", first_measurement_id},
          {"last_measurement_id", last_measurement_id},
          {"fingerprint", fingerprint},
          {"imported_samples", imported_samples},
          {"include_flagged", include_flagged}};
}

ModelStore::ModelStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModelStore::~ModelStore() = default;

Result<std::unique_ptr<ModelStore>> ModelStore::Open(const std::string& db) {
  auto impl = std::make_unique<Impl>();
  WF_ASSIGN_OR_RETURN(impl->table, OpenModelTable(db, /*read_only=*/false));
  return std::unique_ptr<ModelStore>(new ModelStore(std::move(impl)));
}

Result<std::unique_ptr<ModelStore>> ModelStore::OpenReadOnly(const std::string& db) {
  auto impl = std::make_unique<Impl>();
  WF_ASSIGN_OR_RETURN(impl->table, OpenModelTable(db, /*read_only=*/true));
  return std::unique_ptr<ModelStore>(new ModelStore(std::move(impl)));
}

bool ModelStore::writable() const { return impl_->table->writable(); }
const std::string& ModelStore::read_only_reason() const {
  return impl_->table->read_only_reason();
}

Result<TrainingSetInfo> ModelStore::Describe(const TrainingSet& set) {
  // The measurements LoadTrainingData turned into this set's samples.
  const std::vector<int64_t>& ids = set.measurement_ids;
  TrainingSetInfo info;
  info.layer_samples = static_cast<int64_t>(set.layers.size());
  info.model_samples = static_cast<int64_t>(set.models.size());
  info.measurements = static_cast<int64_t>(ids.size());
  if (!ids.empty()) {
    info.first_measurement_id = ids.front();
    info.last_measurement_id = ids.back();
  }
  info.fingerprint = Fingerprint(set, ids);
  FillCounts(set, &info);
  return info;
}

Result<std::optional<StoredModel>> ModelStore::Latest(const std::string& estimator,
                                                      const std::string& device_class,
                                                      const std::string& mode, Target target,
                                                      const std::string& fingerprint) {
  const ModelKey key{estimator, device_class, mode, std::string(TargetName(target)),
                     fingerprint, kModelFormatVersion};
  WF_ASSIGN_OR_RETURN(const std::optional<ModelRow> row, impl_->table->Latest(key));
  if (!row) return std::optional<StoredModel>();
  StoredModel m;
  m.id = row->id;
  m.estimator = estimator;
  m.device_class = device_class;
  m.mode = mode;
  m.target = target;
  m.wattfleet_version = row->wattfleet_version;
  m.training = TrainingFromJson(nlohmann::json::parse(row->training_json, nullptr, false));
  m.state = nlohmann::json::parse(row->state_json, nullptr, false);
  m.created_ms = row->created_ms;
  if (m.state.is_discarded()) {
    return Status::Corruption("models row " + std::to_string(m.id) + ": state_json is not JSON");
  }
  return std::optional<StoredModel>(std::move(m));
}

Result<int64_t> ModelStore::Save(StoredModel m) {
  if (!writable()) return Status::IOError("models table not written: " + read_only_reason());
  if (m.wattfleet_version.empty()) m.wattfleet_version = WATTFLEET_VERSION;
  m.created_ms = SystemClock().UnixMillis();
  ModelRow row;
  row.key = ModelKey{m.estimator, m.device_class, m.mode, std::string(TargetName(m.target)),
                     m.training.fingerprint, m.format_version};
  row.wattfleet_version = m.wattfleet_version;
  row.created_ms = m.created_ms;
  try {
    row.training_json = m.training.ToJson().dump();
    row.state_json = m.state.dump();
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(m.estimator + ": state not storable: " + e.what());
  }
  return impl_->table->Insert(row);
}

constexpr EnumNames<ModelSource, 3> kModelSources{{{ModelSource::kRestored, "restored"},
                                                    {ModelSource::kStored, "stored"},
                                                    {ModelSource::kFitted, "fitted"}}};

std::string_view ModelSourceName(ModelSource s) { return NameIn(kModelSources, s); }

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
  if (auto level = it->find("level"); level != it->end() && level->is_number()) {
    const double v = level->get<double>();
    if (v > 0 && v < 1) out.level = v;
  }
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
  estimator->UseLayerFeatures(&set.layer_features);
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
                           {"coverage", out->interval.coverage},
                           {"level", out->interval.level}};
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
