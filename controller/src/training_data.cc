// Reads the estimators' samples straight from the dataset with two queries: layer jobs joined
// with the layers table, and model/probe jobs joined with their architecture and its nodes.
#include "training_data.h"

#include "layer_sum.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "architecture_sample.h"
#include "layer_sum.h"
#include "sqlite_store.h"
#include "thor_signature.h"
#include "wattfleet/common/protocol.h"
#include "zoo.h"

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
  if (s.kind == "probe") {
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
  d.max_power_w = Param(caps, "max_power_w");  // read when an agent reports it
  return d;
}

// The columns ReadLayerFeatures reads, from the layers table as `l`.
#define WF_LAYER_COLUMNS \
  "l.key, l.type, l.macs, l.flops, l.params, l.input_elements, l.output_elements, l.params_json"

// A layer's features from WF_LAYER_COLUMNS starting at column `col`, per iteration at s->batch
// (the layers table holds per-sample features; a job runs `batch` samples).
void ReadLayerFeatures(const sqlite::Stmt& q, int col, LayerSample* s) {
  s->key = q.Text(col);
  s->type = q.Text(col + 1);
  const double b = static_cast<double>(s->batch);
  s->macs = static_cast<double>(q.Int(col + 2)) * b;
  s->flops = static_cast<double>(q.Int(col + 3)) * b;
  s->params = static_cast<double>(q.Int(col + 4));
  s->input_elements = static_cast<double>(q.Int(col + 5)) * b;
  s->output_elements = static_cast<double>(q.Int(col + 6)) * b;
  const auto params = nlohmann::json::parse(q.Text(col + 7), nullptr, false);
  if (params.is_object()) {
    s->kernel = Param(params, "kernel_size");
    s->stride = Param(params, "stride");
    s->groups = Param(params, "groups");
  }
}

// Imported rows that name a layer or a zoo architecture (import_layers.h) train the
// layer-wise estimators like the dataset's own measurements, under the device name the
// mapping gave. Their campaign is "import:SOURCE".
Status AddImportedRecords(sqlite3* db, TrainingData* data) {
  // Datasets from before schema version 3 have no imports.
  auto has = sqlite::Stmt::Prepare(
      db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'external_measurements'");
  if (!has.ok()) return has.status();
  WF_ASSIGN_OR_RETURN(bool exists, has->Step());
  if (!exists) return Status::OK();
  auto q = sqlite::Stmt::Prepare(
      db, "SELECT m.device, m.name, m.family, m.time_s, m.energy_j, m.features_json, i.source, "
          "m.row FROM external_measurements m JOIN imports i ON i.id = m.import_id "
          "ORDER BY m.id");
  if (!q.ok()) return q.status();
  for (;;) {
    WF_ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) break;
    const auto features = nlohmann::json::parse(q->Text(5), nullptr, false);
    if (!features.is_object()) continue;
    const std::string where = "import " + q->Text(6) + " row " + std::to_string(q->Int(7));
    try {
      if (auto layer = features.find("layer"); layer != features.end() && layer->is_object()) {
        LayerSample s;
        s.device_class = q->Text(0);
        s.mode = layer->at("mode").get<std::string>();
        s.campaign = "import:" + q->Text(6);
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
        s.time_s = q->IsNull(3) ? 0.0 : q->Double(3);
        s.energy_j = q->IsNull(4) ? 0.0 : q->Double(4);
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
                                                   q->Text(0), mode));
        for (const auto& [key, layer] : sample.catalog) {
          data->layer_features.emplace(key, AtBatch(layer, 1));
        }
        ModelSample m = std::move(sample.model);
        m.name = q->Text(1);
        if (!q->Text(2).empty()) m.family = q->Text(2);
        m.campaign = "import:" + q->Text(6);
        m.time_s = q->IsNull(3) ? 0.0 : q->Double(3);
        m.energy_j = q->IsNull(4) ? 0.0 : q->Double(4);
        m.energy_dynamic_j = m.energy_j;
        data->models.push_back(std::move(m));
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(where + ": malformed layer or zoo record: " + e.what());
    }
  }
  return Status::OK();
}

}  // namespace

std::vector<std::string> TrainingData::DeviceClasses() const {
  std::set<std::string> classes;
  for (const auto& l : layers) classes.insert(l.device_class);
  for (const auto& m : models) classes.insert(m.device_class);
  return {classes.begin(), classes.end()};
}

Result<TrainingData> LoadTrainingData(const std::string& db_path,
                                      const TrainingDataOptions& options) {
  WF_ASSIGN_OR_RETURN(sqlite::DbPtr db, sqlite::OpenDatasetReadOnly(db_path));

  TrainingData data;
  // Whether the row's measurement is left out: its flags are in its payload (older ones have
  // none, and their ci_met column says whether the CI target was met).
  auto left_out = [&](const sqlite::Stmt& q, int ci_met_col, int payload_col) {
    if (options.include_flagged) return false;
    bool flagged = q.Int(ci_met_col) == 0;
    if (!flagged) {
      auto m = DecodeMeasurement(q.BlobAt(payload_col));
      flagged = m.ok() && !QualityFlags(*m).empty();
    }
    if (flagged) ++data.flagged_left_out;
    return flagged;
  };
  {
    auto q = sqlite::Stmt::Prepare(
        db.get(),
        "SELECT j.device_class, j.mode, j.batch, m.energy_per_iter_j, "
        "m.energy_dynamic_per_iter_j, m.time_per_iter_s, COALESCE(c.name, ''), "
        "m.energy_is_estimate, m.ci_met, m.payload, " WF_LAYER_COLUMNS
        " FROM measurements m JOIN jobs j ON j.id = m.job_id "
        "JOIN layers l ON l.key = j.subject LEFT JOIN campaigns c ON c.id = j.campaign_id "
        "WHERE j.kind = 'layer' ORDER BY m.id");
    if (!q.ok()) {
      return Status::InvalidArgument("--db " + db_path + ": not a wattfleet dataset (" +
                                     q.status().message() + ")");
    }
    for (;;) {
      WF_ASSIGN_OR_RETURN(bool row, q->Step());
      if (!row) break;
      if (left_out(*q, 8, 9)) continue;
      LayerSample s;
      s.device_class = q->Text(0);
      s.mode = q->Text(1);
      s.batch = q->Int(2);
      s.energy_j = q->Double(3);
      s.energy_dynamic_j = q->Double(4);
      s.time_s = q->Double(5);
      s.campaign = q->Text(6);
      s.energy_is_estimate = q->Int(7) != 0;
      ReadLayerFeatures(*q, 10, &s);
      data.layers.push_back(std::move(s));
    }
  }
  {
    // Every layer the dataset knows, measured or not (whole-model-only campaigns plan their
    // layers without measuring them): features at batch 1.
    auto q = sqlite::Stmt::Prepare(db.get(), "SELECT " WF_LAYER_COLUMNS " FROM layers l");
    if (!q.ok()) return q.status();
    for (;;) {
      WF_ASSIGN_OR_RETURN(bool row, q->Step());
      if (!row) break;
      LayerSample s;
      ReadLayerFeatures(*q, 0, &s);
      std::string key = s.key;
      data.layer_features.emplace(std::move(key), std::move(s));
    }
  }
  {
    // Model jobs have an architecture row in their campaign; probes do not (THOR reads what it
    // needs of them from their names, AddThorView).
    auto q = sqlite::Stmt::Prepare(
        db.get(),
        "SELECT j.device_class, j.mode, j.subject, COALESCE(a.family, ''), j.kind, j.batch, "
        "COALESCE(a.macs, 0), COALESCE(a.flops, 0), COALESCE(a.params, 0), a.id, "
        "m.energy_per_iter_j, m.energy_dynamic_per_iter_j, m.time_per_iter_s, j.spec, "
        "COALESCE(a.input_shape, ''), COALESCE(d.capabilities_json, ''), COALESCE(c.name, ''), "
        "m.energy_is_estimate, m.ci_met, m.payload "
        "FROM measurements m JOIN jobs j ON j.id = m.job_id "
        "LEFT JOIN architectures a ON a.campaign_id = j.campaign_id AND a.name = j.subject "
        "LEFT JOIN devices d ON d.name = m.agent "
        "LEFT JOIN campaigns c ON c.id = j.campaign_id "
        "WHERE j.kind <> 'layer' ORDER BY m.id");
    if (!q.ok()) return q.status();
    auto nodes = sqlite::Stmt::Prepare(
        db.get(), "SELECT layer_key FROM arch_layers WHERE architecture_id = ? ORDER BY position");
    if (!nodes.ok()) return nodes.status();
    std::map<int64_t, std::vector<std::string>> layer_keys_of;
    ThorViews thor_views;
    for (;;) {
      WF_ASSIGN_OR_RETURN(bool row, q->Step());
      if (!row) break;
      if (left_out(*q, 18, 19)) continue;
      ModelSample s;
      s.device_class = q->Text(0);
      s.mode = q->Text(1);
      s.name = q->Text(2);
      s.family = q->Text(3);
      s.kind = q->Text(4);
      s.batch = q->Int(5);
      const double b = static_cast<double>(s.batch);
      s.macs = static_cast<double>(q->Int(6)) * b;
      s.flops = static_cast<double>(q->Int(7)) * b;
      s.params = static_cast<double>(q->Int(8));
      if (!q->IsNull(9)) {
        // Repeats of one architecture share its layer list: read it once.
        const int64_t arch_id = q->Int(9);
        auto known = layer_keys_of.find(arch_id);
        if (known == layer_keys_of.end()) {
          std::vector<std::string> keys;
          nodes->Reset();
          nodes->Bind(1, arch_id);
          for (;;) {
            WF_ASSIGN_OR_RETURN(bool n, nodes->Step());
            if (!n) break;
            keys.push_back(nodes->Text(0));
          }
          known = layer_keys_of.emplace(arch_id, std::move(keys)).first;
        }
        s.layer_keys = known->second;
      }
      s.energy_j = q->Double(10);
      s.energy_dynamic_j = q->Double(11);
      s.time_s = q->Double(12);
      AddThorView(s, q->BlobAt(13), &thor_views);
      // PRE's features: the network input and the measuring agent's device.
      s.input_size = InputSize(q->Text(14));
      s.device = DeviceOf(q->Text(15));
      s.campaign = q->Text(16);
      s.energy_is_estimate = q->Int(17) != 0;
      data.models.push_back(std::move(s));
    }
  }
  // Whole models whose layers sum to far more or less than they took themselves: one of the
  // two was disturbed (layer_sum.h). Only where every layer is measured, so that flagged
  // layers left out above make the check moot rather than wrong.
  if (!options.include_flagged) {
    data.layer_sum_left_out = DropLayerSumOutliers(&data);
    data.flagged_left_out += data.layer_sum_left_out;
  }
  WF_RETURN_IF_ERROR(AddImportedRecords(db.get(), &data));
  return data;
}

}  // namespace wattfleet
