// One interface for every estimator (docs/design/estimators.md): fitted on one device class's
// measurements, it predicts the energy or the time per iteration of a whole architecture,
// with a standard deviation where the method has one.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/training_data.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

enum class Target { kEnergy, kTime };
std::string_view TargetName(Target t);  // "energy" | "time"
// The sample's value of the target: raw energy per iteration, or time per iteration.
double TargetOf(const LayerSample& s, Target t);
double TargetOf(const ModelSample& s, Target t);

struct Estimate {
  double value = 0;
  double std = -1;  // < 0: the method states no uncertainty
  // One value per entry of the model's layer_keys where the method attributes its estimate
  // to layers (calibration included, so they sum to `value`); empty where it cannot.
  std::vector<double> layers;
  // What the caller should know about this estimate: types priced without a model of their
  // own, sizes or batches outside what the fit has seen. Empty when there is nothing to say.
  std::vector<std::string> warnings;
  // The method's own interval at kOwnIntervalLevel around `value` where it has one without
  // whole models to calibrate it on (the layer-wise small-data interval,
  // docs/estimators.md); empty otherwise.
  std::optional<std::pair<double, double>> interval;
  // How far beyond the work it was fitted on the estimate reaches: the largest ratio of a
  // layer's (or, for model-level methods, the model's) work to the most work measured of its
  // kind. At most 1: within the data.
  double reach = 1.0;
};
inline constexpr double kOwnIntervalLevel = 0.9;

// `s` with its per-iteration features (MACs, FLOPs, input and output elements: per-sample
// figures times the batch) at `batch` instead of s.batch. Parameters do not scale.
LayerSample AtBatch(const LayerSample& s, int64_t batch);

// `m` at `batch`: its per-iteration features (MACs, FLOPs) scaled from m.batch.
ModelSample AtBatch(const ModelSample& m, int64_t batch);

// Features of every layer the dataset knows, by canonical key (measured or not: features
// come from the layer model, never from a measurement).
using LayerCatalog = std::map<std::string, LayerSample>;

class Estimator {
 public:
  virtual ~Estimator() = default;
  virtual std::string name() const = 0;
  // Fits on one device class's training samples. Unavailable when the samples cannot
  // support the method (too few, no whole models, ...), with the reason.
  virtual Status Fit(const std::vector<LayerSample>& layers,
                     const std::vector<ModelSample>& models, Target target) = 0;
  // The architecture `model` (its features and layer keys; its measured values are not
  // read). Layer-based estimators look its layers up in `catalog`.
  virtual Result<Estimate> Predict(const ModelSample& model, const LayerCatalog& catalog) const = 0;
  // Layer types the fitted estimator could not model (reported, never silently skipped).
  virtual std::vector<std::string> UnmodelledTypes() const { return {}; }
  // The fitted state as one JSON document (the store's models table), and back: an
  // estimator restored with FromJson predicts exactly as the fitted one did. Corruption for a
  // document this estimator did not write.
  virtual nlohmann::json ToJson() const = 0;
  virtual Status FromJson(const nlohmann::json& state) = 0;

  // The features of every layer the dataset knows (TrainingSet::layer_features), for methods
  // that price whole models whose layers were never measured alone (the layer-wise κ). Set
  // before Fit; not owned; null: none.
  void UseLayerFeatures(const LayerCatalog* features) { features_ = features; }

 protected:
  const LayerCatalog* layer_features() const { return features_; }

 private:
  const LayerCatalog* features_ = nullptr;
};

// `estimator`'s prediction for `model`, raised where needed so that it never falls as the
// batch grows: the largest of its predictions at model.batch and at smaller batches (every
// batch up to kMonotoneExact, then 2^k and 3·2^k: exact up to there, on that grid beyond).
// A method whose parts are not monotone (a regime change in the framework's kernels, a
// kernel regression) could otherwise predict that more samples cost less. The layers are
// scaled with the total, and a warning says so.
inline constexpr int64_t kMonotoneExact = 1024;
Result<Estimate> PredictMonotoneInBatch(const Estimator& estimator, const ModelSample& model,
                                        const LayerCatalog& catalog);

// An estimator of the measured kind in the catalog (wattfleet/campaign/estimator_catalog.h),
// built by its factory in estimator_registry.cc and held to the physical bounds; NotFound
// listing them otherwise. EstimatorNames() is that list, in the catalog's order.
Result<std::unique_ptr<Estimator>> MakeEstimator(const std::string& name);
std::vector<std::string> EstimatorNames();

// For FromJson implementations: OK when `state` is an object written by `estimator`.
Status CheckStateOf(const nlohmann::json& state, const std::string& estimator);

}  // namespace wattfleet
