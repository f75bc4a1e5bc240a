// A published package's rows, read back (`wattfleet import --package`, docs/dataset.md
// "Importing a package"): what Store::ImportPackage stores in one transaction.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet {

struct PackageArchitecture {
  ArchitectureRecord row;  // id and campaign_id as the package numbers them
  std::vector<std::string> layer_keys, node_names;
};

struct PackageDevice {
  std::string name, device_class, capabilities_json;
};

struct PackageMeasurement {
  int64_t campaign_id = 0;  // the package's
  int32_t attempt = 0;
  std::string agent;
  int64_t measured_at_ms = 0;
  JobSpec job;  // job_id and campaign_id as the package numbers them
  Measurement m;
};

struct DatasetPackage {
  std::string source;    // the package's name: its label, and the prefix of renamed devices
  std::string identity;  // SHA-256 of its SHA256SUMS: a second import of it stores nothing
  std::string path;      // where it was read, for the record
  // provenance.json as published (versions, the campaigns' checksums, counts), kept with the
  // import's record in the dataset.
  std::string provenance;
  std::vector<CampaignRecord> campaigns;
  std::vector<LayerRecord> layers;
  std::vector<PackageArchitecture> architectures;
  std::vector<PackageDevice> devices;
  std::vector<PackageMeasurement> measurements;
};

struct PackageImportOutcome {
  bool already_imported = false;
  // Whether the package's campaign and job ids were free and kept (into an empty dataset,
  // always); otherwise every one was given a new id.
  bool ids_kept = false;
  int64_t campaigns = 0, measurements = 0;
  std::map<std::string, std::string> renamed_devices;  // a name already taken -> its new name
};

}  // namespace wattfleet
