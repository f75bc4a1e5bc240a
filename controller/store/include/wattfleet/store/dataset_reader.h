// The read side of a dataset, for the commands that only read it (fit, predict, report): the
// stored layers, measurements, campaigns and imported rows as plain records, the same from
// either backend. The SQL stays in the backends (sqlite/sqlite_reader.cc,
// postgres/pg_reader.cc); what a record means is the consumers' business (training data,
// report data).
//
// A reader sees one snapshot: a controller writing to the dataset meanwhile neither blocks it
// nor shows it half a result. It never creates, migrates or writes anything.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"
#include "wattfleet/store/store.h"

namespace wattfleet {

// A row of the layers table: one distinct layer, features per input sample.
struct LayerRecord {
  std::string key;
  std::string type;
  int64_t macs = 0;
  int64_t flops = 0;
  int64_t params = 0;
  int64_t input_elements = 0;
  int64_t output_elements = 0;
  std::string params_json;  // the hyper-parameters, {"name": value, ...}
  std::string input_shape, output_shape;  // per sample, JSON, e.g. "[3,224,224]"
};

// One stored measurement with its job, its campaign, the agent that measured it and, for a
// model job, its architecture.
struct MeasurementRecord {
  int64_t id = 0;  // ascending in storage order
  int64_t job_id = 0;
  int64_t campaign_id = 0;
  std::string campaign;  // its name
  JobKind kind = JobKind::kLayer;
  std::string subject;  // layer key, architecture name or probe name
  std::string device_class;
  std::string mode;
  int64_t batch = 0;
  std::string agent;
  int64_t created_ms = 0;
  std::string spec;  // the job as dispatched (EncodeJob)
  // Every figure measured and the measuring agent's provenance, except the windows: those are
  // `repeats_json`, read by RepeatsOf when wanted (m.repeats is empty).
  Measurement m;
  std::string repeats_json;
  std::string capabilities_json;  // the measuring agent's, as registered; "" when unknown
  // Model jobs: their architecture's row in the campaign; probes and layers have none.
  std::optional<int64_t> architecture_id;
  std::string family;
  std::string input_shape;  // JSON, e.g. "[3,224,224]"
  int64_t arch_macs = 0;    // per sample
  int64_t arch_flops = 0;
  int64_t arch_params = 0;
};

// An architecture of a campaign, features per input sample.
struct ArchitectureRecord {
  int64_t id = 0;
  int64_t campaign_id = 0;
  std::string campaign;  // its name
  std::string name;
  std::string family;
  std::string input_shape;  // JSON, e.g. "[3,224,224]"
  int64_t macs = 0;
  int64_t flops = 0;
  int64_t params = 0;
  int64_t layers = 0;  // nodes
  std::string output_shape;  // JSON
};

// A campaign with its jobs counted by state (JobStateName -> count, states with jobs only).
struct CampaignRecord {
  int64_t id = 0;
  std::string name;
  std::string state;
  std::map<std::string, int64_t> jobs;
  std::string yaml;  // the campaign file as submitted
  int64_t created_ms = 0;
  int64_t finished_ms = 0;  // 0 while it runs
  std::string mode, dtype;  // as the campaign gave them
  int64_t batch = 0;        // its first batch size
};

// A row imported from another dataset (docs/import.md).
struct ImportedRecord {
  std::string device;
  std::string name;
  std::string family;
  std::optional<double> time_s;
  std::optional<double> energy_j;
  std::string features_json;
  std::string source;
  int64_t row = 0;  // its row in the imported file
};

// A measurement's windows (its repeats_json). Corruption for a text that is not their JSON.
Result<std::vector<Repeat>> RepeatsOf(const MeasurementRecord& record);

class DatasetReader {
 public:
  virtual ~DatasetReader() = default;

  // Every row of the layers table.
  virtual Result<std::vector<LayerRecord>> Layers() = 0;
  // Every measurement in storage order, handed to `fn` one at a time (a large dataset is never
  // held whole); an error from `fn` stops the scan and is returned.
  virtual Status ForEachMeasurement(
      const std::function<Status(const MeasurementRecord&)>& fn) = 0;
  // The layer keys of an architecture, in network order.
  virtual Result<std::vector<std::string>> ArchitectureLayers(int64_t architecture_id) = 0;
  // Its nodes' names, in the same order.
  virtual Result<std::vector<std::string>> ArchitectureNodes(int64_t architecture_id) = 0;
  // Every architecture of every campaign, by id.
  virtual Result<std::vector<ArchitectureRecord>> Architectures() = 0;
  // Every campaign, by id.
  virtual Result<std::vector<CampaignRecord>> Campaigns() = 0;
  // Every imported row, in import order; none for a dataset that has never imported.
  virtual Result<std::vector<ImportedRecord>> ImportedRecords() = 0;
  // The export's rows (store.h, ExportRow), those of `campaign_id` or every one, ordered by
  // job id: what `wattfleet export` writes and Python's Dataset.measurements() shows.
  virtual Result<std::vector<ExportRow>> ExportRows(std::optional<int64_t> campaign_id) = 0;
};

// Opens the dataset `db` names (an SQLite file, or a postgresql:// URI) for reading.
// InvalidArgument naming --db when it does not exist or is not a wattfleet dataset (nothing is
// created), or when it was written by a newer wattfleet; Unavailable when a server cannot be
// reached.
Result<std::unique_ptr<DatasetReader>> OpenDatasetReader(const std::string& db);

}  // namespace wattfleet
