// One row of the export (store.h, ExportRow) from the columns every store backend selects
// for it, so that SQLite and PostgreSQL datasets export the same rows the same way.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "measurement_columns.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {

// The architectures containing each layer, by (campaign id, layer key): a layer row's
// `architecture` column.
using LayerArchitectureMap = std::map<std::pair<int64_t, std::string>, std::set<std::string>>;

// The export's query, the same on both backends but for how the optional campaign id is
// written (`campaign_param`: "?1" for SQLite, "$1::bigint" for PostgreSQL). Its columns are
// those ExportRowFrom reads, in its order: the job's and its campaign's, then the measurement's
// (measurement_columns.h).
inline std::string ExportSql(const std::string& campaign_param) {
  return "SELECT m.job_id, m.attempt, m.agent, m.created_ms, "
         "j.campaign_id, c.name, j.kind, j.subject, j.device_class, j.mode, j.dtype, "
         "j.batch, l.type, l.macs, l.flops, l.params, a.macs, a.flops, a.params, j.spec, " +
         measurement_columns::List("m.") +
         " FROM measurements m JOIN jobs j ON j.id = m.job_id "
         "JOIN campaigns c ON c.id = j.campaign_id "
         "LEFT JOIN layers l ON j.kind = 'layer' AND l.key = j.subject "
         "LEFT JOIN architectures a ON j.kind <> 'layer' "
         "AND a.campaign_id = j.campaign_id AND a.name = j.subject "
         "WHERE " + campaign_param + " IS NULL OR j.campaign_id = " + campaign_param +
         " ORDER BY m.job_id";
}
inline constexpr int kExportMeasurementColumn = 20;  // the first of the measurement's

// `row` reads column k of the current row: Int(k), Double(k), Bool(k), Text(k), Bytes(k) (a
// BLOB or BYTEA's bytes) and IsNull(k). Corruption-style errors name the job.
template <class Row>
Result<ExportRow> ExportRowFrom(const Row& row, const LayerArchitectureMap& layer_archs) {
  ExportRow r;
  r.job_id = row.Int(0);
  r.attempt = static_cast<int32_t>(row.Int(1));
  r.device = row.Text(2);
  r.measured_at_ms = row.Int(3);
  const std::string label = "job " + std::to_string(r.job_id);
  auto m = measurement_columns::From(row, kExportMeasurementColumn);
  if (!m.ok()) return m.status().WithContext("stored measurement of " + label);
  r.m = std::move(m).value();
  r.campaign_id = row.Int(4);
  r.campaign = row.Text(5);
  const std::string kind = row.Text(6);
  const std::optional<JobKind> parsed = ParseJobKind(kind);
  if (!parsed) return Status::Corruption(label + " has unknown kind '" + kind + "'");
  r.kind = *parsed;
  const std::string subject = row.Text(7);
  r.device_class = row.Text(8);
  r.mode = row.Text(9);
  r.dtype = row.Text(10);
  r.batch = row.Int(11);
  int64_t macs = 0, flops = 0;
  if (r.kind == JobKind::kLayer) {
    r.layer_key = subject;
    r.layer_type = row.Text(12);
    macs = row.Int(13);
    flops = row.Int(14);
    r.params = row.Int(15);
    const auto it = layer_archs.find({r.campaign_id, subject});
    if (it != layer_archs.end()) {
      for (const std::string& name : it->second) {
        if (!r.architecture.empty()) r.architecture += ';';
        r.architecture += name;
      }
    }
  } else if (r.kind == JobKind::kWindow) {
    // A window of a program's own code: named, with no layers, so no MACs or parameters.
    r.architecture = subject;
  } else if (!row.IsNull(16)) {
    r.architecture = subject;
    macs = row.Int(16);
    flops = row.Int(17);
    r.params = row.Int(18);
  } else {
    // Probe models (and anything else without an architecture row): the features of the
    // graph the agent actually ran.
    auto spec = DecodeJob(row.Bytes(19));
    if (!spec.ok()) return spec.status().WithContext("stored spec of " + label);
    r.architecture = subject;
    const LayerFeatures totals = spec->graph.Totals();
    macs = totals.macs;
    flops = totals.flops;
    r.params = totals.params;
  }
  r.macs = macs * r.batch;
  r.flops = flops * r.batch;
  return r;
}

}  // namespace wattfleet
