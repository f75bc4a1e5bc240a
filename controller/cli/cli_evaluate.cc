// `wattfleet fit` over the dataset's measurements: a table, or JSON with the fields docs/design/cli.md
// promises (results[] with device, estimator, level, median_ape, mape, p90_ape, r2, n).
#include "cli_evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <cstdio>
#include <functional>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/evaluation.h"
#include "wattfleet/estimate/model_store.h"
#include "progress.h"

namespace wattfleet {

namespace {

// Every estimator fitted on all of each device class's measurements (per mode and target) and
// kept in the models table, where `wattfleet predict` restores it while the measurements stay
// the same. Nothing is fitted for a dataset that cannot be written; `note` says why.
std::string IntervalKey(std::string_view device, std::string_view mode, std::string_view target) {
  return std::string(device) + "\n" + std::string(mode) + "\n" + std::string(target);
}

// The device classes and modes that FitAndStore fits estimators for.
std::set<std::pair<std::string, std::string>> FitPlaces(const TrainingData& data) {
  std::set<std::pair<std::string, std::string>> where;
  for (const LayerSample& s : data.layers) where.insert({s.device_class, s.mode});
  for (const ModelSample& s : data.models) where.insert({s.device_class, s.mode});
  return where;
}

// `fitted` is called after each estimator and target has been fitted on one place.
// `intervals`: the k-fold intervals already computed on exactly `data`, by
// IntervalKey(device, mode, target) and estimator; the others are cross-validated anew.
nlohmann::json FitAndStore(const std::string& db, const TrainingData& data,
                           const std::vector<std::string>& names,
                           const std::vector<Target>& targets,
                           const std::map<std::string, std::map<std::string, Interval>>& intervals,
                           std::string* note,
                           const std::function<void(const std::string&)>& fitted) {
  nlohmann::json rows = nlohmann::json::array();
  auto store = ModelStore::Open(db);
  if (!store.ok()) {
    *note = "fitted models not stored: " + store.status().message();
    return rows;
  }
  if (!(*store)->writable()) {
    *note = "fitted models not stored: " + (*store)->read_only_reason();
    return rows;
  }
  for (const auto& [device, mode] : FitPlaces(data)) {
    const TrainingSet set = SelectTrainingSet(data, device, mode);
    auto info = (*store)->Describe(set);
    if (!info.ok()) {
      *note = "fitted models not stored: " + info.status().message();
      return rows;
    }
    for (const std::string& name : names) {
      for (Target target : targets) {
        ObtainOptions refit;
        refit.restore = false;
        if (auto place = intervals.find(IntervalKey(device, mode, TargetName(target)));
            place != intervals.end()) {
          if (auto known = place->second.find(name); known != place->second.end()) {
            refit.interval = known->second;
          }
        }
        auto got = ObtainEstimator(store->get(), set, *info, name, target, refit);
        nlohmann::json row = {{"device", device}, {"mode", mode}, {"estimator", name},
                              {"target", TargetName(target)}};
        if (got.ok()) {
          row["model_id"] = got->model_id;
          row["stored"] = got->source == ModelSource::kStored;
          row["note"] = got->note;
        } else {
          row["model_id"] = nullptr;
          row["stored"] = false;
          row["note"] = "not fitted: " + got.status().message();
        }
        rows.push_back(std::move(row));
        fitted(name + " on all " + device + " " + mode + " measurements");
      }
    }
  }
  return rows;
}

}  // namespace

bool HasEstimatorSamples(const std::string& db) {
  TrainingDataOptions all;
  all.include_flagged = true;
  auto data = LoadTrainingData(db, all);
  return data.ok() && (!data->models.empty() || !data->layers.empty());
}

namespace {

// One evaluation as `fit --json` gives it, with every held-out prediction for a reader who
// wants to see which architectures miss.
nlohmann::json ResultJson(const EvalResult& r) {
  nlohmann::json interval = nullptr;
  if (r.interval.ok()) {
    interval = {{"level", r.interval.level},
                {"factor", std::exp(r.interval.log_q)},
                {"n", r.interval.n},
                {"coverage", r.interval.coverage >= 0 ? nlohmann::json(r.interval.coverage)
                                                      : nlohmann::json(nullptr)}};
  }
  nlohmann::json out = {{"device", r.device},       {"mode", r.mode},
                        {"estimator", r.estimator}, {"level", r.level},
                        {"target", r.target},       {"split", r.split},
                        {"median_ape", r.median_ape}, {"mape", r.mape},
                        {"p90_ape", r.p90_ape},     {"r2", r.r2},
                        {"n", r.n},                 {"unmodelled_types", r.unmodelled},
                        {"interval", interval},     {"error", r.error}};
  if (r.own_coverage.n > 0) {
    out["small_data_interval"] = {{"level", kOwnIntervalLevel},
                                  {"coverage", r.own_coverage.fraction},
                                  {"n", r.own_coverage.n}};
  } else {
    out["small_data_interval"] = nullptr;
  }
  nlohmann::json points = nlohmann::json::array();
  for (const EvalPoint& p : r.points) {
    points.push_back({{"architecture", p.architecture},
                      {"batch", p.batch},
                      {"measured", p.measured},
                      {"predicted", p.predicted},
                      {"small_data_interval",
                       p.own ? nlohmann::json::array({p.own->first, p.own->second})
                             : nlohmann::json(nullptr)}});
  }
  out["points"] = std::move(points);
  return out;
}

// The training data as `fit` evaluates it: one device when asked, and the held-out
// campaigns' samples moved to `held_out`. Stored fits are of every measurement (the models
// table's fingerprint says so), so `everything` keeps them when campaigns are held out.
struct EvaluationData {
  TrainingData data, held_out;
  std::optional<TrainingData> everything;
  int64_t flagged = 0, layer_sum = 0;
  const TrainingData& fitted() const { return everything ? *everything : data; }
};

Result<EvaluationData> LoadEvaluationData(const EvaluateOptions& o) {
  auto fail = [](const std::string& what) { return Status::InvalidArgument(what); };
  TrainingDataOptions load;
  load.include_flagged = o.include_flagged;
  auto loaded = LoadTrainingData(o.db, load);
  if (!loaded.ok()) return fail(loaded.status().message());
  EvaluationData e;
  e.data = std::move(loaded).value();
  TrainingData& data = e.data;
  e.flagged = data.flagged_left_out;
  e.layer_sum = data.layer_sum_left_out;
  if (o.device) {
    auto other = [&](const auto& s) { return s.device_class != *o.device; };
    data.layers.erase(std::remove_if(data.layers.begin(), data.layers.end(), other),
                      data.layers.end());
    data.models.erase(std::remove_if(data.models.begin(), data.models.end(), other),
                      data.models.end());
  }
  e.held_out.layer_features = data.layer_features;
  for (const std::string& name : o.holdout_campaigns) {
    auto in = [&](const auto& s) { return s.campaign == name; };
    if (std::none_of(data.models.begin(), data.models.end(), in) &&
        std::none_of(data.layers.begin(), data.layers.end(), in)) {
      return fail("--holdout-campaign " + name + ": no measurements of a campaign of that name in " +
                  o.db + (o.device ? " on device " + *o.device : std::string()));
    }
  }
  if (!o.holdout_campaigns.empty()) {
    e.everything = data;
    auto held = [&](const auto& s) {
      return std::find(o.holdout_campaigns.begin(), o.holdout_campaigns.end(), s.campaign) !=
             o.holdout_campaigns.end();
    };
    for (const ModelSample& m : data.models) {
      if (held(m)) e.held_out.models.push_back(m);
    }
    for (const LayerSample& l : data.layers) {
      if (held(l)) e.held_out.layers.push_back(l);
    }
    data.models.erase(std::remove_if(data.models.begin(), data.models.end(), held),
                      data.models.end());
    data.layers.erase(std::remove_if(data.layers.begin(), data.layers.end(), held),
                      data.layers.end());
  }
  if (data.models.empty() && data.layers.empty()) {
    if (!e.held_out.models.empty()) {
      return fail("--holdout-campaign: every measurement is held out; nothing is left to fit "
                  "on");
    }
    if (e.flagged > 0) {
      return fail("--db " + o.db + ": no measurements to evaluate on: " +
                  std::to_string(e.flagged) +
                  " measurements with quality flags were left out (--include-flagged keeps "
                  "them; docs/dataset.md)");
    }
    return fail("--db " + o.db + ": no measurements to evaluate on");
  }
  return e;
}

// Progress counts each estimator fitted on a fold, then each fitted on all measurements
// (stored for `predict`).
int64_t EvaluationSteps(const EvaluationData& e, const std::vector<std::string>& names,
                        const std::vector<Target>& targets, const std::vector<Split>& splits,
                        bool layers_only, int folds) {
  int64_t steps = 0;
  for (Split split : splits) {
    for (Target target : targets) {
      steps += layers_only ? (split == Split::kGroupedKFold
                                  ? LayerEvaluationFolds(e.data, names.size(), target, folds)
                                  : 0)
                           : EvaluationFolds(e.data, names.size(), target, split, folds);
    }
  }
  steps += static_cast<int64_t>(FitPlaces(e.fitted()).size() * names.size() * targets.size());
  if (!e.held_out.models.empty()) {
    steps += static_cast<int64_t>(FitPlaces(e.held_out).size() * names.size() * targets.size());
  }
  return steps;
}

}  // namespace

Result<nlohmann::json> EvaluateDataset(const EvaluateOptions& o) {
  auto fail = [](const std::string& what) { return Status::InvalidArgument(what); };
  std::vector<std::string> names = o.estimators.empty() ? EstimatorNames() : o.estimators;
  for (const std::string& n : names) {
    if (auto e = MakeEstimator(n); !e.ok()) return fail("--estimator: " + e.status().message());
  }
  std::vector<Target> targets;
  if (o.target == "energy" || o.target == "both") targets.push_back(Target::kEnergy);
  if (o.target == "time" || o.target == "both") targets.push_back(Target::kTime);
  std::vector<Split> splits;
  if (o.split == "kfold" || o.split == "both") splits.push_back(Split::kGroupedKFold);
  if (o.split == "lofo" || o.split == "both") splits.push_back(Split::kLeaveOneFamilyOut);
  if (targets.empty()) return fail("--target must be energy, time or both");
  if (splits.empty()) return fail("--split must be kfold, lofo or both");
  WF_ASSIGN_OR_RETURN(const EvaluationData e, LoadEvaluationData(o));
  const TrainingData& data = e.data;
  // Without whole models to score on, the layer-wise estimators are scored layer by layer
  // (EvaluateLayers) and fitted on the layers alone; held-out whole models are still scored.
  const bool layers_only = data.models.empty() && !data.layers.empty();
  // Without a terminal for the table (JSON, or a caller that only wants the document) the
  // progress goes to stderr as plain lines.
  Progress progress =
      MakeCliProgress("fit", EvaluationSteps(e, names, targets, splits, layers_only, o.folds),
                      o.json, o.json ? std::cerr : std::cout);
  int64_t done = 0;
  progress.Update(done);

  nlohmann::json results = nlohmann::json::array();
  // The k-fold intervals per (device, mode, target, estimator): the held-out campaigns are
  // checked against them.
  std::map<std::string, std::map<std::string, Interval>> kfold_intervals;
  for (Split split : splits) {
    for (Target target : targets) {
      const std::string what =
          std::string(SplitName(split)) + " " + std::string(TargetName(target)) + ", ";
      const FoldDone fold_done = [&](const std::string& estimator) {
        progress.Update(++done, what + estimator);
      };
      // Layer-only data: grouped k-fold over layers; families are a property of whole
      // models, so leave-one-family-out has nothing to hold out.
      if (layers_only && split != Split::kGroupedKFold) continue;
      const std::vector<EvalResult> evaluated =
          layers_only ? EvaluateLayers(data, names, target, o.folds, fold_done)
                      : Evaluate(data, names, target, split, o.folds, fold_done);
      for (const EvalResult& r : evaluated) {
        if (split == Split::kGroupedKFold && !layers_only) {
          kfold_intervals[IntervalKey(r.device, r.mode, r.target)][r.estimator] = r.interval;
        }
        results.push_back(ResultJson(r));
      }
    }
  }
  for (Target target : targets) {
    if (e.held_out.models.empty()) break;
    for (const auto& [device, mode] : FitPlaces(e.held_out)) {
      TrainingData train = data, test = e.held_out;
      auto other = [&](const auto& x) { return x.device_class != device || x.mode != mode; };
      test.models.erase(std::remove_if(test.models.begin(), test.models.end(), other),
                        test.models.end());
      const auto& intervals = kfold_intervals[IntervalKey(device, mode, TargetName(target))];
      const FoldDone fold_done = [&](const std::string& estimator) {
        progress.Update(++done, "held-out campaigns, " + estimator);
      };
      for (const EvalResult& r :
           EvaluateHeldOut(train, test, names, target, intervals, fold_done)) {
        results.push_back(ResultJson(r));
      }
    }
  }
  std::string models_note;
  const nlohmann::json models =
      FitAndStore(o.db, e.fitted(), names, targets,
                  // Intervals of the data without the held-out campaigns are not the stored
                  // fits' own.
                  e.everything ? decltype(kfold_intervals){} : kfold_intervals, &models_note,
                  [&](const std::string& fitted) { progress.Update(++done, fitted); });
  // Fits that did not happen (a dataset that cannot be written) leave the count.
  progress.SetTotal(done);
  progress.Finish();
  return nlohmann::json{{"results", results},
                        {"models", models},
                        {"models_note", models_note},
                        {"flagged_left_out", e.flagged},
                        {"layer_sum_left_out", e.layer_sum}};
}

namespace {

// A result's split as the table shows it: layer-level scores are marked.
std::string SplitLabel(const nlohmann::json& r) {
  const std::string split = r["split"].get<std::string>();
  return r["level"] == "layer" ? split + "/layer" : split;
}

}  // namespace

int CmdEvaluate(const EvaluateOptions& o) {
  auto evaluated = EvaluateDataset(o);
  if (!evaluated.ok()) {
    std::cerr << "wattfleet: " << evaluated.status().message() << "\n";
    return 2;
  }
  const nlohmann::json& doc = *evaluated;
  if (o.json) {
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  const int64_t flagged = doc["flagged_left_out"].get<int64_t>();
  const int64_t layer_sum = doc["layer_sum_left_out"].get<int64_t>();
  const std::string models_note = doc["models_note"].get<std::string>();
  const nlohmann::json& results = doc["results"];
  const nlohmann::json& models = doc["models"];
  if (flagged > 0) {
    std::printf("%lld measurements with quality flags (ci, interference, below-idle, "
                "idle-stale, layer-sum) left out, %lld of them whole models whose layers sum to outside "
                "1/3-3x their time; --include-flagged keeps them\n",
                static_cast<long long>(flagged), static_cast<long long>(layer_sum));
  }
  if (std::any_of(results.begin(), results.end(),
                  [](const nlohmann::json& r) { return r["level"] == "layer"; })) {
    std::printf("no whole-model measurements to score on: the layer-wise estimators are scored "
                "on held-out layers (split kfold/layer), and fitted on the layers alone\n");
  }
  std::printf("%-8s %-10s %-7s %-12s %-15s %10s %8s %8s %7s %4s %18s\n", "device", "mode",
              "target", "split", "estimator", "median APE", "MAPE", "p90 APE", "R2", "n",
              "90% interval");
  for (const auto& r : results) {
    if (r["n"].get<int>() == 0) {
      std::printf("%-8s %-10s %-7s %-12s %-15s  not scored: %s\n",
                  r["device"].get<std::string>().c_str(), r["mode"].get<std::string>().c_str(),
                  r["target"].get<std::string>().c_str(), SplitLabel(r).c_str(),
                  r["estimator"].get<std::string>().c_str(),
                  r["error"].get<std::string>().c_str());
      continue;
    }
    // The interval as its factor (×/÷ e^q) and the coverage it had on held-out points.
    std::string interval = "-";
    if (const auto& i = r["interval"]; i.is_object()) {
      char buf[64];
      if (i["coverage"].is_number()) {
        std::snprintf(buf, sizeof buf, "x/%.2f, cover %.0f%%", i["factor"].get<double>(),
                      100 * i["coverage"].get<double>());
      } else {
        // Below 9 held-out points: the largest error, at the level it can state.
        std::snprintf(buf, sizeof buf, "x/%.2f at %.0f%%", i["factor"].get<double>(),
                      100 * i["level"].get<double>());
      }
      interval = buf;
    }
    std::printf("%-8s %-10s %-7s %-12s %-15s %9.1f%% %7.1f%% %7.1f%% %7.3f %4d %18s\n",
                r["device"].get<std::string>().c_str(), r["mode"].get<std::string>().c_str(),
                r["target"].get<std::string>().c_str(), SplitLabel(r).c_str(),
                r["estimator"].get<std::string>().c_str(), 100 * r["median_ape"].get<double>(),
                100 * r["mape"].get<double>(), 100 * r["p90_ape"].get<double>(),
                r["r2"].get<double>(), r["n"].get<int>(), interval.c_str());
    if (const auto& own = r["small_data_interval"]; own.is_object()) {
      std::printf("    small-data 90%% interval (layers' held-out errors): held %.0f%% of %d\n",
                  100 * own["coverage"].get<double>(), own["n"].get<int>());
    }
    for (const auto& t : r["unmodelled_types"]) {
      std::printf("    no model of its own for %s (bounded by the fitted types)\n",
                  t.get<std::string>().c_str());
    }
  }
  if (!models_note.empty()) {
    std::printf("\nnote: %s\n", models_note.c_str());
    return 0;
  }
  std::printf("\nfitted on all measurements, in the models table of %s (for wattfleet predict):\n",
              o.db.c_str());
  for (const auto& m : models) {
    std::string what = m["model_id"].is_number()
                           ? "models row " + std::to_string(m["model_id"].get<int64_t>())
                           : std::string();
    const std::string note = m["note"].get<std::string>();
    if (!note.empty()) what += what.empty() ? note : " (" + note + ")";
    std::printf("%-8s %-10s %-7s %-15s %s\n", m["device"].get<std::string>().c_str(),
                m["mode"].get<std::string>().c_str(), m["target"].get<std::string>().c_str(),
                m["estimator"].get<std::string>().c_str(), what.c_str());
  }
  return 0;
}

}  // namespace wattfleet
