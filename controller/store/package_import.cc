// A package's rows stored (package_import.h). The package's ids are kept when every one is free,
// so that a package imported into an empty dataset reads back exactly as published; otherwise
// every campaign, architecture and job gets a new id and the job specifications are encoded
// again with theirs. A device whose name is taken (another fleet's agent-1) is stored as
// SOURCE/NAME, and its measurements with it.
#include "package_import.h"

#include <algorithm>
#include <map>

#include "store_values.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

Result<bool> IdsFree(const DatasetPackage& p, PackageRowWriter& w) {
  for (const CampaignRecord& c : p.campaigns) {
    WF_ASSIGN_OR_RETURN(const bool taken, w.CampaignExists(c.id));
    if (taken) return false;
  }
  std::vector<int64_t> jobs;
  jobs.reserve(p.measurements.size());
  for (const PackageMeasurement& m : p.measurements) jobs.push_back(m.job.job_id);
  WF_ASSIGN_OR_RETURN(const bool taken, w.AnyJobExists(jobs));
  return !taken;
}

// Each agent's name in the dataset, and its devices stored with the span of its measurements.
Result<std::map<std::string, std::string>> StoreDevices(const DatasetPackage& p,
                                                        PackageRowWriter& w,
                                                        PackageImportOutcome* out) {
  std::map<std::string, std::pair<int64_t, int64_t>> seen;  // agent -> first, last
  for (const PackageMeasurement& m : p.measurements) {
    auto [it, fresh] = seen.emplace(m.agent, std::make_pair(m.measured_at_ms, m.measured_at_ms));
    it->second.first = std::min(it->second.first, m.measured_at_ms);
    it->second.second = std::max(it->second.second, m.measured_at_ms);
  }
  std::map<std::string, std::string> name_of;
  for (const PackageDevice& d : p.devices) {
    WF_ASSIGN_OR_RETURN(const bool taken, w.DeviceExists(d.name));
    PackageDevice stored = d;
    if (taken) {
      stored.name = p.source + "/" + d.name;
      WF_ASSIGN_OR_RETURN(const bool again, w.DeviceExists(stored.name));
      if (again) {
        return Status::InvalidArgument("device " + d.name + ": both " + d.name + " and " +
                                       stored.name + " are taken in this dataset");
      }
      out->renamed_devices[d.name] = stored.name;
    }
    const auto span = seen.find(d.name);
    const auto [first, last] =
        span == seen.end() ? std::make_pair(int64_t{0}, int64_t{0}) : span->second;
    WF_RETURN_IF_ERROR(w.InsertDevice(stored, first, last));
    name_of[d.name] = stored.name;
  }
  return name_of;
}

}  // namespace

Result<PackageImportOutcome> ImportPackageRows(const DatasetPackage& p, PackageRowWriter& w,
                                               int64_t now_ms) {
  PackageImportOutcome out;
  WF_ASSIGN_OR_RETURN(out.already_imported, w.Imported(p.source, p.identity));
  if (out.already_imported) return out;
  WF_ASSIGN_OR_RETURN(out.ids_kept, IdsFree(p, w));
  WF_ASSIGN_OR_RETURN(const auto agent_of, StoreDevices(p, w, &out));

  std::map<int64_t, int64_t> campaign_id;  // the package's -> the dataset's
  for (const CampaignRecord& c : p.campaigns) {
    WF_ASSIGN_OR_RETURN(campaign_id[c.id], w.InsertCampaign(c, out.ids_kept ? c.id : 0));
  }
  const auto campaign_of = [&](int64_t id) -> Result<int64_t> {
    const auto it = campaign_id.find(id);
    if (it == campaign_id.end()) {
      return Status::InvalidArgument("the package names campaign " + std::to_string(id) +
                                     ", which its campaigns table does not hold");
    }
    return it->second;
  };
  for (const LayerRecord& l : p.layers) WF_RETURN_IF_ERROR(w.InsertLayer(l));
  for (const PackageArchitecture& a : p.architectures) {
    WF_ASSIGN_OR_RETURN(const int64_t campaign, campaign_of(a.row.campaign_id));
    if (a.node_names.size() != a.layer_keys.size()) {
      return Status::InvalidArgument("architecture " + a.row.name + ": " +
                                     std::to_string(a.layer_keys.size()) + " layer keys and " +
                                     std::to_string(a.node_names.size()) + " node names");
    }
    WF_ASSIGN_OR_RETURN(const int64_t id, w.InsertArchitecture(a.row, campaign));
    for (size_t i = 0; i < a.layer_keys.size(); ++i) {
      WF_RETURN_IF_ERROR(w.InsertArchLayer(id, static_cast<int64_t>(i), a.node_names[i],
                                           a.layer_keys[i]));
    }
  }
  // Every job's id is known before it is written, so that its specification is encoded with
  // it and the rows can be written in batches.
  std::vector<int64_t> new_ids;
  if (!out.ids_kept) {
    WF_ASSIGN_OR_RETURN(new_ids, w.NewJobIds(static_cast<int64_t>(p.measurements.size())));
  }
  for (size_t i = 0; i < p.measurements.size(); ++i) {
    const PackageMeasurement& m = p.measurements[i];
    const auto agent = agent_of.find(m.agent);
    const std::string& name = agent == agent_of.end() ? m.agent : agent->second;
    JobSpec job = m.job;
    WF_ASSIGN_OR_RETURN(job.campaign_id, campaign_of(m.campaign_id));
    if (!out.ids_kept) job.job_id = new_ids[i];
    job.attempt = 0;
    WF_RETURN_IF_ERROR(w.InsertJob(job, Encode(job), name, m.measured_at_ms));
    WF_RETURN_IF_ERROR(w.InsertLease(job.job_id, m.attempt, name, m.measured_at_ms));
    WF_RETURN_IF_ERROR(w.InsertMeasurement(job.job_id, m.attempt, name,
                                           PayloadHash(Encode(m.m)), m.measured_at_ms, m.m));
  }
  WF_RETURN_IF_ERROR(w.Flush());
  if (out.ids_kept) WF_RETURN_IF_ERROR(w.AfterExplicitIds());
  out.campaigns = static_cast<int64_t>(p.campaigns.size());
  out.measurements = static_cast<int64_t>(p.measurements.size());
  WF_RETURN_IF_ERROR(w.RecordImport(p, out.measurements, now_ms));
  return out;
}

}  // namespace wattfleet
