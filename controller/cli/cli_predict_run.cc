#include "cli_predict_run.h"

#include <cstdio>
#include <string>

namespace wattfleet {
namespace {

// A run past these is a typo: a trillion samples, a million epochs.
constexpr int64_t kMaxSamples = 1000000000000;
constexpr int64_t kMaxEpochs = 1000000;

std::optional<std::pair<double, double>> Scaled(
    const std::optional<std::pair<double, double>>& interval, double factor) {
  if (!interval) return std::nullopt;
  return std::make_pair(interval->first * factor, interval->second * factor);
}

nlohmann::json IntervalOrNull(const std::optional<std::pair<double, double>>& i) {
  if (!i) return nullptr;
  return nlohmann::json::array({i->first, i->second});
}

}  // namespace

Result<TrainingStep> CheckTrainingStep(const PredictOptions& o) {
  TrainingStep step;
  const bool training = o.mode == ModeName(Mode::kTraining);
  auto needs_training = [&](const char* flag) {
    return Status::InvalidArgument(std::string(flag) + ": prices a training step; add "
                                   "--mode training");
  };
  if (o.optimizer) {
    if (!training) return needs_training("--optimizer");
    auto parsed = ParseOptimizer(*o.optimizer);
    if (!parsed) {
      return Status::InvalidArgument("--optimizer " + *o.optimizer +
                                     ": must be one of sgd, sgd-momentum, adam, adamw");
    }
    step.optimizer = *parsed;
  }
  if (o.loss) {
    if (!training) return needs_training("--loss");
    auto parsed = ParseLoss(*o.loss);
    if (!parsed) {
      return Status::InvalidArgument("--loss " + *o.loss + ": must be cross-entropy or mse");
    }
    step.loss = *parsed;
  }
  if (o.samples) {
    if (!training) return needs_training("--samples");
    if (*o.samples < 1 || *o.samples > kMaxSamples) {
      return Status::InvalidArgument("--samples " + std::to_string(*o.samples) +
                                     ": must be in [1, " + std::to_string(kMaxSamples) + "]");
    }
  }
  if (o.epochs) {
    if (!training) return needs_training("--epochs");
    if (!o.samples) {
      return Status::InvalidArgument("--epochs: give --samples too (the samples of one epoch)");
    }
    if (*o.epochs < 1 || *o.epochs > kMaxEpochs) {
      return Status::InvalidArgument("--epochs " + std::to_string(*o.epochs) +
                                     ": must be in [1, " + std::to_string(kMaxEpochs) + "]");
    }
  }
  return step;
}

void AddRunTotal(const PredictOptions& o, Prediction* p) {
  if (!o.samples) return;
  RunTotal run;
  run.samples = *o.samples;
  run.epochs = o.epochs.value_or(1);
  run.steps = run.epochs * ((run.samples + p->batch - 1) / p->batch);
  const double steps = static_cast<double>(run.steps);
  run.energy_j = p->energy_j * steps;
  run.time_s = p->time_s * steps;
  run.energy_j_interval = Scaled(p->energy_j_interval, steps);
  run.time_s_interval = Scaled(p->time_s_interval, steps);
  p->run = run;
}

nlohmann::json RunTotalJson(const Prediction& p) {
  if (!p.run) return nullptr;
  const RunTotal& r = *p.run;
  return {{"samples", r.samples},
          {"epochs", r.epochs},
          {"steps", r.steps},
          {"energy_j", r.energy_j},
          {"energy_j_interval", IntervalOrNull(r.energy_j_interval)},
          {"time_s", r.time_s},
          {"time_s_interval", IntervalOrNull(r.time_s_interval)},
          {"energy_is_estimate", true}};
}

void PrintRunTotal(const Prediction& p) {
  if (!p.run) return;
  const RunTotal& r = *p.run;
  std::printf("estimate for %lld epoch%s over %lld samples (%lld steps of batch %lld): "
              "energy %.4g J",
              static_cast<long long>(r.epochs), r.epochs == 1 ? "" : "s",
              static_cast<long long>(r.samples), static_cast<long long>(r.steps),
              static_cast<long long>(p.batch), r.energy_j);
  if (r.energy_j_interval) {
    std::printf(" (%.0f%% interval %.4g to %.4g J)", 100 * p.interval_level[0],
                r.energy_j_interval->first, r.energy_j_interval->second);
  }
  std::printf(", time %.4g s", r.time_s);
  if (r.time_s_interval) {
    std::printf(" (%.0f%% interval %.4g to %.4g s)", 100 * p.interval_level[1],
                r.time_s_interval->first, r.time_s_interval->second);
  }
  std::printf("\n");
}

}  // namespace wattfleet
