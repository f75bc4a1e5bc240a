// The estimators' samples from a dataset's records (DatasetReader, either backend): layer
// measurements with their layer's features, model and probe measurements with their
// architecture and its layers, and imported rows.
#include "wattfleet/estimate/training_data.h"

#include "wattfleet/estimate/layer_sum.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "wattfleet/estimate/architecture_sample.h"
#include "wattfleet/estimate/layer_sum.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/plan/thor_signature.h"
#include "wattfleet/common/protocol.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

double Param(const nlohmann::json& params, const char* name) {
  auto it = params.find(name);
  return it != params.end() && it->is_number() ? it->get<double>() : 0.0;
}

// THOR's view of a model or probe job: probes by their name, architectures by their stored
// graph. Samples THOR cannot use keep an empty view; a spec that does not decode (written by
// a future version, say) is not an error for the other estimators.
// Decoding a stored graph costs more than the rest of a sample: `seen` remembers the view of
// each distinct spec (a dataset of repeated campaigns stores the same spec many times).
using ThorViews = std::unordered_map<std::string, std::pair<std::string, std::vector<int64_t>>>;
void AddThorView(ModelSample& s, const std::string& spec_blob, ThorViews* seen) {
  if (s.kind == JobKind::kProbe) {
    Result<ProbeName> probe = ParseProbeName(s.name);
    if (!probe.ok()) return;
    s.thor_kind = probe->kind;
    s.thor_widths = probe->widths;
    s.probe_role = std::string(ProbeRoleName(probe->role));
    return;
  }
  // The batch is part of the spec: two jobs of one architecture at one batch share a view.
  auto known = seen->find(spec_blob);
  if (known == seen->end()) {
    std::pair<std::string, std::vector<int64_t>> view;
    Result<JobSpec> spec = DecodeJob(spec_blob);
    if (spec.ok()) {
      Result<ThorSignature> signature = ThorSignatureOf(spec->graph);
      if (signature.ok()) view = {signature->kind.name, signature->widths};
    }
    known = seen->emplace(spec_blob, std::move(view)).first;
  }
  s.thor_kind = known->second.first;
  s.thor_widths = known->second.second;
}

// Elements of one input sample from architectures.input_shape ("[3,224,224]"); 0 unknown.
double InputSize(const std::string& shape_json) {
  const auto shape = nlohmann::json::parse(shape_json, nullptr, false);
  if (!shape.is_array() || shape.empty()) return 0;
  double n = 1;
  for (const auto& d : shape) {
    if (!d.is_number() || d.get<double>() <= 0) return 0;
    n *= d.get<double>();
  }
  return n;
}

DeviceFeatures DeviceOf(const std::string& capabilities_json) {
  DeviceFeatures d;
  const auto caps = nlohmann::json::parse(capabilities_json, nullptr, false);
  if (!caps.is_object()) return d;
  d.cores = Param(caps, "cores");
  d.memory_bytes = Param(caps, "memory_bytes");
  d.peak_flops = Param(caps, "peak_flops");
  d.peak_conv_flops = Param(caps, "peak_conv_flops");
  d.pointwise_flops = Param(caps, "pointwise_flops");
  d.max_power_w = Param(caps, "max_power_w");  // read when an agent reports it
  return d;
}

// A layer's features per iteration at s->batch (the layers table holds per-sample features; a
// job runs `batch` samples).
void SetLayerFeatures(const LayerRecord& l, LayerSample* s) {
  s->key = l.key;
  s->type = l.type;
  const std::optional<LayerType> type = ParseLayerType(l.type);
  const LayerFeatures f{l.macs, l.flops, l.params, l.input_elements, l.output_elements, {}};
  const auto params = nlohmann::json::parse(l.params_json, nullptr, false);
  SetPricedFeatures(f, type && IsOptimizerStep(*type),
                    [&params](const char* name) {
                      return params.is_object() ? Param(params, name) : 0.0;
                    },
                    s);
}

// Imported rows that name a layer or a zoo architecture (import_layers.h) train the
// layer-wise estimators like the dataset's own measurements, under the device name the
// mapping gave. Their campaign is "import:SOURCE".
Status AddImportedRecords(DatasetReader& reader, TrainingData* data) {
  WF_ASSIGN_OR_RETURN(const std::vector<ImportedRecord> records, reader.ImportedRecords());
  for (const ImportedRecord& r : records) {
    const auto features = nlohmann::json::parse(r.features_json, nullptr, false);
    if (!features.is_object()) continue;
    const std::string where = "import " + r.source + " row " + std::to_string(r.row);
    try {
      if (auto layer = features.find("layer"); layer != features.end() && layer->is_object()) {
        LayerSample s;
        s.device_class = r.device;
        s.mode = layer->at("mode").get<std::string>();
        s.campaign = "import:" + r.source;
        s.key = layer->at("key").get<std::string>();
        s.type = layer->at("type").get<std::string>();
        s.batch = 1;
        s.macs = layer->at("macs").get<double>();
        s.flops = layer->at("flops").get<double>();
        s.params = layer->at("params").get<double>();
        s.input_elements = layer->at("input_elements").get<double>();
        s.output_elements = layer->at("output_elements").get<double>();
        s.kernel = layer->at("kernel").get<double>();
        s.stride = layer->at("stride").get<double>();
        s.groups = layer->at("groups").get<double>();
        data->layer_features.emplace(s.key, s);
        s = AtBatch(s, layer->at("batch").get<int64_t>());
        s.time_s = r.time_s.value_or(0.0);
        s.energy_j = r.energy_j.value_or(0.0);
        s.energy_dynamic_j = s.energy_j;
        data->layers.push_back(std::move(s));
      } else if (auto zoo = features.find("zoo"); zoo != features.end() && zoo->is_object()) {
        auto arch = FindZooArchitecture(zoo->at("name").get<std::string>());
        if (!arch.ok()) {
          // Stored by a build whose zoo had it: the row stays in the dataset, unused here.
          spdlog::warn("{}: zoo architecture '{}' is not in this build's zoo; row not used",
                       where, zoo->at("name").get<std::string>());
          continue;
        }
        const std::string mode = zoo->at("mode").get<std::string>();
        WF_ASSIGN_OR_RETURN(ArchitectureSample sample,
                            MakeArchitectureSample(*arch, zoo->at("batch").get<int64_t>(),
                                                   r.device, mode));
        for (const auto& [key, layer] : sample.catalog) {
          data->layer_features.emplace(key, AtBatch(layer, 1));
        }
        ModelSample m = std::move(sample.model);
        m.name = r.name;
        if (!r.family.empty()) m.family = r.family;
        m.campaign = "import:" + r.source;
        m.time_s = r.time_s.value_or(0.0);
        m.energy_j = r.energy_j.value_or(0.0);
        m.energy_dynamic_j = m.energy_j;
        data->models.push_back(std::move(m));
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(where + ": malformed layer or zoo record: " + e.what());
    }
  }
  return Status::OK();
}

// What a layer sample and a model sample take alike from their measurement.
template <typename Sample>
Sample SampleOf(const MeasurementRecord& r, bool flagged) {
  Sample s;
  s.flagged = flagged;
  s.device_class = r.device_class;
  s.mode = r.mode;
  s.campaign = r.campaign;
  s.batch = r.batch;
  s.energy_j = r.m.energy_per_iter_j;
  s.energy_dynamic_j = r.m.energy_dynamic_per_iter_j;
  s.time_s = r.m.time_per_iter_s;
  s.energy_is_estimate = r.m.energy_is_estimate;
  return s;
}

}  // namespace

std::vector<std::string> TrainingData::DeviceClasses() const {
  std::set<std::string> classes;
  for (const auto& l : layers) classes.insert(l.device_class);
  for (const auto& m : models) classes.insert(m.device_class);
  return {classes.begin(), classes.end()};
}

Result<TrainingData> LoadTrainingData(const std::string& db,
                                      const TrainingDataOptions& options) {
  WF_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, OpenDatasetReader(db));
  return LoadTrainingData(*reader, options);
}

Result<TrainingData> LoadTrainingData(DatasetReader& reader, const TrainingDataOptions& options) {
  TrainingData data;
  data.include_flagged = options.include_flagged;
  // Every layer the dataset knows, measured or not (whole-model-only campaigns plan their
  // layers without measuring them): features at batch 1.
  WF_ASSIGN_OR_RETURN(const std::vector<LayerRecord> layers, reader.Layers());
  std::unordered_map<std::string, const LayerRecord*> layer_of;
  for (const LayerRecord& l : layers) {
    layer_of.emplace(l.key, &l);
    LayerSample s;
    SetLayerFeatures(l, &s);
    data.layer_features.emplace(l.key, std::move(s));
  }
  // Whether the measurement is left out: it carries quality flags ("ci" too for one from
  // before flags were sent whose CI target was missed).
  auto is_flagged = [](const MeasurementRecord& r) { return !QualityFlags(r.m).empty(); };
  auto left_out = [&](bool flagged) {
    if (options.include_flagged || !flagged) return false;
    ++data.flagged_left_out;
    return true;
  };
  std::map<int64_t, std::vector<std::string>> layer_keys_of;
  ThorViews thor_views;
  WF_RETURN_IF_ERROR(reader.ForEachMeasurement([&](const MeasurementRecord& r) -> Status {
    // A window of someone's own code is no layer or network an estimator could learn from.
    if (r.kind == JobKind::kWindow) return Status::OK();
    if (r.kind == JobKind::kLayer) {
      // A layer measurement counts only with its layer's row (its features).
      const auto layer = layer_of.find(r.subject);
      if (layer == layer_of.end()) return Status::OK();
      data.measurement_ids[{r.device_class, r.mode}].push_back(r.id);
      const bool flagged = is_flagged(r);
      if (left_out(flagged)) return Status::OK();
      LayerSample s = SampleOf<LayerSample>(r, flagged);
      SetLayerFeatures(*layer->second, &s);
      data.layers.push_back(std::move(s));
      return Status::OK();
    }
    // Model jobs have an architecture row in their campaign; probes do not (THOR reads what
    // it needs of them from their names, AddThorView).
    data.measurement_ids[{r.device_class, r.mode}].push_back(r.id);
    const bool flagged = is_flagged(r);
    if (left_out(flagged)) return Status::OK();
    ModelSample s = SampleOf<ModelSample>(r, flagged);
    s.name = r.subject;
    s.family = r.family;
    s.kind = r.kind;
    const double b = static_cast<double>(s.batch);
    s.macs = static_cast<double>(r.arch_macs) * b;
    s.flops = static_cast<double>(r.arch_flops) * b;
    s.params = static_cast<double>(r.arch_params);
    if (r.architecture_id) {
      // Repeats of one architecture share its layer list: read it once.
      auto known = layer_keys_of.find(*r.architecture_id);
      if (known == layer_keys_of.end()) {
        WF_ASSIGN_OR_RETURN(std::vector<std::string> keys,
                            reader.ArchitectureLayers(*r.architecture_id));
        known = layer_keys_of.emplace(*r.architecture_id, std::move(keys)).first;
      }
      s.layer_keys = known->second;
    }
    AddThorView(s, r.spec, &thor_views);
    // PRE's features: the network input and the measuring agent's device.
    s.input_size = InputSize(r.input_shape);
    s.device = DeviceOf(r.capabilities_json);
    data.models.push_back(std::move(s));
    return Status::OK();
  }));
  // Whole models whose layers sum to far more or less than they took themselves: one of the
  // two was disturbed (layer_sum.h). Only where every layer is measured, so that flagged
  // layers left out above make the check moot rather than wrong.
  if (!options.include_flagged) {
    data.layer_sum_left_out = DropLayerSumOutliers(&data);
    data.flagged_left_out += data.layer_sum_left_out;
  }
  WF_RETURN_IF_ERROR(AddImportedRecords(reader, &data));
  return data;
}

CallUnit CallUnitOf(std::string_view type) {
  const std::optional<LayerType> t = ParseLayerType(type);
  if (!t) return CallUnit::kCall;
  if (*t == LayerType::kLSTM || *t == LayerType::kGRU) return CallUnit::kStep;
  return IsOptimizerStep(*t) ? CallUnit::kTensor : CallUnit::kCall;
}

void SetPricedFeatures(const LayerFeatures& per_sample, bool optimizer_step,
                       const std::function<double(const char*)>& param, LayerSample* s) {
  const double b = optimizer_step ? 1.0 : static_cast<double>(s->batch);
  s->macs = static_cast<double>(per_sample.macs) * b;
  s->flops = static_cast<double>(per_sample.flops) * b;
  s->params = static_cast<double>(per_sample.params);
  s->input_elements = static_cast<double>(per_sample.input_elements) * b;
  s->output_elements = static_cast<double>(per_sample.output_elements) * b;
  s->kernel = param("kernel_size");
  s->stride = param("stride");
  s->groups = param("groups");
  s->calls = 1.0;
  if (optimizer_step) {
    s->calls = std::max(1.0, param("tensors"));
  } else if (CallUnitOf(s->type) == CallUnit::kStep) {
    // A recurrent layer's steps run one after another, each a few kernels per layer and
    // direction: its per-call cost is paid per step (a 2-layer LSTM paid twice a 1-layer
    // one's fixed cost: 1.0 ms each at batch 2 over 16 steps, beside 2.8 ns per MAC).
    const double input_size = param("input_size");
    const double steps =
        input_size > 0 ? static_cast<double>(per_sample.input_elements) / input_size : 1.0;
    s->calls = std::max(1.0, param("num_layers")) * (param("bidirectional") > 0 ? 2.0 : 1.0) *
               std::max(1.0, steps);
  }
  s->mapped_params = optimizer_step ? param("large_params") : 0.0;
}

}  // namespace wattfleet
