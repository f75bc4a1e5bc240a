// Fitted estimators in the dataset: the models table (store/model_table.h, docs/dataset.md), and
// the fit-or-restore step that `wattfleet fit` and `wattfleet predict` share.
//
// A stored model is identified by (estimator, device class, mode, target) and the fingerprint
// of the training set it was fitted on: a SHA-256 over the ids of the measurements that set is
// made of (and its sample counts). A reader restores the latest row whose fingerprint matches
// the training set it would fit on, so a model is never used for data it was not fitted on: a
// new measurement changes the fingerprint, and the estimator is fitted again.
//
// Thread safety: a ModelStore is used from one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/evaluation.h"
#include "wattfleet/estimate/training_data.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// The layout of the rows this build writes (the columns' meaning and the training
// description). Rows of another format version are ignored, never misread; an estimator whose
// ToJson layout changes is caught by its FromJson (Corruption), and fitted again.
inline constexpr int kModelFormatVersion = 8;

// The samples of one device class and mode: what an estimator is fitted on.
struct TrainingSet {
  std::string device_class;
  std::string mode;
  std::vector<LayerSample> layers;
  std::vector<ModelSample> models;  // whole models and probes
  std::map<std::string, LayerSample> layer_features;  // TrainingData::layer_features
  std::vector<int64_t> measurement_ids;  // TrainingData::measurement_ids of this class and mode
  bool include_flagged = false;           // flagged measurements were kept (TrainingData)
};
TrainingSet SelectTrainingSet(const TrainingData& data, const std::string& device_class,
                              const std::string& mode);

// What a training set was, as stored with a model (training_json).
struct TrainingSetInfo {
  int64_t layer_samples = 0;
  int64_t model_samples = 0;
  int64_t measurements = 0;
  int64_t first_measurement_id = 0;  // 0 when there is none
  int64_t last_measurement_id = 0;
  std::string fingerprint;  // 64 hex digits
  int64_t imported_samples = 0;  // samples from imported rows (counted in `measurements`)
  bool include_flagged = false;  // measurements with quality flags were trained on
  nlohmann::json ToJson() const;
};
// The counts of `set` (samples, imported ones, measurements, the flags switch) into `info`:
// what Describe reports, and what a caller without a store shows.
void FillCounts(const TrainingSet& set, TrainingSetInfo* info);

struct StoredModel {
  int64_t id = 0;  // assigned by Save
  std::string estimator;
  std::string device_class;
  std::string mode;
  Target target = Target::kEnergy;
  int format_version = kModelFormatVersion;
  std::string wattfleet_version;
  TrainingSetInfo training;
  nlohmann::json state;  // the estimator's ToJson()
  int64_t created_ms = 0;
};

class ModelStore {
 public:
  // Opens an existing dataset (an SQLite file or a postgresql:// URI; OpenModelTable). Where
  // it can be written, its schema is migrated to the current version (adding the models
  // table); otherwise (a read-only file or directory) it is opened read-only: models are read
  // where the dataset has a models table, and Save fails. InvalidArgument for a dataset
  // written by a newer wattfleet; IOError and Corruption as the backend reports them.
  static Result<std::unique_ptr<ModelStore>> Open(const std::string& db);
  // Read-only whatever the dataset's permissions.
  static Result<std::unique_ptr<ModelStore>> OpenReadOnly(const std::string& db);
  ~ModelStore();

  bool writable() const;
  // Why the store is read-only (empty when writable).
  const std::string& read_only_reason() const;

  // Counts and fingerprint of `set`: over the ids of every measurement of its device class and
  // mode that LoadTrainingData read (TrainingSet::measurement_ids).
  Result<TrainingSetInfo> Describe(const TrainingSet& set);

  // The latest model of (estimator, device class, mode, target) fitted on a training set with
  // this fingerprint, in this build's format; nullopt when there is none (or no models table).
  Result<std::optional<StoredModel>> Latest(const std::string& estimator,
                                            const std::string& device_class,
                                            const std::string& mode, Target target,
                                            const std::string& fingerprint);

  // Stores `model` (id and created_ms are assigned; an empty wattfleet_version becomes this
  // build's) in one transaction, and returns the row id. IOError when read-only.
  Result<int64_t> Save(StoredModel model);

  struct Impl;

 private:
  explicit ModelStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Where an estimator came from.
enum class ModelSource {
  kRestored,  // the latest stored model of this training set
  kStored,    // fitted now and stored
  kFitted,    // fitted now, not stored (no store, a read-only one, or an identical row exists)
};
std::string_view ModelSourceName(ModelSource s);  // "restored" | "stored" | "fitted"

struct ObtainedEstimator {
  std::unique_ptr<Estimator> estimator;
  ModelSource source = ModelSource::kFitted;
  int64_t model_id = 0;  // the row restored or stored (or an identical existing row); 0: none
  std::string note;      // why a fitted model was not stored, if it was not
  // Its split-conformal 90 % interval from a grouped k-fold of the same training set (stored
  // with the state as "interval"); not ok() when the set has too few architectures.
  Interval interval;
};

struct ObtainOptions {
  bool restore = true;  // false: always fit (`wattfleet fit`)
  bool store = true;    // false: leave storing to a later StoreFitted call
  // The interval of a fresh fit when the caller has already cross-validated it (`wattfleet
  // fit`); otherwise a grouped 5-fold of the training set computes it.
  std::optional<Interval> interval;
};

// The estimator `name` for `target` on `set`: restored from `store` when it holds a model of
// this training set (`info`), otherwise fitted, then (options.store) passed to StoreFitted.
// `store` may be null (nothing restored or stored). Fit failures come back as the estimator's
// Status (Unavailable with its reason); storage failures only as the note.
Result<ObtainedEstimator> ObtainEstimator(ModelStore* store, const TrainingSet& set,
                                          const TrainingSetInfo& info, const std::string& name,
                                          Target target, const ObtainOptions& options = {});

// Stores a freshly fitted `obtained` estimator (source kFitted) when `store` is writable and
// its latest row of this training set does not already hold the same state; updates source,
// model_id and note. Does nothing for a restored one or a null store.
void StoreFitted(ModelStore* store, const TrainingSet& set, const TrainingSetInfo& info,
                 const std::string& name, Target target, ObtainedEstimator* obtained);

}  // namespace wattfleet
