// Private to the store: how a published package's rows are stored (Store::ImportPackage),
// written once over the few statements each backend supplies (PackageRowWriter), inside the
// backend's transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/store/dataset_package.h"

namespace wattfleet {

class PackageRowWriter {
 public:
  virtual ~PackageRowWriter() = default;
  // Whether a package of that identity was imported under that source.
  virtual Result<bool> Imported(const std::string& source, const std::string& identity) = 0;
  virtual Result<bool> CampaignExists(int64_t id) = 0;
  // Whether any of `ids` is a job's.
  virtual Result<bool> AnyJobExists(const std::vector<int64_t>& ids) = 0;
  virtual Result<bool> DeviceExists(const std::string& name) = 0;
  // `id` 0: a new id. Each returns the id stored.
  virtual Result<int64_t> InsertCampaign(const CampaignRecord& c, int64_t id) = 0;
  virtual Result<int64_t> InsertArchitecture(const ArchitectureRecord& a, int64_t campaign_id) = 0;
  // `n` ids no job holds yet, ascending, reserved for this transaction's inserts.
  virtual Result<std::vector<int64_t>> NewJobIds(int64_t n) = 0;
  // A done job under `job.job_id`, its specification `spec` (encoded with that id). The job,
  // its lease and its measurement may be written when Flush is called rather than at once.
  virtual Status InsertJob(const JobSpec& job, const std::string& spec, const std::string& agent,
                           int64_t updated_ms) = 0;
  // Layers are shared across campaigns: a key already stored keeps its row.
  virtual Status InsertLayer(const LayerRecord& l) = 0;
  virtual Status InsertArchLayer(int64_t architecture_id, int64_t position,
                                 const std::string& node_name, const std::string& key) = 0;
  virtual Status InsertLease(int64_t job_id, int32_t attempt, const std::string& agent,
                             int64_t leased_ms) = 0;
  virtual Status InsertMeasurement(int64_t job_id, int32_t attempt, const std::string& agent,
                                   const std::string& payload_hash, int64_t created_ms,
                                   const Measurement& m) = 0;
  virtual Status InsertDevice(const PackageDevice& d, int64_t first_seen_ms,
                              int64_t last_seen_ms) = 0;
  virtual Status RecordImport(const DatasetPackage& p, int64_t rows, int64_t now_ms) = 0;
  // Writes whatever was held back, in the order given.
  virtual Status Flush() = 0;
  // After rows with explicit ids: whatever the backend needs for its next new ids.
  virtual Status AfterExplicitIds() = 0;
};

// Stores `p` through `w` (the caller's transaction commits or rolls back).
Result<PackageImportOutcome> ImportPackageRows(const DatasetPackage& p, PackageRowWriter& w,
                                               int64_t now_ms);

}  // namespace wattfleet
