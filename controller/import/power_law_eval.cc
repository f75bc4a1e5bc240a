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

// The three steps of the power-law evaluation over one set of imported records, sharing what
// each finds: the devices' peaks, the fitted curves and energy models, and the report.
class PowerLawEvaluation {
 public:
  PowerLawEvaluation(const std::vector<ExternalDevice>& devices, const PowerLawOptions& options)
      : options_(options) {
    for (const ExternalDevice& d : devices)
      if (d.peak_flops) peak_[d.name] = *d.peak_flops;
  }

  // 1. Efficiency curves per (device, operation), each scored on its own operations.
  void FitCurves(const std::vector<ExternalRecord>& operations) {
    std::map<CurveKey, std::vector<const ExternalRecord*>> points;
    std::set<std::string> no_peak;
    for (const ExternalRecord& r : operations) {
      if (!r.flops || !r.time_s || *r.time_s <= 0) continue;
      if (peak_.count(r.device) == 0) {
        no_peak.insert(r.device);
        continue;
      }
      points[{r.device, r.name}].push_back(&r);
    }
    for (const std::string& d : no_peak) {
      report_.notes.push_back("device '" + d + "' has no peak_flops: its operations are not fitted");
    }
    for (const auto& [key, rows] : points) FitCurve(key, rows);
  }

  // 2. An energy model per device on its architecture rows, scored in sample and by grouped
  // k-fold.
  void FitEnergyModels(const std::vector<ExternalRecord>& architectures) {
    for (const ExternalRecord& r : architectures) {
      if (!r.energy_j) continue;
      DeviceRows& d = by_device_[r.device];
      d.rows.push_back(&r);
      for (const auto& [op, flops] : r.operations) {
        if (std::find(d.ops.begin(), d.ops.end(), op) == d.ops.end()) d.ops.push_back(op);
      }
    }
    for (const auto& [device, d] : by_device_) FitEnergyModel(device, d);
  }

  // 3. Transfer: energy coefficients of a source device applied to a target device's rows,
  // with (a) curves fitted on the target's own operations, (b) the source's curves with the
  // target's peak (no operation measured on the target).
  void ScoreTransfers() {
    for (const auto& [src, src_model] : models_) {
      for (const auto& [dst, d] : by_device_) {
        if (src == dst || peak_.count(dst) == 0 || !Wanted(dst)) continue;
        for (const bool own_curves : {true, false}) {
          ScoreTransfer(src, src_model, dst, d, own_curves);
        }
      }
    }
  }

  Result<PowerLawReport> Report() && {
    if (report_.curves.empty() && report_.results.empty()) {
      return Status::InvalidArgument(
          "powerlaw: nothing to fit (no imported operation records with FLOPs and time on a "
          "device with peak_flops" +
          std::string(options_.device ? " for device '" + *options_.device + "'" : "") + ")");
    }
    return std::move(report_);
  }

 private:
  bool Wanted(const std::string& device) const {
    return !options_.device || *options_.device == device;
  }

  void FitCurve(const CurveKey& key, const std::vector<const ExternalRecord*>& rows) {
    std::vector<double> c, eta;
    for (const ExternalRecord* r : rows) {
      c.push_back(*r->flops / 1e12);
      eta.push_back(100.0 * *r->flops / (*r->time_s * peak_.at(key.first)));
    }
    auto fit = FitEfficiencyCurve(c, eta);
    if (!fit.ok()) {
      report_.notes.push_back(key.first + " / " + key.second + ": " + fit.status().message());
      return;
    }
    int ok = 0;
    for (const CurveStart& s : fit->starts) ok += s.converged ? 1 : 0;
    spdlog::debug("powerlaw curve {} / {}: {} of {} starts converged", key.first, key.second,
                  ok, fit->starts.size());
    if (!fit->converged) {
      report_.notes.push_back(key.first + " / " + key.second + ": no start converged");
    } else {
      curves_[key] = fit->params;
      // Layer level: each operation's time predicted from its FLOPs alone.
      std::vector<double> actual, predicted;
      for (const ExternalRecord* r : rows) {
        actual.push_back(*r->time_s);
        predicted.push_back(PredictedSeconds(fit->params, *r->flops, peak_.at(key.first)));
      }
      if (Wanted(key.first)) {
        report_.results.push_back({key.first, "layer", "time_s", "in_sample:" + key.second,
                                   Summarise(actual, predicted)});
      }
    }
    if (Wanted(key.first)) report_.curves.push_back({key.first, key.second, std::move(*fit)});
  }

  void FitEnergyModel(const std::string& device, const DeviceRows& d) {
    if (peak_.count(device) == 0) {
      report_.notes.push_back("device '" + device + "' has no peak_flops: no energy model");
      return;
    }
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    std::vector<std::string> groups;
    for (const ExternalRecord* r : d.rows) {
      auto t = Durations(*r, d.ops, curves_, device, peak_.at(device));
      if (!t) {
        report_.notes.push_back("device '" + device + "': an operation of its architectures has "
                                "no efficiency curve on that device: no energy model");
        return;
      }
      x.push_back(std::move(*t));
      y.push_back(*r->energy_j);
      groups.push_back(r->name);
    }
    auto model = FitLinearEnergy(x, y);
    if (!model.ok()) {
      report_.notes.push_back("device '" + device + "': " + model.status().message());
      return;
    }
    models_[device] = EnergyCoefficients{device, d.ops, *model};
    if (!Wanted(device)) return;
    report_.energy_models.push_back(models_[device]);
    std::vector<double> fitted;
    for (const auto& row : x) fitted.push_back(model->Predict(row));
    report_.results.push_back(
        {device, "architecture", "energy_j", "in_sample", Summarise(y, fitted)});
    CrossValidate(device, x, y, groups);
  }

  // Grouped k-fold: rows of one architecture configuration never straddle train and test.
  void CrossValidate(const std::string& device, const std::vector<std::vector<double>>& x,
                     const std::vector<double>& y, const std::vector<std::string>& groups) {
    const std::vector<int> fold = GroupedFolds(groups, options_.folds);
    std::vector<double> held_out(y.size(), 0.0);
    for (int k = 0; k < options_.folds; ++k) {
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
        report_.notes.push_back("device '" + device + "': fold " + std::to_string(k) + ": " +
                                m.status().message());
        return;
      }
      for (size_t i = 0; i < y.size(); ++i)
        if (fold[i] == k) held_out[i] = m->Predict(x[i]);
    }
    report_.results.push_back({device, "architecture", "energy_j",
                               "grouped_cv_" + std::to_string(options_.folds),
                               Summarise(y, held_out)});
  }

  void ScoreTransfer(const std::string& src, const EnergyCoefficients& src_model,
                     const std::string& dst, const DeviceRows& d, bool own_curves) {
    const std::string label = "transfer_from:" + src + (own_curves ? ":target_curves"
                                                                    : ":source_curves_peak_scaled");
    std::vector<double> actual, predicted;
    for (const ExternalRecord* r : d.rows) {
      auto t = Durations(*r, src_model.operations, curves_, own_curves ? dst : src,
                         peak_.at(dst));
      if (!t) {
        report_.notes.push_back(label + " to " + dst + ": a curve is missing");
        return;
      }
      actual.push_back(*r->energy_j);
      predicted.push_back(src_model.model.Predict(*t));
    }
    report_.results.push_back(
        {dst, "architecture", "energy_j", label, Summarise(actual, predicted)});
  }

  const PowerLawOptions& options_;
  std::map<std::string, double> peak_;
  std::map<CurveKey, PowerLawParams> curves_;
  std::map<std::string, DeviceRows> by_device_;
  std::map<std::string, EnergyCoefficients> models_;
  PowerLawReport report_;
};

}  // namespace

Result<PowerLawReport> EvaluatePowerLaw(const std::vector<ExternalDevice>& devices,
                                        const std::vector<ExternalRecord>& operations,
                                        const std::vector<ExternalRecord>& architectures,
                                        const PowerLawOptions& options) {
  PowerLawEvaluation e(devices, options);
  e.FitCurves(operations);
  e.FitEnergyModels(architectures);
  e.ScoreTransfers();
  return std::move(e).Report();
}

}  // namespace wattfleet
