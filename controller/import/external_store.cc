#include "wattfleet/import/external_store.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "wattfleet/store/import_table.h"
#include "wattfleet/common/clock.h"

namespace wattfleet {

struct ExternalStore::Impl {
  std::unique_ptr<ImportTable> table;
};

namespace {

std::string ToJson(const std::map<std::string, OperationCost>& ops) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : ops) obj[k] = {{"flops", v.flops}, {"count", v.count}};
  return obj.dump();
}

Result<std::map<std::string, OperationCost>> OperationsFromJson(const std::string& text,
                                                                const std::string& what) {
  std::map<std::string, OperationCost> out;
  try {
    const nlohmann::json obj = nlohmann::json::parse(text);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      out[it.key()] = OperationCost{it.value().at("flops").get<double>(),
                                    it.value().at("count").get<double>()};
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(what + ": " + e.what());
  }
  return out;
}

// features_json: the numeric features, and a layer's or a zoo architecture's spec under
// "layer" or "zoo" (objects, where features are numbers).
std::string FeaturesJson(const ExternalRecord& r) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : r.features) obj[k] = v;
  if (r.spec.is_object()) {
    for (const auto& [k, v] : r.spec.items()) obj[k] = v;
  }
  return obj.dump();
}

Status FromJson(const std::string& text, const std::string& what, ExternalRecord* r) {
  try {
    const nlohmann::json obj = nlohmann::json::parse(text);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (it.value().is_object() && (it.key() == "layer" || it.key() == "zoo")) {
        r->spec[it.key()] = it.value();
      } else {
        r->features[it.key()] = it.value().get<double>();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(what + ": " + e.what());
  }
  return Status::OK();
}

}  // namespace

ExternalStore::ExternalStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExternalStore::~ExternalStore() = default;

Result<std::unique_ptr<ExternalStore>> ExternalStore::Open(const std::string& db) {
  auto impl = std::make_unique<Impl>();
  WF_ASSIGN_OR_RETURN(impl->table, OpenImportTable(db));
  return std::unique_ptr<ExternalStore>(new ExternalStore(std::move(impl)));
}

Result<ImportOutcome> ExternalStore::Import(const ImportBatch& batch) {
  WF_ASSIGN_OR_RETURN(std::unique_ptr<ImportTable::Transaction> tx, impl_->table->Begin());
  WF_ASSIGN_OR_RETURN(const std::optional<PreviousImport> previous,
                      tx->FindImport(batch.source, batch.csv_sha256));
  if (previous) {
    ImportOutcome out;
    out.import_id = previous->id;
    if (previous->mapping_sha256 != batch.mapping_sha256) {
      return Status::InvalidArgument(
          batch.mapping_path + ": " + batch.csv_path + " was already imported as source '" +
          batch.source + "' (import " + std::to_string(out.import_id) + ", mapping " +
          previous->mapping_path + ") with a different mapping; give this mapping another "
          "source name to keep both");
    }
    out.already_imported = true;
    return out;  // the transaction rolls back (it wrote nothing)
  }

  for (const ExternalDevice& d : batch.devices) {
    WF_ASSIGN_OR_RETURN(const std::optional<std::optional<double>> known,
                        tx->DevicePeakFlops(d.name));
    if (known) {
      const std::optional<double>& stored = *known;
      if (stored && d.peak_flops && std::fabs(*stored - *d.peak_flops) > 1e-9 * *stored) {
        return Status::InvalidArgument(batch.mapping_path + ": device '" + d.name +
                                       "' is stored with peak_flops " + std::to_string(*stored) +
                                       ", the mapping says " + std::to_string(*d.peak_flops));
      }
      if (stored || !d.peak_flops) continue;
    }
    WF_RETURN_IF_ERROR(tx->PutDevice(ImportedDeviceRow{d.name, d.peak_flops}));
  }

  ImportRow import;
  import.source = batch.source;
  import.csv_path = batch.csv_path;
  import.csv_sha256 = batch.csv_sha256;
  import.mapping_path = batch.mapping_path;
  import.mapping_sha256 = batch.mapping_sha256;
  import.rows_read = batch.rows_read;
  import.rows_stored = static_cast<int64_t>(batch.records.size());
  import.created_ms = SystemClock().UnixMillis();
  ImportOutcome out;
  WF_ASSIGN_OR_RETURN(out.import_id, tx->AddImport(import));
  for (const ExternalRecord& r : batch.records) {
    ImportedRow row;
    row.row = r.row;
    row.device = r.device;
    row.kind = r.kind;
    row.name = r.name;
    row.family = r.family;
    row.flops = r.flops;
    row.time_s = r.time_s;
    row.energy_j = r.energy_j;
    row.features_json = FeaturesJson(r);
    row.operations_json = ToJson(r.operations);
    WF_RETURN_IF_ERROR(tx->AddRow(out.import_id, row)
                           .WithContext(batch.csv_path + " row " + std::to_string(r.row)));
    ++out.rows_stored;
  }
  WF_RETURN_IF_ERROR(tx->Commit());
  return out;
}

Result<std::vector<ExternalDevice>> ExternalStore::Devices() {
  WF_ASSIGN_OR_RETURN(const std::vector<ImportedDeviceRow> rows, impl_->table->Devices());
  std::vector<ExternalDevice> out;
  for (const ImportedDeviceRow& d : rows) out.push_back(ExternalDevice{d.name, d.peak_flops});
  return out;
}

Result<std::vector<StoredExternalRecord>> ExternalStore::Records(
    const std::string& kind, const std::optional<std::string>& device) {
  WF_ASSIGN_OR_RETURN(const std::vector<StoredImportedRow> rows, impl_->table->Rows(kind, device));
  std::vector<StoredExternalRecord> out;
  out.reserve(rows.size());
  for (const StoredImportedRow& stored : rows) {
    StoredExternalRecord s;
    s.source = stored.source;
    ExternalRecord& r = s.record;
    const ImportedRow& row = stored.row;
    r.row = row.row;
    r.device = row.device;
    r.kind = row.kind;
    r.name = row.name;
    r.family = row.family;
    r.flops = row.flops;
    r.time_s = row.time_s;
    r.energy_j = row.energy_j;
    const std::string where = s.source + " row " + std::to_string(r.row);
    WF_RETURN_IF_ERROR(FromJson(row.features_json, where + " features", &r));
    WF_ASSIGN_OR_RETURN(r.operations, OperationsFromJson(row.operations_json, where + " operations"));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace wattfleet
