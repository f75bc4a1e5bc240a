// The PostgreSQL dataset's export: every measurement with its layer and architecture context,
// read inside the reader's snapshot while other controllers keep writing.
#include <map>
#include <set>
#include <string>
#include <utility>

#include "export_row.h"
#include "pg_store.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace pg {

namespace {

// For each (campaign, layer key): the names of the campaign's architectures containing it.
Result<LayerArchitectureMap> LayerArchitectures(PGconn* c, std::optional<int64_t> campaign_id) {
  WF_ASSIGN_OR_RETURN(const Rows q, Exec(c,
                                         "SELECT a.campaign_id, al.layer_key, a.name "
                                         "FROM arch_layers al JOIN architectures a "
                                         "ON a.id = al.architecture_id "
                                         "WHERE $1::bigint IS NULL OR a.campaign_id = $1::bigint",
                                         Params().Add(campaign_id)));
  LayerArchitectureMap out;
  for (int row = 0; row < q.size(); ++row) {
    out[{q.Int(row, 0), q.Text(row, 1)}].insert(q.Text(row, 2));
  }
  return out;
}

}  // namespace

Result<std::vector<ExportRow>> ReadExportRows(PGconn* c, std::optional<int64_t> campaign_id) {
  WF_ASSIGN_OR_RETURN(auto layer_archs, LayerArchitectures(c, campaign_id));
  static const std::string kExportSql = ExportSql("$1::bigint");
  WF_ASSIGN_OR_RETURN(const Rows q, Exec(c, kExportSql, Params().Add(campaign_id)));
  std::vector<ExportRow> rows;
  rows.reserve(static_cast<size_t>(q.size()));
  for (int i = 0; i < q.size(); ++i) {
    WF_ASSIGN_OR_RETURN(ExportRow r, ExportRowFrom(q.At(i), layer_archs));
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace pg
}  // namespace wattfleet
