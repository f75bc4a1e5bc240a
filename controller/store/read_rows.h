// Private to the store: the queries of DatasetReader and how their rows become records, shared
// by both backends. Each backend runs the SQL (written to mean the same on SQLite and
// PostgreSQL) and hands every row to these functions through a small adapter with Int,
// Double, Bool, Text, Bytes and IsNull by column.
#pragma once

#include <functional>
#include <optional>

#include <spdlog/spdlog.h>
#include <string>

#include "measurement_columns.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet::read_rows {

inline constexpr const char* kLayersSql =
    "SELECT key, type, macs, flops, params, input_elements, output_elements, params_json "
    "FROM layers";

// Probes have no architecture row; model jobs find theirs by campaign and name. The
// measurement's own columns come last (measurement_columns.h); `has_column` says which the
// dataset has: an older dataset, read without being upgraded, lacks the newest, which read as
// NULL (not measured).
inline std::string MeasurementsSql(const std::function<bool(const std::string&)>& has_column) {
  std::string figures;
  for (const measurement_columns::Column& c : measurement_columns::Columns()) {
    if (!figures.empty()) figures += ", ";
    figures += has_column(c.name) ? std::string("m.") + c.name : std::string("NULL");
  }
  return "SELECT m.id, j.campaign_id, COALESCE(c.name, ''), j.kind, j.subject, "
         "j.device_class, j.mode, j.batch, m.agent, m.created_ms, j.spec, "
         "COALESCE(d.capabilities_json, ''), a.id, COALESCE(a.family, ''), "
         "COALESCE(a.input_shape, ''), COALESCE(a.macs, 0), COALESCE(a.flops, 0), "
         "COALESCE(a.params, 0), " +
         figures +
         " FROM measurements m JOIN jobs j ON j.id = m.job_id "
         "LEFT JOIN campaigns c ON c.id = j.campaign_id "
         "LEFT JOIN devices d ON d.name = m.agent "
         "LEFT JOIN architectures a ON j.kind <> 'layer' AND a.campaign_id = j.campaign_id "
         "AND a.name = j.subject "
         "ORDER BY m.id";
}
inline constexpr int kMeasurementFirstFigure = 18;

inline constexpr const char* kArchitectureLayersSql =
    "SELECT layer_key FROM arch_layers WHERE architecture_id = $1 ORDER BY position";

inline constexpr const char* kArchitecturesSql =
    "SELECT a.id, a.campaign_id, COALESCE(c.name, ''), a.name, a.family, a.input_shape, a.macs, "
    "a.flops, a.params, (SELECT COUNT(*) FROM arch_layers l WHERE l.architecture_id = a.id) "
    "FROM architectures a LEFT JOIN campaigns c ON c.id = a.campaign_id ORDER BY a.id";

inline constexpr const char* kCampaignsSql = "SELECT id, name, state FROM campaigns ORDER BY id";
inline constexpr const char* kJobCountsSql =
    "SELECT campaign_id, state, COUNT(*) FROM jobs GROUP BY campaign_id, state";

inline constexpr const char* kImportedSql =
    "SELECT m.device, m.name, m.family, m.time_s, m.energy_j, m.features_json, i.source, "
    "m.row FROM external_measurements m JOIN imports i ON i.id = m.import_id ORDER BY m.id";

template <typename Row>
LayerRecord LayerFrom(const Row& r) {
  LayerRecord l;
  l.key = r.Text(0);
  l.type = r.Text(1);
  l.macs = r.Int(2);
  l.flops = r.Int(3);
  l.params = r.Int(4);
  l.input_elements = r.Int(5);
  l.output_elements = r.Int(6);
  l.params_json = r.Text(7);
  return l;
}

template <typename Row>
ArchitectureRecord ArchitectureFrom(const Row& r) {
  ArchitectureRecord a;
  a.id = r.Int(0);
  a.campaign_id = r.Int(1);
  a.campaign = r.Text(2);
  a.name = r.Text(3);
  a.family = r.Text(4);
  a.input_shape = r.Text(5);
  a.macs = r.Int(6);
  a.flops = r.Int(7);
  a.params = r.Int(8);
  a.layers = r.Int(9);
  return a;
}

// nullopt for a job of a kind this build does not know (a newer build's), or figures that
// cannot be read back: such rows are passed over with a warning, as the other measurements
// stay usable.
template <typename Row>
std::optional<MeasurementRecord> MeasurementFrom(const Row& r) {
  MeasurementRecord m;
  m.id = r.Int(0);
  m.campaign_id = r.Int(1);
  m.campaign = r.Text(2);
  const std::string kind = r.Text(3);
  const std::optional<JobKind> parsed = ParseJobKind(kind);
  if (!parsed) {
    spdlog::warn("measurement {}: its job has kind '{}', which this build does not know; "
                 "left out",
                 m.id, kind);
    return std::nullopt;
  }
  m.kind = *parsed;
  m.subject = r.Text(4);
  m.device_class = r.Text(5);
  m.mode = r.Text(6);
  m.batch = r.Int(7);
  m.agent = r.Text(8);
  m.created_ms = r.Int(9);
  m.spec = r.Bytes(10);
  m.capabilities_json = r.Text(11);
  if (!r.IsNull(12)) m.architecture_id = r.Int(12);
  m.family = r.Text(13);
  m.input_shape = r.Text(14);
  m.arch_macs = r.Int(15);
  m.arch_flops = r.Int(16);
  m.arch_params = r.Int(17);
  auto figures = measurement_columns::From(r, kMeasurementFirstFigure, &m.repeats_json);
  if (!figures.ok()) {
    spdlog::warn("measurement {}: {}; left out", m.id, figures.status().ToString());
    return std::nullopt;
  }
  m.m = std::move(figures).value();
  return m;
}

template <typename Row>
ImportedRecord ImportedFrom(const Row& r) {
  ImportedRecord i;
  i.device = r.Text(0);
  i.name = r.Text(1);
  i.family = r.Text(2);
  if (!r.IsNull(3)) i.time_s = r.Double(3);
  if (!r.IsNull(4)) i.energy_j = r.Double(4);
  i.features_json = r.Text(5);
  i.source = r.Text(6);
  i.row = r.Int(7);
  return i;
}

// Adds a (campaign_id, state, count) row to its campaign.
inline void AddJobCount(int64_t campaign_id, const std::string& state, int64_t count,
                        std::vector<CampaignRecord>* campaigns) {
  for (CampaignRecord& c : *campaigns) {
    if (c.id == campaign_id) {
      c.jobs[state] = count;
      return;
    }
  }
}

}  // namespace wattfleet::read_rows
