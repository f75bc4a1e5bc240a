// Private to the store: the queries of DatasetReader and how their rows become records, shared
// by both backends. Each backend runs the SQL (written to mean the same on SQLite and
// PostgreSQL) and hands every row to these functions through a small adapter with Int,
// Double, Bool, Text, Bytes and IsNull by column.
#pragma once

#include <functional>
#include <optional>

#include <spdlog/spdlog.h>
#include <string>
#include <type_traits>

#include "measurement_columns.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet::read_rows {

inline constexpr const char* kLayersSql =
    "SELECT key, type, macs, flops, params, input_elements, output_elements, params_json, "
    "input_shape, output_shape FROM layers";

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
         "COALESCE(a.params, 0), m.job_id, " +
         figures +
         " FROM measurements m JOIN jobs j ON j.id = m.job_id "
         "LEFT JOIN campaigns c ON c.id = j.campaign_id "
         "LEFT JOIN devices d ON d.name = m.agent "
         "LEFT JOIN architectures a ON j.kind <> 'layer' AND a.campaign_id = j.campaign_id "
         "AND a.name = j.subject "
         "ORDER BY m.id";
}
inline constexpr int kMeasurementFirstFigure = 19;

inline constexpr const char* kArchitectureLayersSql =
    "SELECT layer_key FROM arch_layers WHERE architecture_id = $1 ORDER BY position";
inline constexpr const char* kArchitectureNodesSql =
    "SELECT node_name FROM arch_layers WHERE architecture_id = $1 ORDER BY position";

inline constexpr const char* kArchitecturesSql =
    "SELECT a.id, a.campaign_id, COALESCE(c.name, ''), a.name, a.family, a.input_shape, a.macs, "
    "a.flops, a.params, (SELECT COUNT(*) FROM arch_layers l WHERE l.architecture_id = a.id), "
    "a.output_shape FROM architectures a LEFT JOIN campaigns c ON c.id = a.campaign_id "
    "ORDER BY a.id";

inline constexpr const char* kCampaignsSql =
    "SELECT id, name, state, yaml, created_ms, COALESCE(finished_ms, 0), mode, dtype, batch "
    "FROM campaigns ORDER BY id";
inline constexpr const char* kJobCountsSql =
    "SELECT campaign_id, state, COUNT(*) FROM jobs GROUP BY campaign_id, state";

inline constexpr const char* kImportedSql =
    "SELECT m.device, m.name, m.family, m.time_s, m.energy_j, m.features_json, i.source, "
    "m.row FROM external_measurements m JOIN imports i ON i.id = m.import_id ORDER BY m.id";

// Reads the row's columns from `first` on into `out...`, in order, each by its own type: the
// SELECT's column list and the record's fields are then written side by side, once.
template <typename Row, typename... Fields>
void ReadColumns(const Row& r, int first, Fields&... out) {
  int column = first;
  const auto read = [&](auto& field) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::string>) {
      field = r.Text(column);
    } else if constexpr (std::is_floating_point_v<T>) {
      field = r.Double(column);
    } else {
      static_assert(std::is_same_v<T, int64_t>, "a column is text, a double or an integer");
      field = r.Int(column);
    }
    ++column;
  };
  (read(out), ...);
}

template <typename Row>
LayerRecord LayerFrom(const Row& r) {
  LayerRecord l;
  ReadColumns(r, 0, l.key, l.type, l.macs, l.flops, l.params, l.input_elements,
              l.output_elements, l.params_json, l.input_shape, l.output_shape);
  return l;
}

template <typename Row>
ArchitectureRecord ArchitectureFrom(const Row& r) {
  ArchitectureRecord a;
  ReadColumns(r, 0, a.id, a.campaign_id, a.campaign, a.name, a.family, a.input_shape, a.macs,
              a.flops, a.params, a.layers, a.output_shape);
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
  ReadColumns(r, 4, m.subject, m.device_class, m.mode, m.batch, m.agent, m.created_ms);
  m.spec = r.Bytes(10);
  m.capabilities_json = r.Text(11);
  if (!r.IsNull(12)) m.architecture_id = r.Int(12);
  ReadColumns(r, 13, m.family, m.input_shape, m.arch_macs, m.arch_flops, m.arch_params,
              m.job_id);
  auto figures = measurement_columns::From(r, kMeasurementFirstFigure, &m.repeats_json);
  if (!figures.ok()) {
    spdlog::warn("measurement {}: {}; left out", m.id, figures.status().ToString());
    return std::nullopt;
  }
  m.m = std::move(figures).value();
  return m;
}

template <typename Row>
CampaignRecord CampaignFrom(const Row& r) {
  CampaignRecord c;
  ReadColumns(r, 0, c.id, c.name, c.state, c.yaml, c.created_ms, c.finished_ms, c.mode, c.dtype,
              c.batch);
  return c;
}

template <typename Row>
ImportedRecord ImportedFrom(const Row& r) {
  ImportedRecord i;
  ReadColumns(r, 0, i.device, i.name, i.family);
  if (!r.IsNull(3)) i.time_s = r.Double(3);
  if (!r.IsNull(4)) i.energy_j = r.Double(4);
  ReadColumns(r, 5, i.features_json, i.source, i.row);
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
