#include "wattfleet/import/power_law_eval.h"

#include <set>
#include <utility>

#include <spdlog/spdlog.h>

namespace wattfleet {
namespace {

using CurveKey = std::pair<std::string, std::string>;  // (device, operation)

// The predicted duration (all calls) of each of `ops` in one architecture row, or nullopt when a curve
// is missing.
std::optional<std::vector<double>> Durations(const ExternalRecord& r,
                                             const std::vector<std::string>& ops,
                                             const std::map<CurveKey, PowerLawParams>& curves,
                                             const std::string& curve_device, double peak) {
  std::vector<double> x;
  for (const std::string& op : ops) {
    const auto cost = r.operations.find(op);
    const OperationCost c = cost == r.operations.end() ? OperationCost{0, 0} : cost->second;
    if (c.flops <= 0 || c.count <= 0) {
      x.push_back(0.0);
      continue;
    }
    const auto curve = curves.find({curve_device, op});
    if (curve == curves.end()) return std::nullopt;
    x.push_back(c.count * PredictedSeconds(curve->second, c.flops, peak));
  }
  return x;
}

struct DeviceRows {
  std::vector<const ExternalRecord*> rows;  // with energy_j
  std::vector<std::string> ops;             // operation types named by any row
};

}  // namespace

Result<PowerLawReport> EvaluatePowerLaw(const std::vector<ExternalDevice>& devices,
                                        const std::vector<ExternalRecord>& operations,
                                        const std::vector<ExternalRecord>& architectures,
                                        const PowerLawOptions& options) {
  PowerLawReport report;
  std::map<std::string, double> peak;
  for (const ExternalDevice& d : devices)
    if (d.peak_flops) peak[d.name] = *d.peak_flops;
  auto wanted = [&](const std::string& device) {
    return !options.device || *options.device == device;
  };

  // 1. Efficiency curves per (device, operation).
  std::map<CurveKey, std::vector<const ExternalRecord*>> points;
  std::set<std::string> no_peak;
  for (const ExternalRecord& r : operations) {
    if (!r.flops || !r.time_s || *r.time_s <= 0) continue;
    if (peak.count(r.device) == 0) {
      no_peak.insert(r.device);
      continue;
    }
    points[{r.device, r.name}].push_back(&r);
  }
  for (const std::string& d : no_peak) {
    report.notes.push_back("device '" + d + "' has no peak_flops: its operations are not fitted");
  }
  std::map<CurveKey, PowerLawParams> curves;
  for (const auto& [key, rows] : points) {
    std::vector<double> c, eta;
    for (const ExternalRecord* r : rows) {
      c.push_back(*r->flops / 1e12);
      eta.push_back(100.0 * *r->flops / (*r->time_s * peak.at(key.first)));
    }
    auto fit = FitEfficiencyCurve(c, eta);
    if (!fit.ok()) {
      report.notes.push_back(key.first + " / " + key.second + ": " + fit.status().message());
      continue;
    }
    int ok = 0;
    for (const CurveStart& s : fit->starts) ok += s.converged ? 1 : 0;
    spdlog::debug("powerlaw curve {} / {}: {} of {} starts converged", key.first, key.second,
                  ok, fit->starts.size());
    if (!fit->converged) {
      report.notes.push_back(key.first + " / " + key.second + ": no start converged");
    } else {
      curves[key] = fit->params;
      // Layer level: each operation's time predicted from its FLOPs alone.
      std::vector<double> actual, predicted;
      for (const ExternalRecord* r : rows) {
        actual.push_back(*r->time_s);
        predicted.push_back(PredictedSeconds(fit->params, *r->flops, peak.at(key.first)));
      }
      if (wanted(key.first)) {
        report.results.push_back({key.first, "layer", "time_s", "in_sample:" + key.second,
                                  Summarise(actual, predicted)});
      }
    }
    if (wanted(key.first)) report.curves.push_back({key.first, key.second, std::move(*fit)});
  }

  // 2. Energy model per device on architecture rows.
  std::map<std::string, DeviceRows> by_device;
  for (const ExternalRecord& r : architectures) {
    if (!r.energy_j) continue;
    DeviceRows& d = by_device[r.device];
    d.rows.push_back(&r);
    for (const auto& [op, flops] : r.operations) {
      if (std::find(d.ops.begin(), d.ops.end(), op) == d.ops.end()) d.ops.push_back(op);
    }
  }
  std::map<std::string, EnergyCoefficients> models;
  for (auto& [device, d] : by_device) {
    if (peak.count(device) == 0) {
      report.notes.push_back("device '" + device + "' has no peak_flops: no energy model");
      continue;
    }
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    std::vector<std::string> groups;
    bool missing = false;
    for (const ExternalRecord* r : d.rows) {
      auto t = Durations(*r, d.ops, curves, device, peak.at(device));
      if (!t) {
        missing = true;
        break;
      }
      x.push_back(std::move(*t));
      y.push_back(*r->energy_j);
      groups.push_back(r->name);
    }
    if (missing) {
      report.notes.push_back("device '" + device + "': an operation of its architectures has "
                             "no efficiency curve on that device: no energy model");
      continue;
    }
    auto model = FitLinearEnergy(x, y);
    if (!model.ok()) {
      report.notes.push_back("device '" + device + "': " + model.status().message());
      continue;
    }
    models[device] = EnergyCoefficients{device, d.ops, *model};
    if (!wanted(device)) continue;
    report.energy_models.push_back(models[device]);
    std::vector<double> fitted;
    for (const auto& row : x) fitted.push_back(model->Predict(row));
    report.results.push_back(
        {device, "architecture", "energy_j", "in_sample", Summarise(y, fitted)});

    // Grouped k-fold: rows of one architecture configuration never straddle train and test.
    const std::vector<int> fold = GroupedFolds(groups, options.folds);
    std::vector<double> held_out(y.size(), 0.0);
    bool cv_ok = true;
    for (int k = 0; k < options.folds && cv_ok; ++k) {
      std::vector<std::vector<double>> xt;
      std::vector<double> yt;
      for (size_t i = 0; i < y.size(); ++i) {
        if (fold[i] != k) {
          xt.push_back(x[i]);
          yt.push_back(y[i]);
        }
      }
      auto m = FitLinearEnergy(xt, yt);
      if (!m.ok()) {
        report.notes.push_back("device '" + device + "': fold " + std::to_string(k) + ": " +
                               m.status().message());
        cv_ok = false;
        break;
      }
      for (size_t i = 0; i < y.size(); ++i)
        if (fold[i] == k) held_out[i] = m->Predict(x[i]);
    }
    if (cv_ok) {
      report.results.push_back({device, "architecture", "energy_j",
                                "grouped_cv_" + std::to_string(options.folds),
                                Summarise(y, held_out)});
    }
  }

  // 3. Transfer: energy coefficients of a source device applied to a target device's rows,
  // with (a) curves fitted on the target's own operations, (b) the source's curves with the
  // target's peak (no operation measured on the target).
  for (const auto& [src, src_model] : models) {
    for (const auto& [dst, d] : by_device) {
      if (src == dst || peak.count(dst) == 0 || !wanted(dst)) continue;
      for (const bool own_curves : {true, false}) {
        std::vector<double> actual, predicted;
        bool missing = false;
        for (const ExternalRecord* r : d.rows) {
          auto t = Durations(*r, src_model.operations, curves, own_curves ? dst : src,
                             peak.at(dst));
          if (!t) {
            missing = true;
            break;
          }
          actual.push_back(*r->energy_j);
          predicted.push_back(src_model.model.Predict(*t));
        }
        const std::string label = "transfer_from:" + src + (own_curves ? ":target_curves"
                                                                        : ":source_curves_peak_scaled");
        if (missing) {
          report.notes.push_back(label + " to " + dst + ": a curve is missing");
          continue;
        }
        report.results.push_back(
            {dst, "architecture", "energy_j", label, Summarise(actual, predicted)});
      }
    }
  }

  if (report.curves.empty() && report.results.empty()) {
    return Status::InvalidArgument(
        "powerlaw: nothing to fit (no imported operation records with FLOPs and time on a "
        "device with peak_flops" +
        std::string(options.device ? " for device '" + *options.device + "'" : "") + ")");
  }
  return report;
}

}  // namespace wattfleet
