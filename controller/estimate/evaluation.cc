// Grouped cross-validation of the estimators on whole architectures.
#include "wattfleet/estimate/evaluation.h"
#include "wattfleet/numeric/conformal.h"
#include "wattfleet/common/enum_names.h"

#include <algorithm>
#include <functional>
#include <future>
#include <thread>
#include <cmath>
#include <map>
#include <set>

namespace wattfleet {
namespace {

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

void Score(const std::vector<double>& truth, const std::vector<double>& pred, EvalResult* r) {
  std::vector<double> apes;
  double mean = 0;
  for (double t : truth) mean += t;
  mean /= static_cast<double>(truth.size());
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    apes.push_back(std::fabs(pred[i] - truth[i]) / truth[i]);
    ss_res += (pred[i] - truth[i]) * (pred[i] - truth[i]);
    ss_tot += (truth[i] - mean) * (truth[i] - mean);
  }
  r->n = static_cast<int>(truth.size());
  r->median_ape = Quantile(apes, 0.5);
  r->p90_ape = Quantile(apes, 0.9);
  double sum = 0;
  for (double a : apes) sum += a;
  r->mape = sum / static_cast<double>(apes.size());
  r->r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
}

// What one fold of one estimator gave.
struct FoldOutcome {
  std::vector<EvalPoint> points;
  std::vector<std::string> unmodelled;
  std::string error;  // the last failure of the fold, if any
};

// run(0) … run(k − 1) on up to as many threads as the machine has, in fold order; `done` is
// called on this thread once per fold as the results are collected.
std::vector<FoldOutcome> RunFolds(int k, const std::function<FoldOutcome(int)>& run,
                                  const std::function<void()>& done) {
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<FoldOutcome> out(static_cast<size_t>(std::max(k, 0)));
  for (int first = 0; first < k; first += threads) {
    std::vector<std::future<FoldOutcome>> running;
    for (int fold = first; fold < std::min(k, first + threads); ++fold) {
      running.push_back(std::async(std::launch::async, run, fold));
    }
    for (size_t i = 0; i < running.size(); ++i) {
      out[static_cast<size_t>(first) + i] = running[i].get();
      done();
    }
  }
  return out;
}

// The folds' outcomes into `r`, in fold order: its points, scores, intervals, the types
// without a model of their own, and the last failure.
void Merge(std::vector<FoldOutcome> folds, EvalResult* r);

// The layer samples of one device class and mode, and the catalog of every layer's features:
// those measured there, then every other layer the dataset knows (features only).
void LayersOf(const TrainingData& data, const std::string& device, const std::string& mode,
              std::vector<LayerSample>* layers, LayerCatalog* catalog) {
  for (const LayerSample& s : data.layers) {
    if (s.device_class != device || s.mode != mode) continue;
    layers->push_back(s);
    catalog->emplace(s.key, s);
  }
  for (const auto& [key, features] : data.layer_features) catalog->emplace(key, features);
}

EvalResult NewResult(const std::string& device, const std::string& mode,
                     const std::string& estimator, Target target, Split split) {
  EvalResult r;
  r.device = device;
  r.mode = mode;
  r.estimator = estimator;
  r.target = std::string(TargetName(target));
  r.split = std::string(SplitName(split));
  return r;
}

using Groups = std::map<std::pair<std::string, std::string>, std::vector<const ModelSample*>>;

// Whole-model measurements of `target` by device class and mode: one evaluation each, since a
// campaign's measurements share both.
Groups ModelGroups(const TrainingData& data, Target target) {
  Groups groups;
  for (const ModelSample& m : data.models) {
    if (m.kind == JobKind::kModel && TargetOf(m, target) > 0) groups[{m.device_class, m.mode}].push_back(&m);
  }
  return groups;
}

// The fold of each architecture: sorted names dealt round-robin, or one fold per family.
class Folds {
 public:
  Folds(const std::vector<const ModelSample*>& models, Split split, int folds) : split_(split) {
    std::set<std::string> families;
    for (const ModelSample* m : models) {
      names_.push_back(m->name);
      families.insert(m->family);
    }
    std::sort(names_.begin(), names_.end());
    names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
    families_.assign(families.begin(), families.end());
    k_ = split == Split::kGroupedKFold ? std::min<int>(folds, static_cast<int>(names_.size()))
                                       : static_cast<int>(families_.size());
  }
  int count() const { return k_; }
  int Of(const ModelSample& m) const {
    if (split_ == Split::kLeaveOneFamilyOut) {
      return static_cast<int>(std::find(families_.begin(), families_.end(), m.family) -
                              families_.begin());
    }
    return static_cast<int>(std::lower_bound(names_.begin(), names_.end(), m.name) -
                            names_.begin()) % k_;
  }

 private:
  Split split_;
  std::vector<std::string> names_;
  std::vector<std::string> families_;
  int k_ = 0;
};

}  // namespace

constexpr EnumNames<Split, 3> kSplits{{{Split::kGroupedKFold, "kfold"},
                                        {Split::kLeaveOneFamilyOut, "lofo"},
                                        {Split::kHeldOutCampaigns, "campaign"}}};

std::string_view SplitName(Split s) { return NameIn(kSplits, s); }

namespace {

// `name` fitted on `layers` and `models`, the layers it was not fitted on known by `catalog`
// (which must outlive it); the error is the factory's or the fit's.
Result<std::unique_ptr<Estimator>> Fitted(const std::string& name, const LayerCatalog& catalog,
                                          const std::vector<LayerSample>& layers,
                                          const std::vector<ModelSample>& models, Target target) {
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Estimator> estimator, MakeEstimator(name));
  estimator->UseLayerFeatures(&catalog);
  WF_RETURN_IF_ERROR(estimator->Fit(layers, models, target));
  return estimator;
}

double LogError(const EvalPoint& p) {
  if (!(p.measured > 0) || !(p.predicted > 0)) return INFINITY;
  return std::fabs(std::log(p.predicted / p.measured));
}

}  // namespace

Interval ConformalInterval(const std::vector<EvalPoint>& points) {
  Interval out;
  std::vector<double> r;
  for (const EvalPoint& p : points) r.push_back(LogError(p));
  out.n = static_cast<int>(r.size());
  // Fewer than 9 points cannot support a 90 % interval: the largest error is too few.
  out.log_q = ConformalQuantile(r, kIntervalLevel);
  if (!std::isfinite(out.log_q) && out.n >= 2) {
    // Too few points for 90 %: the largest error, at the level n points can state.
    out.log_q = *std::max_element(r.begin(), r.end());
    out.level = static_cast<double>(out.n) / static_cast<double>(out.n + 1);
    return out;  // no cross-fitted coverage below 9 points
  }
  // Cross-fitted coverage: each fold's points against the interval of the other folds.
  std::set<int> folds;
  for (const EvalPoint& p : points) folds.insert(p.fold);
  if (folds.size() >= 2) {
    int inside = 0, total = 0;
    for (int f : folds) {
      std::vector<double> others;
      for (const EvalPoint& p : points) {
        if (p.fold != f) others.push_back(LogError(p));
      }
      const double q = ConformalQuantile(others, kIntervalLevel);
      for (const EvalPoint& p : points) {
        if (p.fold != f) continue;
        ++total;
        if (LogError(p) <= q) ++inside;
      }
    }
    if (total > 0) out.coverage = static_cast<double>(inside) / total;
  }
  return out;
}

double Coverage(const Interval& interval, const std::vector<EvalPoint>& points) {
  if (!interval.ok() || points.empty()) return -1;
  int inside = 0;
  for (const EvalPoint& p : points) {
    if (LogError(p) <= interval.log_q) ++inside;
  }
  return static_cast<double>(inside) / static_cast<double>(points.size());
}

OwnCoverageFigure OwnCoverage(const std::vector<EvalPoint>& points) {
  OwnCoverageFigure out;
  int inside = 0;
  for (const EvalPoint& p : points) {
    if (!p.own) continue;
    ++out.n;
    if (p.measured >= p.own->first && p.measured <= p.own->second) ++inside;
  }
  if (out.n > 0) out.fraction = static_cast<double>(inside) / static_cast<double>(out.n);
  return out;
}

namespace {

void Merge(std::vector<FoldOutcome> folds, EvalResult* r) {
  std::vector<double> truth, pred;
  std::set<std::string> unmodelled;
  for (FoldOutcome& f : folds) {
    if (!f.error.empty()) r->error = f.error;
    for (const EvalPoint& p : f.points) {
      truth.push_back(p.measured);
      pred.push_back(p.predicted);
      r->points.push_back(p);
    }
    unmodelled.insert(f.unmodelled.begin(), f.unmodelled.end());
  }
  if (!truth.empty()) Score(truth, pred, r);
  r->interval = ConformalInterval(r->points);
  r->own_coverage = OwnCoverage(r->points);
  r->unmodelled.assign(unmodelled.begin(), unmodelled.end());
}

}  // namespace

int64_t EvaluationFolds(const TrainingData& data, size_t estimators, Target target, Split split,
                        int folds) {
  int64_t n = 0;
  for (const auto& [where, models] : ModelGroups(data, target)) {
    const int k = Folds(models, split, folds).count();
    if (k >= 2) n += static_cast<int64_t>(estimators) * k;
  }
  return n;
}

std::vector<EvalResult> Evaluate(const TrainingData& data,
                                 const std::vector<std::string>& estimators, Target target,
                                 Split split, int folds, const FoldDone& fold_done) {
  const Groups groups = ModelGroups(data, target);
  Groups probes;
  for (const ModelSample& m : data.models) {
    if (m.kind == JobKind::kProbe) probes[{m.device_class, m.mode}].push_back(&m);
  }
  std::vector<EvalResult> results;
  for (const auto& [where, models] : groups) {
    const auto& [device, mode] = where;
    std::vector<LayerSample> device_layers;
    LayerCatalog catalog;
    LayersOf(data, device, mode, &device_layers, &catalog);
    // Looked up once: the folds run on several threads and must not insert into `probes`.
    const std::vector<const ModelSample*>& place_probes = probes[where];
    const Folds fold_list(models, split, folds);
    const int k = fold_list.count();
    auto fold_of = [&](const ModelSample& m) { return fold_list.Of(m); };

    for (const std::string& name : estimators) {
      EvalResult r = NewResult(device, mode, name, target, split);
      if (k < 2) r.error = "fewer than two groups of architectures to hold out";
      // One fold: fit without it, predict its architectures. Folds share only read-only data,
      // so they run in parallel, and are merged in fold order (the result does not depend on
      // the number of threads).
      auto run_fold = [&](int fold) {
        FoldOutcome out;
        std::vector<ModelSample> train_models;
        std::set<std::string> train_keys, held_keys;
        for (const ModelSample* m : models) {
          auto& keys = fold_of(*m) == fold ? held_keys : train_keys;
          keys.insert(m->layer_keys.begin(), m->layer_keys.end());
          if (fold_of(*m) != fold) train_models.push_back(*m);
        }
        // Probes train THOR in every fold, except a probe that is a held-out architecture
        // under another name (an MLP of one hidden layer is exactly an input probe):
        // scoring an architecture on its own measurement is not a prediction.
        for (const ModelSample* p : place_probes) {
          const bool is_held_out = std::any_of(models.begin(), models.end(), [&](const ModelSample* m) {
            return fold_of(*m) == fold && p->probe_role != "output" &&
                   !m->thor_kind.empty() && m->thor_kind == p->thor_kind &&
                   m->thor_widths == p->thor_widths && m->batch == p->batch;
          });
          if (!is_held_out) train_models.push_back(*p);
        }
        std::vector<LayerSample> train_layers;
        for (const LayerSample& s : device_layers) {
          if (train_keys.count(s.key) || !held_keys.count(s.key)) train_layers.push_back(s);
        }
        auto estimator = Fitted(name, data.layer_features, train_layers, train_models, target);
        if (!estimator.ok()) {
          out.error = estimator.status().message();
          return out;
        }
        for (const ModelSample* m : models) {
          if (fold_of(*m) != fold) continue;
          auto p = PredictMonotoneInBatch(**estimator, *m, catalog);
          if (!p.ok()) {
            out.error = p.status().message();
            // A refused prediction (non-finite) is a miss, scored as predicting nothing: it
            // widens the interval. One the method cannot make (Unavailable) is not scored.
            if (p.status().code() == StatusCode::kInternal) {
              out.points.push_back({m->name, TargetOf(*m, target), 0.0, fold, m->batch, {}});
            }
            continue;
          }
          out.points.push_back({m->name, TargetOf(*m, target), p->value, fold, m->batch, {}});
          if (p->interval) out.points.back().own = *p->interval;
        }
        out.unmodelled = (*estimator)->UnmodelledTypes();
        return out;
      };
      Merge(RunFolds(k >= 2 ? k : 0, run_fold, [&] {
              if (fold_done) fold_done(name);
            }),
            &r);
      results.push_back(std::move(r));
    }
  }
  return results;
}

std::vector<EvalResult> EvaluateHeldOut(const TrainingData& train, const TrainingData& test,
                                        const std::vector<std::string>& estimators,
                                        Target target,
                                        const std::map<std::string, Interval>& intervals,
                                        const FoldDone& fold_done) {
  std::vector<EvalResult> results;
  for (const auto& [where, models] : ModelGroups(test, target)) {
    const auto& [device, mode] = where;
    std::vector<LayerSample> layers;
    std::vector<ModelSample> train_models;
    LayerCatalog catalog;
    LayersOf(train, device, mode, &layers, &catalog);
    for (const ModelSample& m : train.models) {
      if (m.device_class == device && m.mode == mode) train_models.push_back(m);
    }
    // Layers of held-out architectures the training set never measured: features only.
    for (const auto& [key, features] : test.layer_features) catalog.emplace(key, features);
    for (const std::string& name : estimators) {
      EvalResult r = NewResult(device, mode, name, target, Split::kHeldOutCampaigns);
      std::vector<double> truth, pred;
      auto estimator = Fitted(name, catalog, layers, train_models, target);
      if (!estimator.ok()) {
        r.error = estimator.status().message();
      } else {
        for (const ModelSample* m : models) {
          auto p = PredictMonotoneInBatch(**estimator, *m, catalog);
          if (!p.ok()) {
            r.error = p.status().message();
            if (p.status().code() == StatusCode::kInternal) {  // refused: a miss, as above
              truth.push_back(TargetOf(*m, target));
              pred.push_back(0.0);
              r.points.push_back({m->name, truth.back(), 0.0, 0, m->batch, {}});
            }
            continue;
          }
          truth.push_back(TargetOf(*m, target));
          pred.push_back(p->value);
          r.points.push_back({m->name, truth.back(), pred.back(), 0, m->batch, {}});
          if (p->interval) r.points.back().own = *p->interval;
        }
        const std::vector<std::string> types = (*estimator)->UnmodelledTypes();
        r.unmodelled.assign(types.begin(), types.end());
      }
      if (fold_done) fold_done(name);
      if (!truth.empty()) Score(truth, pred, &r);
      r.own_coverage = OwnCoverage(r.points);
      if (auto it = intervals.find(name); it != intervals.end()) {
        r.interval = it->second;
        r.interval.coverage = Coverage(it->second, r.points);
      }
      results.push_back(std::move(r));
    }
  }
  return results;
}

int64_t LayerEvaluationFolds(const TrainingData& data, size_t estimators, Target target,
                             int folds) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> keys;
  for (const LayerSample& s : data.layers) {
    if (TargetOf(s, target) > 0) keys[{s.device_class, s.mode}].insert(s.key);
  }
  int64_t n = 0;
  for (const auto& [where, distinct] : keys) {
    const int k = std::min<int>(folds, static_cast<int>(distinct.size()));
    if (k >= 2) n += static_cast<int64_t>(estimators) * k;
  }
  return n;
}

std::vector<EvalResult> EvaluateLayers(const TrainingData& data,
                                       const std::vector<std::string>& estimators,
                                       Target target, int folds,
                                       const FoldDone& fold_done) {
  std::vector<EvalResult> results;
  std::set<std::pair<std::string, std::string>> places;
  for (const LayerSample& s : data.layers) {
    if (TargetOf(s, target) > 0) places.insert({s.device_class, s.mode});
  }
  for (const auto& [device, mode] : places) {
    std::vector<LayerSample> layers;
    LayerCatalog catalog;
    LayersOf(data, device, mode, &layers, &catalog);
    // Only layers with this target are evidence (LayerEvaluationFolds counts the same).
    layers.erase(std::remove_if(layers.begin(), layers.end(),
                                [&](const LayerSample& s) { return !(TargetOf(s, target) > 0); }),
                 layers.end());
    std::vector<ModelSample> models;
    for (const ModelSample& m : data.models) {
      if (m.device_class == device && m.mode == mode) models.push_back(m);
    }
    // Folds over distinct layers (sorted keys dealt round-robin): repeats of a layer, and the
    // layer at other batches, are held out together.
    std::vector<std::string> keys;
    for (const LayerSample& s : layers) keys.push_back(s.key);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    const int k = std::min<int>(folds, static_cast<int>(keys.size()));
    auto fold_of = [&](const std::string& key) {
      return static_cast<int>(std::lower_bound(keys.begin(), keys.end(), key) - keys.begin()) % k;
    };
    for (const std::string& name : estimators) {
      EvalResult r = NewResult(device, mode, name, target, Split::kGroupedKFold);
      r.level = "layer";
      if (k < 2) {
        r.error = "fewer than 2 distinct measured layers";
        results.push_back(std::move(r));
        continue;
      }
      auto run_fold = [&](int fold) {
        FoldOutcome out;
        std::vector<LayerSample> train;
        for (const LayerSample& s : layers) {
          if (fold_of(s.key) != fold) train.push_back(s);
        }
        auto estimator = Fitted(name, data.layer_features, train, models, target);
        if (!estimator.ok()) {
          out.error = estimator.status().message();
          return out;
        }
        for (const LayerSample& s : layers) {
          if (fold_of(s.key) != fold || !(TargetOf(s, target) > 0)) continue;
          // A held-out layer as a model of one layer: κ and the bounds apply as they would
          // to the layer inside a model.
          ModelSample one;
          one.device_class = device;
          one.mode = mode;
          one.name = s.key;
          one.family = s.type;
          one.batch = s.batch;
          one.macs = s.macs;
          one.flops = s.flops;
          one.params = s.params;
          one.layer_keys = {s.key};
          auto p = (*estimator)->Predict(one, catalog);
          if (!p.ok()) {
            out.error = p.status().message();
            continue;
          }
          out.points.push_back({s.key, TargetOf(s, target), p->value, fold, s.batch, {}});
          if (p->interval) out.points.back().own = *p->interval;
        }
        out.unmodelled = (*estimator)->UnmodelledTypes();
        return out;
      };
      Merge(RunFolds(k, run_fold, [&] {
              if (fold_done) fold_done(name);
            }),
            &r);
      results.push_back(std::move(r));
    }
  }
  return results;
}

}  // namespace wattfleet
