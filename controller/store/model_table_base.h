// Private to the store: what both backends' model tables share — whether the table may be
// written and why not, whether it exists at all, the statements (written to mean the same on
// SQLite and PostgreSQL, but for how parameters are numbered) and how a row becomes a
// ModelRow. Each backend runs the statements its own way.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "wattfleet/store/model_table.h"

namespace wattfleet {

class ModelTableBase : public ModelTable {
 public:
  ModelTableBase(bool writable, bool has_table, std::string reason)
      : writable_(writable), has_table_(has_table), reason_(std::move(reason)) {}

  bool writable() const override { return writable_; }
  const std::string& read_only_reason() const override { return reason_; }

 protected:
  // The latest fit of `key`: its parameters are the key's estimator, device_class, mode,
  // target, fingerprint and format_version, `p(1)` … `p(6)` in the backend's notation.
  template <typename Placeholder>
  static std::string LatestSql(Placeholder p) {
    return "SELECT id, wattfleet_version, training_json, state_json, created_ms FROM models "
           "WHERE estimator = " + p(1) + " AND device_class = " + p(2) + " AND mode = " + p(3) +
           " AND target = " + p(4) + " AND fingerprint = " + p(5) + " AND format_version = " +
           p(6) + " ORDER BY id DESC LIMIT 1";
  }
  // A fit: estimator, device_class, mode, target, format_version, wattfleet_version,
  // fingerprint, training_json, state_json, created_ms.
  template <typename Placeholder>
  static std::string InsertSql(Placeholder p) {
    std::string values;
    for (int i = 1; i <= 10; ++i) values += (i > 1 ? ", " : "") + p(i);
    return "INSERT INTO models(estimator, device_class, mode, target, format_version, "
           "wattfleet_version, fingerprint, training_json, state_json, created_ms) VALUES(" +
           values + ")";
  }
  // A row of LatestSql, read through the backend's Int and Text by column.
  template <typename Row>
  static ModelRow RowOf(const ModelKey& key, const Row& row) {
    ModelRow r;
    r.id = row.Int(0);
    r.key = key;
    r.wattfleet_version = row.Text(1);
    r.training_json = row.Text(2);
    r.state_json = row.Text(3);
    r.created_ms = row.Int(4);
    return r;
  }
  Status RefuseWrite() const { return Status::IOError("models table not written: " + reason_); }

  const bool writable_;
  const bool has_table_;
  const std::string reason_;
};

}  // namespace wattfleet
