// `wattfleet predict`: resolve the architecture, select the device's training set, obtain the
// estimator for energy and for time (restored or fitted), predict, print.
#include "cli_predict.h"
#include "cli_predict_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "wattfleet/estimate/architecture_sample.h"
#include "wattfleet/campaign/campaign.h"
#include "wattfleet/estimate/evaluation.h"

namespace wattfleet {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The most common batch of the set's samples (the smallest on a tie), and every batch seen.
int64_t CommonBatch(const TrainingSet& set, std::vector<int64_t>* batches) {
  std::map<int64_t, int64_t> counts;
  for (const LayerSample& s : set.layers) ++counts[s.batch];
  for (const ModelSample& s : set.models) ++counts[s.batch];
  int64_t best = 1, best_n = 0;
  for (const auto& [batch, n] : counts) {
    batches->push_back(batch);
    if (n > best_n) {
      best = batch;
      best_n = n;
    }
  }
  return best;
}

std::optional<double> Std(const Estimate& e) {
  return e.std >= 0 ? std::optional<double>(e.std) : std::nullopt;
}

nlohmann::json OrNull(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json IntervalJson(const std::optional<std::pair<double, double>>& v) {
  return v ? nlohmann::json::array({v->first, v->second}) : nlohmann::json(nullptr);
}

std::string Figure(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", *v);
  return buf;
}

// The set's whole-model measurements of an architecture with exactly `model`'s layers at its
// batch (the name may differ: a campaign's name for a zoo model).
// Each figure is the mean of the repeats that have it (an import may give time only); a
// figure no repeat has is 0 and says so in `count`'s absence: nothing is returned when
// neither is known.
std::optional<MeasuredWhole> MeasuredWholeOf(const TrainingSet& set, const ModelSample& model) {
  MeasuredWhole w;
  int64_t with_energy = 0, with_time = 0;
  for (const ModelSample& m : set.models) {
    if (m.kind != JobKind::kModel || m.batch != model.batch || m.layer_keys != model.layer_keys) continue;
    ++w.count;
    w.energy_is_estimate |= m.energy_is_estimate;
    if (m.energy_j > 0 && std::isfinite(m.energy_j)) {
      w.energy_j += m.energy_j;
      ++with_energy;
    }
    if (m.time_s > 0 && std::isfinite(m.time_s)) {
      w.time_s += m.time_s;
      ++with_time;
    }
  }
  if (with_energy == 0 && with_time == 0) return std::nullopt;
  if (with_energy > 0) w.energy_j /= static_cast<double>(with_energy);
  if (with_time > 0) w.time_s /= static_cast<double>(with_time);
  w.has_energy = with_energy > 0;
  w.has_time = with_time > 0;
  return w;
}

// Notes by importance: what may make the figures far off first, then what bounded them, what
// the data lacks, and details last.
constexpr int kNoteFar = 0, kNoteBound = 1, kNoteData = 2, kNoteDetail = 3;
// Beyond this many times the work measured, the reach is a note of its own.
constexpr double kFarReach = 2.0;

void AddNote(Prediction* p, int rank, const std::string& text) {
  for (const auto& [r, t] : p->ranked_notes) {
    if (t == text) return;
  }
  p->ranked_notes.emplace_back(rank, text);
}

void SortNotes(Prediction* p) {
  std::stable_sort(p->ranked_notes.begin(), p->ranked_notes.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  p->notes.clear();
  for (const auto& [rank, text] : p->ranked_notes) p->notes.push_back(text);
}

}  // namespace

std::string ReachText(double reach) {
  if (!(reach > 1.0 + 1e-9)) return "within the data";
  char buf[48];
  std::snprintf(buf, sizeof buf, "x%.3g beyond the work measured", reach);
  return buf;
}

namespace {

Status CheckPredictFlags(const PredictOptions& o) {
  if (auto e = MakeEstimator(o.estimator); !e.ok()) {
    return Status::InvalidArgument("--estimator: " + e.status().message());
  }
  if (o.mode != "inference" && o.mode != "training") {
    return Status::InvalidArgument("--mode " + o.mode + ": must be inference or training");
  }
  if (o.batch && (*o.batch < 1 || *o.batch > kMaxBatchSize)) {
    return Status::InvalidArgument("--batch " + std::to_string(*o.batch) +
                                   ": must be in [1, " + std::to_string(kMaxBatchSize) + "]");
  }
  return Status::OK();
}

// The device's measurements in the mode asked for; InvalidArgument naming the flag when the
// dataset holds none.
Result<TrainingSet> LoadSetFor(const PredictOptions& o) {
  TrainingDataOptions load;
  load.include_flagged = o.include_flagged;
  WF_ASSIGN_OR_RETURN(TrainingData data, LoadTrainingData(o.db, load));
  const std::vector<std::string> devices = data.DeviceClasses();
  if (std::find(devices.begin(), devices.end(), o.device) == devices.end()) {
    if (devices.empty()) {
      // Every measurement may have been left out for its quality flags: say so, not "none".
      const std::string flagged =
          data.flagged_left_out > 0
              ? " fit can use (" + std::to_string(data.flagged_left_out) +
                    " measurements with quality flags were left out; --include-flagged keeps "
                    "them; docs/dataset.md)"
              : "";
      return Status::InvalidArgument("--device " + o.device + ": " + o.db +
                                     " holds no measurements of any device" + flagged);
    }
    return Status::InvalidArgument("--device " + o.device + ": no measurements in " + o.db +
                                   "; known devices: " + JoinNames(devices));
  }
  TrainingSet set = SelectTrainingSet(data, o.device, o.mode);
  if (set.layers.empty() && set.models.empty()) {
    std::set<std::string> modes;
    for (const LayerSample& s : data.layers) {
      if (s.device_class == o.device) modes.insert(s.mode);
    }
    for (const ModelSample& s : data.models) {
      if (s.device_class == o.device) modes.insert(s.mode);
    }
    return Status::InvalidArgument("--mode " + o.mode + ": " + o.device + " was measured in " +
                                   JoinNames({modes.begin(), modes.end()}) + " mode only");
  }
  return set;
}

// What is asked: the architecture, device, mode, step and batch, with notes on what the data
// does not cover.
Prediction Request(const PredictOptions& o, const TrainingStep& step,
                   const ResolvedArchitecture& resolved, const TrainingSet& set) {
  Prediction p;
  p.architecture = resolved.architecture.name;
  p.family = resolved.architecture.family;
  p.device = o.device;
  p.mode = o.mode;
  p.estimator = o.estimator;
  if (o.mode == "training") {
    p.optimizer = std::string(OptimizerName(step.optimizer));
    p.loss = std::string(LossName(step.loss));
  }
  p.unsupported = resolved.unsupported;
  const int64_t common = CommonBatch(set, &p.measured_batches);
  p.batch = o.batch.value_or(common);
  if (std::find(p.measured_batches.begin(), p.measured_batches.end(), p.batch) ==
      p.measured_batches.end()) {
    std::string measured;
    for (int64_t b : p.measured_batches) {
      measured += (measured.empty() ? "" : ", ") + std::to_string(b);
    }
    AddNote(&p, kNoteData, "batch " + std::to_string(p.batch) + " was not measured on " +
                               o.device + " (measured: " + measured + "): the estimate extrapolates");
  }
  if (!p.unsupported.empty()) {
    AddNote(&p, kNoteData, "operators without a layer are not in the estimate: " +
                               JoinNames(p.unsupported));
  }
  return p;
}

// Both targets' estimators, obtained (from the models table, or fitted) and run on `sample`
// before anything is stored, so that a failure leaves the models table as it was. The models
// table is a cache of fits: when it cannot be used, predict fits and says so.
struct Estimates {
  ObtainedEstimator obtained[2];
  Estimate estimate[2];
  std::set<std::string> unmodelled;
};
constexpr Target kTargets[2] = {Target::kEnergy, Target::kTime};

Status EstimateBoth(const PredictOptions& o, const TrainingSet& set,
                    const ArchitectureSample& sample, Prediction* p, Estimates* out) {
  std::unique_ptr<ModelStore> store;
  if (auto opened = ModelStore::Open(o.db); opened.ok()) {
    store = std::move(opened).value();
    if (auto info = store->Describe(set); info.ok()) {
      p->training = *info;
    } else {
      AddNote(p, kNoteDetail, "models table not used: " + info.status().message());
      store.reset();
    }
  } else {
    AddNote(p, kNoteDetail, "models table not used: " + opened.status().message());
  }
  if (store == nullptr) FillCounts(set, &p->training);
  ObtainOptions later;
  later.store = false;
  for (int i = 0; i < 2; ++i) {
    const std::string what = std::string(TargetName(kTargets[i]));
    auto obtained = ObtainEstimator(store.get(), set, p->training, o.estimator, kTargets[i], later);
    if (!obtained.ok()) {
      const Status& s = obtained.status();
      const std::string msg = "--estimator " + o.estimator + ": cannot be fitted for " + what +
                              " on the " + o.device + " " + o.mode + " measurements: " +
                              s.message();
      // The dataset cannot support the method the user chose: an input error.
      if (s.code() == StatusCode::kUnavailable) return Status::InvalidArgument(msg);
      return s.WithContext("--estimator " + o.estimator + " (" + what + ")");
    }
    auto estimate = PredictMonotoneInBatch(*obtained->estimator, sample.model, sample.catalog);
    if (!estimate.ok()) {
      return estimate.status().WithContext("--estimator " + o.estimator + " (" + what + ")");
    }
    out->estimate[i] = std::move(estimate).value();
    for (const std::string& t : obtained->estimator->UnmodelledTypes()) out->unmodelled.insert(t);
    out->obtained[i] = std::move(obtained).value();
  }
  for (int i = 0; i < 2; ++i) {
    ObtainedEstimator& e = out->obtained[i];
    StoreFitted(store.get(), set, p->training, o.estimator, kTargets[i], &e);
    p->models.push_back({std::string(TargetName(kTargets[i])),
                         std::string(ModelSourceName(e.source)), e.model_id, e.note});
  }
  return Status::OK();
}

// The interval: split-conformal over whole models where at least 9 rest it; otherwise the
// method's own small-data interval (the layer-wise ones: their layers' held-out errors,
// docs/estimators.md). With fewer whole models, the conformal interval's level is n / (n + 1),
// below 90 %: the method's own interval at 90 % is preferred where it has one.
void AddIntervals(const PredictOptions& o, const Estimates& e, Prediction* p) {
  auto interval_of = [&](int i, double value) -> std::optional<std::pair<double, double>> {
    const Interval& c = e.obtained[i].interval;
    auto conformal = [&] {
      p->interval_level[i] = c.level;
      p->interval_basis[i] =
          "whole models (split-conformal, " + std::to_string(c.n) + " held out)";
      return std::make_pair(c.Low(value), c.High(value));
    };
    if (c.ok() && c.level >= kIntervalLevel) return conformal();
    if (e.estimate[i].interval) {
      p->interval_level[i] = kOwnIntervalLevel;
      p->interval_basis[i] = "layers' held-out errors (fewer than 9 whole models)";
      return e.estimate[i].interval;
    }
    if (c.ok()) return conformal();
    return std::nullopt;
  };
  p->energy_j_interval = interval_of(0, p->energy_j);
  p->time_s_interval = interval_of(1, p->time_s);
  if (!p->energy_j_interval || !p->time_s_interval) {
    AddNote(p, kNoteFar, "no interval: fewer than 2 architectures measured whole to rest it "
                         "on, and " + o.estimator + " states none of its own (the layer-wise "
                         "estimators do)");
  } else if (std::min(p->interval_level[0], p->interval_level[1]) < kIntervalLevel) {
    char level[16];
    std::snprintf(level, sizeof level, "%.0f %%",
                  100 * std::min(p->interval_level[0], p->interval_level[1]));
    const int lower = p->interval_level[0] < p->interval_level[1] ? 0 : 1;
    AddNote(p, kNoteFar, std::string("the interval is at ") + level + ", not 90 %: only " +
                             std::to_string(e.obtained[lower].interval.n) +
                             " architectures measured whole rest it");
  }
}

// How far the estimate reaches, what bounded it, whether energy was modeled, and the
// dataset's own measurement of the architecture (returned instead with --prefer-measured).
void AddCaveats(const PredictOptions& o, const TrainingSet& set, const ArchitectureSample& sample,
                const Estimates& e, Prediction* p) {
  p->reach = std::max(e.estimate[0].reach, e.estimate[1].reach);
  if (p->reach > kFarReach) {
    AddNote(p, kNoteFar, "the estimate reaches " + ReachText(p->reach) +
                             ": its layers are larger than any of their kind measured on " +
                             o.device + "; the interval says how far off it may be");
  }
  for (const Estimate& estimate : e.estimate) {
    for (const std::string& w : estimate.warnings) {
      // One line lists the types without a curve (`unmodelled_types`), not one note each.
      if (w.find(" has no cost model of its own") != std::string::npos) continue;
      const bool bound = w.rfind("raised to the device", 0) == 0 || w.rfind("energy held", 0) == 0;
      AddNote(p, bound ? kNoteBound : kNoteDetail, w);
    }
  }
  p->measured = MeasuredWholeOf(set, sample.model);
  p->energy_modeled = std::any_of(set.layers.begin(), set.layers.end(),
                                  [](const LayerSample& s) { return s.energy_is_estimate; }) ||
                      std::any_of(set.models.begin(), set.models.end(),
                                  [](const ModelSample& s) { return s.energy_is_estimate; });
  if (p->energy_modeled) {
    AddNote(p, kNoteData, "energy on " + o.device + " was modeled, not metered (no power "
                          "sensor): measured time x modeled power, itself an estimate");
  }
  if (p->measured && o.prefer_measured && p->measured->has_energy && p->measured->has_time) {
    p->source = "measured";
    p->energy_j = p->measured->energy_j;
    p->time_s = p->measured->time_s;
    p->energy_j_std.reset();
    p->time_s_std.reset();
    p->energy_j_interval.reset();
    p->time_s_interval.reset();
  } else if (p->measured && o.prefer_measured) {
    AddNote(p, kNoteData, "the dataset's measurement of this architecture lacks energy or "
                          "time: the estimate is returned");
  }
  p->unmodelled.assign(e.unmodelled.begin(), e.unmodelled.end());
  // The step's loss and update are layers to the layer-wise methods only; the others learn
  // from whole steps, whatever optimiser the dataset's campaigns trained with.
  if (o.mode == "training" && (o.optimizer || o.loss) && o.estimator != "wattlayer" &&
      o.estimator != "measured-layers" && o.estimator != "wattlayer-paper") {
    AddNote(p, kNoteData, o.estimator + " predicts from whole training steps as the dataset "
                          "measured them: --optimizer and --loss are priced by the layer-wise "
                          "estimators only");
  }
}

// The network's nodes, and in training its step's loss and update after them.
void AddLayers(const ArchitectureSample& sample, const Estimates& e, Prediction* p) {
  const size_t n = sample.nodes.size();
  for (size_t i = 0; i < n; ++i) {
    const LayerSample& s = sample.nodes[i];
    LayerPrediction l;
    l.name = sample.node_names[i];
    l.type = s.type;
    l.key = s.key;
    l.macs = std::llround(s.macs);
    l.params = std::llround(s.params);
    if (e.estimate[0].layers.size() == n) l.energy_j = e.estimate[0].layers[i];
    if (e.estimate[1].layers.size() == n) l.time_s = e.estimate[1].layers[i];
    p->layers.push_back(std::move(l));
  }
}

}  // namespace

Result<Prediction> PredictArchitecture(const PredictOptions& o) {
  WF_RETURN_IF_ERROR(CheckPredictFlags(o));
  WF_ASSIGN_OR_RETURN(const TrainingStep step, CheckTrainingStep(o));
  WF_ASSIGN_OR_RETURN(ResolvedArchitecture resolved, ResolveArchitecture(o.source));
  const Architecture& arch = resolved.architecture;
  if (arch.nodes.empty()) {
    return Status::InvalidArgument("--arch " + arch.name + ": has no layers to predict");
  }
  WF_ASSIGN_OR_RETURN(const TrainingSet set, LoadSetFor(o));
  Prediction p = Request(o, step, resolved, set);
  WF_ASSIGN_OR_RETURN(ArchitectureSample sample,
                      MakeArchitectureSample(arch, p.batch, o.device, o.mode, step.optimizer,
                                             step.loss));
  // PRE reads the device's features: those of the agents that measured the training set.
  for (const ModelSample& m : set.models) {
    if (m.device.cores > 0 || m.device.peak_flops > 0) {
      sample.model.device = m.device;
      break;
    }
  }
  p.macs = std::llround(sample.model.macs);
  p.flops = std::llround(sample.model.flops);
  p.params = std::llround(sample.model.params);
  Estimates e;
  WF_RETURN_IF_ERROR(EstimateBoth(o, set, sample, &p, &e));
  p.energy_j = p.estimated_energy_j = e.estimate[0].value;
  p.energy_j_std = Std(e.estimate[0]);
  p.time_s = p.estimated_time_s = e.estimate[1].value;
  p.time_s_std = Std(e.estimate[1]);
  AddIntervals(o, e, &p);
  AddCaveats(o, set, sample, e, &p);
  AddRunTotal(o, &p);
  SortNotes(&p);
  AddLayers(sample, e, &p);
  return p;
}

namespace {

nlohmann::json TextOrNull(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

}  // namespace

nlohmann::json PredictionToJson(const Prediction& p) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerPrediction& l : p.layers) {
    layers.push_back({{"name", l.name},
                      {"type", l.type},
                      {"key", l.key},
                      {"macs", l.macs},
                      {"params", l.params},
                      {"energy_j", OrNull(l.energy_j)},
                      {"time_s", OrNull(l.time_s)}});
  }
  nlohmann::json models = nlohmann::json::array();
  for (const ModelUse& m : p.models) {
    models.push_back({{"target", m.target},
                      {"source", m.source},
                      {"id", m.model_id ? nlohmann::json(m.model_id) : nlohmann::json(nullptr)},
                      {"note", m.note}});
  }
  nlohmann::json measured = nullptr;
  if (p.measured) {
    measured = {{"count", p.measured->count},
                {"energy_is_estimate", p.measured->energy_is_estimate},
                {"energy_j", p.measured->has_energy ? nlohmann::json(p.measured->energy_j)
                                                    : nlohmann::json(nullptr)},
                {"time_s", p.measured->has_time ? nlohmann::json(p.measured->time_s)
                                                : nlohmann::json(nullptr)}};
  }
  nlohmann::json training = p.training.ToJson();
  training["device"] = p.device;
  training["mode"] = p.mode;
  return {{"architecture", p.architecture},
          {"family", p.family},
          {"device", p.device},
          {"mode", p.mode},
          {"batch", p.batch},
          {"measured_batches", p.measured_batches},
          {"estimator", p.estimator},
          {"source", p.source},
          {"energy_j", p.energy_j},
          {"energy_j_std", OrNull(p.energy_j_std)},
          {"energy_j_interval", IntervalJson(p.energy_j_interval)},
          {"time_s", p.time_s},
          {"time_s_std", OrNull(p.time_s_std)},
          {"time_s_interval", IntervalJson(p.time_s_interval)},
          {"interval_level", std::min(p.interval_level[0], p.interval_level[1])},
          {"energy_j_interval_level", p.interval_level[0]},
          {"time_s_interval_level", p.interval_level[1]},
          {"energy_j_interval_basis", p.interval_basis[0]},
          {"time_s_interval_basis", p.interval_basis[1]},
          {"reach", p.reach},
          {"reach_text", ReachText(p.reach)},
          {"estimate", {{"energy_j", p.estimated_energy_j}, {"time_s", p.estimated_time_s}}},
          {"measured", measured},
          {"energy_is_estimate", p.source == "estimate" || p.energy_modeled},
          {"training_energy_modeled", p.energy_modeled},
          {"macs", p.macs},
          {"flops", p.flops},
          {"params", p.params},
          {"layers", layers},
          {"unmodelled_types", p.unmodelled},
          {"unsupported", p.unsupported},
          {"models", models},
          {"training_set", training},
          {"optimizer", TextOrNull(p.optimizer)},
          {"loss", TextOrNull(p.loss)},
          {"run", RunTotalJson(p)},
          {"notes", p.notes}};
}

namespace {

void PrintTable(const Prediction& p) {
  const std::string step =
      p.optimizer.empty() ? "" : " (" + p.optimizer + ", " + p.loss + " loss)";
  std::printf("%s (%s) on %s, %s%s, batch %lld, estimator %s\n", p.architecture.c_str(),
              p.family.c_str(), p.device.c_str(), p.mode.c_str(), step.c_str(),
              static_cast<long long>(p.batch), p.estimator.c_str());
  for (const ModelUse& m : p.models) {
    std::printf("  %-6s model: %s", m.target.c_str(), m.source.c_str());
    if (m.model_id > 0) std::printf(" (models row %lld)", static_cast<long long>(m.model_id));
    if (!m.note.empty()) std::printf("; %s", m.note.c_str());
    std::printf("\n");
  }
  std::printf("  trained on %lld layer and %lld model measurements\n",
              static_cast<long long>(p.training.layer_samples),
              static_cast<long long>(p.training.model_samples));
  int width = 5;
  for (const LayerPrediction& l : p.layers) {
    width = std::max(width, static_cast<int>(l.name.size()));
  }
  std::printf("%-*s %-20s %16s %12s %12s %12s\n", width, "name", "type", "MACs", "params",
              "energy_j", "time_s");
  for (const LayerPrediction& l : p.layers) {
    std::printf("%-*s %-20s %16lld %12lld %12s %12s\n", width, l.name.c_str(), l.type.c_str(),
                static_cast<long long>(l.macs), static_cast<long long>(l.params),
                Figure(l.energy_j).c_str(), Figure(l.time_s).c_str());
  }
  std::printf("%-*s %-20s %16lld %12lld %12s %12s\n", width, "total", "",
              static_cast<long long>(p.macs), static_cast<long long>(p.params),
              Figure(p.energy_j).c_str(), Figure(p.time_s).c_str());
  // One iteration of a training prediction is one step of the training loop.
  const char* per = p.mode == "training" ? "step" : "iteration";
  const std::string repeats =
      p.measured ? std::to_string(p.measured->count) +
                       (p.measured->count == 1 ? " repeat" : " repeats")
                 : std::string();
  if (p.source == "measured") {
    std::printf("energy %.4g J, time %.4g s per %s: measured (%s in the dataset); "
                "estimate beside it: %.4g J, %.4g s\n",
                p.energy_j, p.time_s, per, repeats.c_str(), p.estimated_energy_j,
                p.estimated_time_s);
  } else {
    std::printf("estimate: energy %.4g J per %s", p.energy_j, per);
    if (p.energy_j_interval) {
      std::printf(" (%.0f%% interval %.4g to %.4g J)", 100 * p.interval_level[0],
                  p.energy_j_interval->first, p.energy_j_interval->second);
    }
    if (p.energy_j_std) std::printf(" (std %.2g J)", *p.energy_j_std);
    std::printf(", time %.4g s per %s", p.time_s, per);
    if (p.time_s_interval) {
      std::printf(" (%.0f%% interval %.4g to %.4g s)", 100 * p.interval_level[1],
                  p.time_s_interval->first, p.time_s_interval->second);
    }
    if (p.time_s_std) std::printf(" (std %.2g s)", *p.time_s_std);
    std::printf("; %s\n", ReachText(p.reach).c_str());
    if (!p.interval_basis[1].empty()) {
      std::printf("  interval from %s\n", p.interval_basis[1].c_str());
    }
    if (p.measured) {
      const std::optional<double> energy =
          p.measured->has_energy ? std::optional<double>(p.measured->energy_j) : std::nullopt;
      const std::optional<double> time =
          p.measured->has_time ? std::optional<double>(p.measured->time_s) : std::nullopt;
      std::printf("measured in the dataset: energy %s J, time %s s per %s (%s; "
                  "--prefer-measured returns these)\n",
                  Figure(energy).c_str(), Figure(time).c_str(), per, repeats.c_str());
    }
  }
  PrintRunTotal(p);
  for (const std::string& n : p.notes) std::printf("note: %s\n", n.c_str());
  if (!p.unmodelled.empty()) {
    std::printf("note: no cost model of their own, priced by their kin's or their kind of "
                "work's curves within the costs measured: %s\n",
                JoinNames(p.unmodelled).c_str());
  }
}

}  // namespace

int CmdPredict(const PredictOptions& options) {
  try {
    auto p = PredictArchitecture(options);
    if (!p.ok()) {
      std::cerr << "wattfleet: " << p.status().message() << "\n";
      return p.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
    }
    if (options.json) {
      std::cout << PredictionToJson(*p).dump(2) << "\n";
    } else {
      PrintTable(*p);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wattfleet: predict: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace wattfleet
