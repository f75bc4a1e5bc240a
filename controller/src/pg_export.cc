// The PostgreSQL store's export: every measurement with its layer and architecture context,
// read in one snapshot while other controllers keep writing.
#include <map>
#include <set>
#include <string>
#include <utility>

#include "pg_store.h"
#include "store.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace pg {

namespace {

std::string JobLabel(int64_t job_id) { return "job " + std::to_string(job_id); }

// For each (campaign, layer key): the names of the campaign's architectures containing it.
Result<std::map<std::pair<int64_t, std::string>, std::set<std::string>>>
LayerArchitectures(PGconn* c, std::optional<int64_t> campaign_id) {
  WF_ASSIGN_OR_RETURN(const Rows q, Exec(c,
                                         "SELECT a.campaign_id, al.layer_key, a.name "
                                         "FROM arch_layers al JOIN architectures a "
                                         "ON a.id = al.architecture_id "
                                         "WHERE $1::bigint IS NULL OR a.campaign_id = $1::bigint",
                                         Params().Add(campaign_id)));
  std::map<std::pair<int64_t, std::string>, std::set<std::string>> out;
  for (int row = 0; row < q.size(); ++row) {
    out[{q.Int(row, 0), q.Text(row, 1)}].insert(q.Text(row, 2));
  }
  return out;
}

}  // namespace

Result<std::vector<ExportRow>> ExportRows(PGconn* c, std::optional<int64_t> campaign_id) {
  // One snapshot, so that the rows and the architecture lists agree while other controllers
  // keep writing.
  WF_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c, Transaction::Kind::kSnapshot));
  WF_ASSIGN_OR_RETURN(auto layer_archs, LayerArchitectures(c, campaign_id));
  WF_ASSIGN_OR_RETURN(
      const Rows q,
      Exec(c,
           "SELECT m.job_id, m.attempt, m.agent, m.created_ms, m.payload, "
           "j.campaign_id, c.name, j.kind, j.subject, j.device_class, j.mode, j.dtype, "
           "j.batch, l.type, l.macs, l.flops, l.params, a.macs, a.flops, a.params, j.spec "
           "FROM measurements m JOIN jobs j ON j.id = m.job_id "
           "JOIN campaigns c ON c.id = j.campaign_id "
           "LEFT JOIN layers l ON j.kind = 'layer' AND l.key = j.subject "
           "LEFT JOIN architectures a ON j.kind <> 'layer' "
           "AND a.campaign_id = j.campaign_id AND a.name = j.subject "
           "WHERE $1::bigint IS NULL OR j.campaign_id = $1::bigint "
           "ORDER BY m.job_id",
           Params().Add(campaign_id)));
  WF_RETURN_IF_ERROR(tx.Commit());
  std::vector<ExportRow> rows;
  rows.reserve(static_cast<size_t>(q.size()));
  for (int i = 0; i < q.size(); ++i) {
    ExportRow r;
    r.job_id = q.Int(i, 0);
    r.attempt = static_cast<int32_t>(q.Int(i, 1));
    r.device = q.Text(i, 2);
    r.measured_at_ms = q.Int(i, 3);
    auto m = DecodeMeasurement(q.BytesAt(i, 4));
    if (!m.ok()) return m.status().WithContext("stored measurement of " + JobLabel(r.job_id));
    r.m = std::move(m).value();
    r.campaign_id = q.Int(i, 5);
    r.campaign = q.Text(i, 6);
    r.kind = q.Text(i, 7);
    const std::string subject = q.Text(i, 8);
    r.device_class = q.Text(i, 9);
    r.mode = q.Text(i, 10);
    r.dtype = q.Text(i, 11);
    r.batch = q.Int(i, 12);
    int64_t macs = 0, flops = 0;
    if (r.kind == "layer") {
      r.layer_key = subject;
      r.layer_type = q.Text(i, 13);
      macs = q.Int(i, 14);
      flops = q.Int(i, 15);
      r.params = q.Int(i, 16);
      const auto it = layer_archs.find({r.campaign_id, subject});
      if (it != layer_archs.end()) {
        for (const std::string& name : it->second) {
          if (!r.architecture.empty()) r.architecture += ';';
          r.architecture += name;
        }
      }
    } else if (!q.IsNull(i, 17)) {
      r.architecture = subject;
      macs = q.Int(i, 17);
      flops = q.Int(i, 18);
      r.params = q.Int(i, 19);
    } else {
      // Probe models (and anything else without an architecture row): the features of the
      // graph the agent actually ran.
      auto spec = DecodeJob(q.BytesAt(i, 20));
      if (!spec.ok()) return spec.status().WithContext("stored spec of " + JobLabel(r.job_id));
      r.architecture = subject;
      const LayerFeatures totals = spec->graph.Totals();
      macs = totals.macs;
      flops = totals.flops;
      r.params = totals.params;
    }
    r.macs = macs * r.batch;
    r.flops = flops * r.batch;
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace pg
}  // namespace wattfleet
