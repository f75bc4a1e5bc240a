// `wattfleet predict` (docs/design/cli.md): the energy and time per iteration of an architecture on a
// device class, total and per layer, from an estimator fitted on the dataset's measurements of
// that device class and mode (restored from the models table when it holds a model of exactly
// those measurements, and stored there when fitted afresh and the dataset is writable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/campaign/architecture_source.h"
#include "wattfleet/estimate/model_store.h"

namespace wattfleet {

struct PredictOptions {
  std::string db;
  std::string device;  // device class
  ArchitectureSource source;
  std::optional<int64_t> batch;  // default: the most common batch of the device's measurements
  std::string mode = "inference";
  // Training: the step's optimiser and loss (default sgd and cross-entropy, as in a
  // campaign), and a whole run of `epochs` passes over `samples` samples (cli_predict_run.h).
  std::optional<std::string> optimizer, loss;
  std::optional<int64_t> samples, epochs;
  std::string estimator = "measured-layers";
  // When the dataset holds a whole-model measurement of this architecture at this batch,
  // mode and device class, return it as the figures (the estimate stays beside it).
  bool prefer_measured = false;
  // Train on measurements with quality flags too (left out by default, as for `fit`).
  bool include_flagged = false;
  bool json = false;
};

// The dataset's own whole-model measurements of the asked architecture (same layers, batch,
// mode and device class): the mean over its repeats.
struct MeasuredWhole {
  int64_t count = 0;
  double energy_j = 0, time_s = 0;  // 0 where no repeat has the figure (has_*)
  bool has_energy = false, has_time = false;
  bool energy_is_estimate = false;  // modeled energy: measured time, estimated power
};

// A training run of `epochs` passes over `samples` samples: ceil(samples / batch) steps per
// epoch, each priced as the step above (the last, smaller batch of an epoch as a full one).
struct RunTotal {
  int64_t samples = 0, epochs = 0, steps = 0;
  double energy_j = 0, time_s = 0;
  // The step's intervals times the steps: a step's error repeats in every step, it does not
  // average out.
  std::optional<std::pair<double, double>> energy_j_interval, time_s_interval;
};

struct LayerPrediction {
  std::string name;  // node name
  std::string type;
  std::string key;   // canonical key
  int64_t macs = 0;  // per iteration (per-sample MACs x batch)
  int64_t params = 0;
  // Null where the estimator does not attribute its estimate to layers.
  std::optional<double> energy_j;
  std::optional<double> time_s;
};

// Where the estimator of one target came from.
struct ModelUse {
  std::string target;  // "energy" | "time"
  std::string source;  // ModelSourceName
  int64_t model_id = 0;  // models row restored or stored; 0: none
  std::string note;
};

struct Prediction {
  std::string architecture;
  std::string family;
  std::string device;
  std::string mode;
  std::string estimator;
  int64_t batch = 1;
  std::vector<int64_t> measured_batches;  // batches the device was measured at in this mode
  int64_t macs = 0, flops = 0, params = 0;  // per iteration (params: count)
  double energy_j = 0;
  std::optional<double> energy_j_std;  // null: the method states no uncertainty
  double time_s = 0;
  std::optional<double> time_s_std;
  // 90 % intervals: split-conformal over whole models (evaluation.h) where 9 or more rest it,
  // otherwise the estimator's own small-data interval (interval_basis says which).
  std::optional<std::pair<double, double>> energy_j_interval, time_s_interval;
  // What the figures are: "estimate", or "measured" with --prefer-measured and a measurement.
  std::string source = "estimate";
  double estimated_energy_j = 0, estimated_time_s = 0;  // the estimate, whatever `source`
  std::optional<MeasuredWhole> measured;                // the dataset's own, when it has one
  bool energy_modeled = false;  // the training set's energy came from the modeled meter
  std::vector<LayerPrediction> layers;   // one per node, in node order
  std::vector<std::string> unmodelled;   // layer types predicted by a fallback model
  std::vector<std::string> unsupported;  // TorchScript operators left out of the estimate
  TrainingSetInfo training;              // fingerprint empty when the store was not usable
  std::vector<ModelUse> models;          // energy, then time
  std::vector<std::string> notes;        // what the reader should know, most important first
  std::vector<std::pair<int, std::string>> ranked_notes;  // notes with their rank, as gathered
  // What each interval (energy, time) rests on, and its level; empty where there is none.
  std::string interval_basis[2];
  double interval_level[2] = {0.9, 0.9};
  // How far beyond the work measured the estimate reaches (Estimate::reach; 1: within).
  double reach = 1.0;
  // Training: the step's optimiser and loss ("adam", "cross-entropy"); empty in inference.
  std::string optimizer, loss;
  std::optional<RunTotal> run;  // --samples and --epochs
};

// "within the data", or "x30 beyond the work measured".
std::string ReachText(double reach);

// InvalidArgument naming the flag for bad input: an unknown estimator, mode, device class
// (listing the known ones) or architecture, a mode the device was not measured in, a batch
// under 1, and an estimator the device's measurements cannot support (with its reason).
// Other failures (an unreadable dataset, a failed prediction) keep their codes.
Result<Prediction> PredictArchitecture(const PredictOptions& options);

// The --json document: energy_j, energy_j_std, time_s, estimator, layers[] (name, type,
// energy_j, time_s, macs, params) as docs/design/cli.md promises, and the fields above.
nlohmann::json PredictionToJson(const Prediction& p);

// Exit code: 0, 2 for bad input, 1 for other failures. With `json`, only the document on
// stdout.
int CmdPredict(const PredictOptions& options);

// `--arch a,b --batch 1,4,16`: every architecture at every batch (the default batch where none
// is given). One architecture at one batch is CmdPredict; otherwise one table row per
// prediction, or with `json` an array of CmdPredict's documents. Every prediction is made
// before anything is printed: a bad name or batch prints nothing but its error.
int CmdPredictMany(const PredictOptions& options, const std::vector<int64_t>& batches);

}  // namespace wattfleet
