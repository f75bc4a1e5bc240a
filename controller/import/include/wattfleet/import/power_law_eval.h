// Fitting and evaluating the power-law estimator on imported measurements: efficiency curves
// per (device, operation) from operation records, the energy model per device from
// architecture records, grouped cross-validation, and transfer between devices.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/import/import_mapping.h"
#include "wattfleet/estimate/power_law.h"

namespace wattfleet {

struct CurveReport {
  std::string device;
  std::string operation;
  CurveFit fit;
};

// One row of the comparison: `level` is "layer" (an operation's time from its FLOPs) or
// "architecture" (a model's energy); `evaluation` says how the figure was obtained
// ("in_sample", "grouped_cv_5", "transfer_from:<device>:target_curves", ...).
struct EvaluationRow {
  std::string device;
  std::string level;
  std::string target;  // "time_s" or "energy_j"
  std::string evaluation;
  ErrorSummary summary;
};

struct EnergyCoefficients {
  std::string device;
  std::vector<std::string> operations;
  LinearEnergyModel model;  // h_o in J per predicted second of operation o
};

struct PowerLawReport {
  std::vector<CurveReport> curves;
  std::vector<EnergyCoefficients> energy_models;
  std::vector<EvaluationRow> results;
  std::vector<std::string> notes;  // what could not be fitted, and why
};

struct PowerLawOptions {
  std::optional<std::string> device;  // only this device (transfer needs two: then skipped)
  int folds = 5;
};

// Fits and evaluates. Failures of one device or curve are notes, not errors; an error is
// returned only when nothing at all could be fitted.
Result<PowerLawReport> EvaluatePowerLaw(const std::vector<ExternalDevice>& devices,
                                        const std::vector<ExternalRecord>& operations,
                                        const std::vector<ExternalRecord>& architectures,
                                        const PowerLawOptions& options);

}  // namespace wattfleet
