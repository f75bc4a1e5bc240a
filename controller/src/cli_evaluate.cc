// `wattfleet fit` over the dataset's measurements: a table, or JSON with the fields CLI.md
// promises (results[] with device, estimator, level, median_ape, mape, p90_ape, r2, n).
#include "cli_evaluate.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "evaluation.h"
#include "model_store.h"
#include "progress.h"

namespace wattfleet {

namespace {

// Every estimator fitted on all of each device class's measurements (per mode and target) and
// kept in the models table, where `wattfleet predict` restores it while the measurements stay
// the same. Nothing is fitted for a dataset that cannot be written; `note` says why.
// The device classes and modes that FitAndStore fits estimators for.
std::set<std::pair<std::string, std::string>> FitPlaces(const TrainingData& data) {
  std::set<std::pair<std::string, std::string>> where;
  for (const LayerSample& s : data.layers) where.insert({s.device_class, s.mode});
  for (const ModelSample& s : data.models) where.insert({s.device_class, s.mode});
  return where;
}

// `fitted` is called after each estimator and target has been fitted on one place.
nlohmann::json FitAndStore(const std::string& db, const TrainingData& data,
                           const std::vector<std::string>& names,
                           const std::vector<Target>& targets, std::string* note,
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

bool HasOwnModelMeasurements(const std::string& db) {
  auto data = LoadTrainingData(db);
  return data.ok() && !data->models.empty();
}

int CmdEvaluate(const EvaluateOptions& o) {
  auto fail = [](const std::string& what) {
    std::cerr << "wattfleet: " << what << "\n";
    return 2;
  };
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

  auto data = LoadTrainingData(o.db);
  if (!data.ok()) return fail(data.status().message());
  if (o.device) {
    auto other = [&](const auto& s) { return s.device_class != *o.device; };
    data->layers.erase(std::remove_if(data->layers.begin(), data->layers.end(), other),
                       data->layers.end());
    data->models.erase(std::remove_if(data->models.begin(), data->models.end(), other),
                       data->models.end());
  }
  if (data->models.empty()) {
    return fail("--db " + o.db + ": no whole-model measurements to evaluate on (plan "
                "whole_models: true)");
  }

  // Progress counts each estimator fitted on a fold, then each fitted on all measurements
  // (stored for `predict`); with --json it goes to stderr as plain lines.
  int64_t steps = 0;
  for (Split split : splits) {
    for (Target target : targets) {
      steps += EvaluationFolds(*data, names.size(), target, split, o.folds);
    }
  }
  steps += static_cast<int64_t>(FitPlaces(*data).size() * names.size() * targets.size());
  Progress progress = MakeCliProgress("fit", steps, o.json, o.json ? std::cerr : std::cout);
  int64_t done = 0;
  progress.Update(done);

  nlohmann::json results = nlohmann::json::array();
  for (Split split : splits) {
    for (Target target : targets) {
      const std::string what =
          std::string(SplitName(split)) + " " + std::string(TargetName(target)) + ", ";
      const FoldDone fold_done = [&](const std::string& estimator) {
        progress.Update(++done, what + estimator);
      };
      for (const EvalResult& r : Evaluate(*data, names, target, split, o.folds, fold_done)) {
        results.push_back({{"device", r.device},       {"mode", r.mode},
                           {"estimator", r.estimator}, {"level", r.level},
                           {"target", r.target},       {"split", r.split},
                           {"median_ape", r.median_ape}, {"mape", r.mape},
                           {"p90_ape", r.p90_ape},     {"r2", r.r2},
                           {"n", r.n},                 {"unmodelled_types", r.unmodelled},
                           {"error", r.error}});
      }
    }
  }
  std::string models_note;
  const nlohmann::json models =
      FitAndStore(o.db, *data, names, targets, &models_note,
                  [&](const std::string& fitted) { progress.Update(++done, fitted); });
  // Fits that did not happen (a dataset that cannot be written) leave the count.
  progress.SetTotal(done);
  progress.Finish();
  if (o.json) {
    std::cout << nlohmann::json{{"results", results}, {"models", models},
                                {"models_note", models_note}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("%-8s %-10s %-7s %-6s %-15s %10s %8s %8s %7s %4s\n", "device", "mode", "target",
              "split", "estimator", "median APE", "MAPE", "p90 APE", "R2", "n");
  for (const auto& r : results) {
    if (r["n"].get<int>() == 0) {
      std::printf("%-8s %-10s %-7s %-6s %-15s  not scored: %s\n",
                  r["device"].get<std::string>().c_str(), r["mode"].get<std::string>().c_str(),
                  r["target"].get<std::string>().c_str(), r["split"].get<std::string>().c_str(),
                  r["estimator"].get<std::string>().c_str(),
                  r["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("%-8s %-10s %-7s %-6s %-15s %9.1f%% %7.1f%% %7.1f%% %7.3f %4d\n",
                r["device"].get<std::string>().c_str(), r["mode"].get<std::string>().c_str(),
                r["target"].get<std::string>().c_str(), r["split"].get<std::string>().c_str(),
                r["estimator"].get<std::string>().c_str(), 100 * r["median_ape"].get<double>(),
                100 * r["mape"].get<double>(), 100 * r["p90_ape"].get<double>(),
                r["r2"].get<double>(), r["n"].get<int>());
    for (const auto& t : r["unmodelled_types"]) {
      std::printf("    no model of its own for %s (global fallback used)\n",
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
