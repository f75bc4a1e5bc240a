// What a package holds (package_tables.h): the published campaigns' measurements with what they
// refer to, read through the read side, and the tables the files present.
#include "package_tables.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "wattfleet/common/job.h"
#include "wattfleet/common/protocol.h"
#include "wattfleet/common/text.h"

namespace wattfleet::package {
namespace {

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"";
    for (const char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"";
  }
  return out + "]";
}

// The figures the datasheet and the provenance count over the measurements.
void Count(Content& c) {
  for (const ExportRow& r : c.measurements) {
    const Measurement& m = r.m;
    ++c.kinds[std::string(JobKindName(r.kind))];
    for (const std::string& f : QualityFlags(m)) ++c.flags[f];
    (m.energy_is_estimate ? c.modeled : c.metered) += 1;
    c.windows += static_cast<int64_t>(m.repeats.size());
    SensorUse& s = c.sensors[m.sensor];
    ++s.measurements;
    s.estimated += m.energy_is_estimate ? 1 : 0;
    if (!m.domain.empty()) s.domains.insert(m.domain);
    if (m.sensor_update_period_s > 0) {
      s.min_update_s = s.min_update_s > 0 ? std::min(s.min_update_s, m.sensor_update_period_s)
                                          : m.sensor_update_period_s;
      s.max_update_s = std::max(s.max_update_s, m.sensor_update_period_s);
    }
    if (!m.agent_version.empty()) c.agent_versions.insert(m.agent_version);
    if (!m.torch_version.empty()) c.torch_versions.insert(m.torch_version);
    if (!r.mode.empty()) c.modes.insert(r.mode);
    c.device_classes.insert(r.device_class);
    c.first_ms = c.first_ms == 0 ? r.measured_at_ms : std::min(c.first_ms, r.measured_at_ms);
    c.last_ms = std::max(c.last_ms, r.measured_at_ms);
  }
}

// The layers the measurements and the architectures name, in the dataset's order.
Status ReadLayers(DatasetReader& reader, Content& c) {
  std::set<std::string> named;
  for (const ExportRow& r : c.measurements) {
    if (!r.layer_key.empty()) named.insert(r.layer_key);
  }
  for (const auto& [id, keys] : c.architecture_layers) named.insert(keys.begin(), keys.end());
  WF_ASSIGN_OR_RETURN(std::vector<LayerRecord> layers, reader.Layers());
  for (LayerRecord& l : layers) {
    if (named.count(l.key) != 0) c.layers.push_back(std::move(l));
  }
  std::sort(c.layers.begin(), c.layers.end(),
            [](const LayerRecord& a, const LayerRecord& b) { return a.key < b.key; });
  return Status::OK();
}

}  // namespace

Result<Content> ReadContent(DatasetReader& reader, const std::vector<int64_t>& ids) {
  Content c;
  const std::set<int64_t> wanted(ids.begin(), ids.end());
  const auto published = [&](int64_t id) { return wanted.empty() || wanted.count(id) != 0; };
  WF_ASSIGN_OR_RETURN(std::vector<CampaignRecord> campaigns, reader.Campaigns());
  for (CampaignRecord& r : campaigns) {
    if (published(r.id)) c.campaigns.push_back(std::move(r));
  }
  if (wanted.empty()) {
    WF_ASSIGN_OR_RETURN(c.measurements, reader.ExportRows(std::nullopt));
  } else {
    for (const CampaignRecord& r : c.campaigns) {
      WF_ASSIGN_OR_RETURN(std::vector<ExportRow> rows, reader.ExportRows(r.id));
      for (ExportRow& row : rows) c.measurements.push_back(std::move(row));
    }
    std::sort(c.measurements.begin(), c.measurements.end(),
              [](const ExportRow& a, const ExportRow& b) { return a.job_id < b.job_id; });
  }
  WF_ASSIGN_OR_RETURN(std::vector<ArchitectureRecord> archs, reader.Architectures());
  for (ArchitectureRecord& a : archs) {
    if (!published(a.campaign_id)) continue;
    WF_ASSIGN_OR_RETURN(c.architecture_layers[a.id], reader.ArchitectureLayers(a.id));
    WF_ASSIGN_OR_RETURN(c.architecture_nodes[a.id], reader.ArchitectureNodes(a.id));
    c.architectures.push_back(std::move(a));
  }
  WF_RETURN_IF_ERROR(reader.ForEachMeasurement([&](const MeasurementRecord& r) -> Status {
    if (!published(r.campaign_id)) return Status::OK();
    c.job_specs[r.job_id] = r.spec;
    DeviceRow& d = c.devices[r.agent];
    d.device_class = r.device_class;
    if (!r.capabilities_json.empty()) d.capabilities_json = r.capabilities_json;
    return Status::OK();
  }));
  WF_RETURN_IF_ERROR(ReadLayers(reader, c));
  Count(c);
  return c;
}

namespace {

using Row = std::vector<ExportCell>;
using Emit = std::function<void(const Row&)>;

Table Measurements(const Content& c) {
  Table t;
  t.name = "measurements";
  t.description =
      "One row per stored measurement: a layer, a whole model, a THOR probe or a window of a "
      "program's own code, run on one device; energy and time are per iteration (one batch).";
  t.columns = ExportColumnInfo();
  t.key = {"job_id"};
  t.rows = static_cast<int64_t>(c.measurements.size());
  t.each = [&c](const Emit& emit) {
    for (const ExportRow& r : c.measurements) emit(ExportCells(r));
  };
  return t;
}

Table Repeats(const Content& c) {
  Table t;
  t.name = "repeats";
  t.description =
      "Every timed window of every measurement, as measured: the mean and spread of "
      "measurements.csv are taken over these.";
  t.columns = {
      {"job_id", "integer", "", "the measurement's job (measurements.job_id)"},
      {"window", "integer", "", "the window's place among the measurement's, from 0"},
      {"iterations", "integer", "", "iterations run in the window"},
      {"time_s", "number", "s", "wall time of the whole window"},
      {"energy_j", "number", "J", "meter energy over the whole window, idle included"},
  };
  t.key = {"job_id", "window"};
  t.references = {{"job_id", "measurements", "job_id"}};
  t.rows = c.windows;
  t.each = [&c](const Emit& emit) {
    for (const ExportRow& r : c.measurements) {
      for (size_t i = 0; i < r.m.repeats.size(); ++i) {
        const Repeat& w = r.m.repeats[i];
        emit({r.job_id, static_cast<int64_t>(i), w.iterations, w.time_s, w.energy_j});
      }
    }
  };
  return t;
}

Table Jobs(const Content& c) {
  Table t;
  t.name = "jobs";
  t.description =
      "Each measurement exactly as it was exchanged with the agent: the job it was sent and "
      "the measurement it sent back (MessagePack, hex-encoded), with the attempt, the agent "
      "and when it was stored. What `wattfleet import --package` reads.";
  t.columns = {
      {"job_id", "integer", "", "the job (measurements.job_id)"},
      {"campaign_id", "integer", "", "its campaign (campaigns.campaign_id)"},
      {"attempt", "integer", "", "the attempt whose result was stored"},
      {"agent", "string", "", "the agent that measured it (devices.name)"},
      {"measured_at_ms", "integer", "ms", "when the result was stored (Unix time)"},
      {"spec_msgpack_hex", "string", "", "the job's specification, MessagePack in hex"},
      {"measurement_msgpack_hex", "string", "", "every figure measured, MessagePack in hex"},
  };
  t.key = {"job_id"};
  t.references = {{"job_id", "measurements", "job_id"}};
  t.csv = false;  // encoded records: the JSON Lines file is for programs
  t.rows = static_cast<int64_t>(c.measurements.size());
  t.each = [&c](const Emit& emit) {
    for (const ExportRow& r : c.measurements) {
      const auto spec = c.job_specs.find(r.job_id);
      emit({r.job_id, r.campaign_id, int64_t{r.attempt}, r.device, r.measured_at_ms,
            spec == c.job_specs.end() ? std::string() : HexOf(spec->second), HexOf(Encode(r.m))});
    }
  };
  return t;
}

Table Layers(const Content& c) {
  Table t;
  t.name = "layers";
  t.description =
      "Every distinct layer the measurements and architectures name, with its features for "
      "one input sample.";
  t.columns = {
      {"key", "string", "", "canonical layer key: type, hyper-parameters and input shape"},
      {"type", "string", "", "layer type (Conv2d, Linear, ...)"},
      {"macs", "integer", "", "multiply-accumulates per sample"},
      {"flops", "integer", "", "floating-point operations per sample"},
      {"params", "integer", "", "trainable parameters"},
      {"input_elements", "integer", "", "input tensor elements per sample"},
      {"output_elements", "integer", "", "output tensor elements per sample"},
      {"params_json", "string", "", "hyper-parameters, a JSON object"},
      {"input_shape", "string", "", "one sample's input shape, a JSON list"},
      {"output_shape", "string", "", "one sample's output shape, a JSON list"},
  };
  t.key = {"key"};
  t.rows = static_cast<int64_t>(c.layers.size());
  t.each = [&c](const Emit& emit) {
    for (const LayerRecord& l : c.layers) {
      emit({l.key, l.type, l.macs, l.flops, l.params, l.input_elements, l.output_elements,
            l.params_json, l.input_shape, l.output_shape});
    }
  };
  return t;
}

Table Architectures(const Content& c) {
  Table t;
  t.name = "architectures";
  t.description =
      "The architectures of each campaign, features per input sample, with their layers in "
      "execution order.";
  t.columns = {
      {"campaign_id", "integer", "", "the campaign (measurements.campaign_id)"},
      {"campaign", "string", "", "its name"},
      {"name", "string", "", "the architecture (measurements.architecture for model jobs)"},
      {"family", "string", "", "its family (resnet, vit, ...)"},
      {"input_shape", "string", "", "one sample's input shape, a JSON list"},
      {"macs", "integer", "", "multiply-accumulates per sample"},
      {"flops", "integer", "", "floating-point operations per sample"},
      {"params", "integer", "", "trainable parameters"},
      {"layers", "integer", "", "nodes"},
      {"layer_keys", "string", "", "the nodes' layer keys in order, a JSON list (layers.key)"},
      {"node_names", "string", "", "the nodes' names in the same order, a JSON list"},
      {"output_shape", "string", "", "one sample's output shape, a JSON list"},
  };
  t.key = {"campaign_id", "name"};
  t.rows = static_cast<int64_t>(c.architectures.size());
  t.each = [&c](const Emit& emit) {
    for (const ArchitectureRecord& a : c.architectures) {
      emit({a.campaign_id, a.campaign, a.name, a.family, a.input_shape, a.macs, a.flops,
            a.params, a.layers, JsonList(c.architecture_layers.at(a.id)),
            JsonList(c.architecture_nodes.at(a.id)), a.output_shape});
    }
  };
  return t;
}

Table Devices(const Content& c) {
  Table t;
  t.name = "devices";
  t.description =
      "The agents that measured, with what each reported of its device and sensors when it "
      "registered.";
  t.columns = {
      {"name", "string", "", "the agent (measurements.device)"},
      {"device_class", "string", "", "its device class"},
      {"capabilities_json", "string", "",
       "the agent's description of its device, meter and sensor, a JSON object"},
  };
  t.key = {"name"};
  t.rows = static_cast<int64_t>(c.devices.size());
  t.each = [&c](const Emit& emit) {
    for (const auto& [name, d] : c.devices) emit({name, d.device_class, d.capabilities_json});
  };
  return t;
}

}  // namespace

std::string CampaignFile(const CampaignRecord& r) {
  std::string safe;
  for (const char ch : r.name) {
    const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
    safe += plain ? ch : '_';
  }
  return "campaigns/" + std::to_string(r.id) + "-" + safe.substr(0, 64) + ".yaml";
}

namespace {

Table Campaigns(const Content& c) {
  Table t;
  t.name = "campaigns";
  t.description = "The published campaigns; each one's file, verbatim, is under campaigns/.";
  t.columns = {
      {"campaign_id", "integer", "", "the campaign (measurements.campaign_id)"},
      {"name", "string", "", "its name"},
      {"state", "string", "", "running, done or cancelled when published"},
      {"created_ms", "integer", "ms", "when it was submitted (Unix time)"},
      {"finished_ms", "integer", "ms", "when it ended (Unix time); empty while running"},
      {"yaml_file", "string", "", "the campaign file as submitted, in this package"},
      {"mode", "string", "", "inference or training"},
      {"dtype", "string", "", "the tensors' element type"},
      {"batch", "integer", "", "its first batch size"},
  };
  t.key = {"campaign_id"};
  t.rows = static_cast<int64_t>(c.campaigns.size());
  t.each = [&c](const Emit& emit) {
    for (const CampaignRecord& r : c.campaigns) {
      ExportCell finished;  // missing while it runs
      if (r.finished_ms > 0) finished = r.finished_ms;
      emit({r.id, r.name, r.state, r.created_ms, finished, CampaignFile(r), r.mode, r.dtype,
            r.batch});
    }
  };
  return t;
}

}  // namespace

std::vector<Table> TablesOf(const Content& c) {
  return {Measurements(c), Repeats(c), Jobs(c), Layers(c), Architectures(c), Devices(c),
          Campaigns(c)};
}

}  // namespace wattfleet::package
