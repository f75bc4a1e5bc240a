// The SQLite dataset's export rows, read inside the caller's transaction (the read side's
// snapshot, DatasetReader::ExportRows).
#include <map>
#include <set>
#include <string>
#include <utility>

#include "export_row.h"
#include "sqlite_store.h"

namespace wattfleet::sqlite {
namespace {

// For each (campaign, layer key): the names of the campaign's architectures containing it.
Result<LayerArchitectureMap> LayerArchitectures(sqlite3* db, std::optional<int64_t> campaign_id) {
  WF_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, "SELECT a.campaign_id, al.layer_key, a.name "
                                                "FROM arch_layers al JOIN architectures a "
                                                "ON a.id = al.architecture_id "
                                                "WHERE ?1 IS NULL OR a.campaign_id = ?1"));
  q.Bind(1, campaign_id);
  LayerArchitectureMap out;
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    out[{q.Int(0), q.Text(1)}].insert(q.Text(2));
  }
  return out;
}

}  // namespace

Result<std::vector<ExportRow>> ReadExportRows(sqlite3* db, std::optional<int64_t> campaign_id) {
  WF_ASSIGN_OR_RETURN(auto layer_archs, LayerArchitectures(db, campaign_id));
  static const std::string kExportSql = ExportSql("?1");
  WF_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, kExportSql));
  q.Bind(1, campaign_id);
  std::vector<ExportRow> rows;
  while (true) {
    WF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    WF_ASSIGN_OR_RETURN(ExportRow r, ExportRowFrom(StmtRow{q}, layer_archs));
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace wattfleet::sqlite
