// provenance.json (package_metadata.h): which software wrote the package and measured its
// rows, the campaigns with their files, and the counts a reviewer checks first.
#include "package_metadata.h"

#include "wattfleet/common/version.h"

namespace wattfleet::package {

Json Provenance(const Metadata& meta, const Content& c,
                const std::vector<FileEntry>& campaign_files) {
  Json p = Json::object();
  p["published"] = meta.date;
  p["wattfleet"] = {{"version", std::string(Version())}, {"revision", std::string(GitRevision())}};
  p["agent_versions"] = c.agent_versions;
  p["libtorch_versions"] = c.torch_versions;
  Json campaigns = Json::array();
  for (const CampaignRecord& r : c.campaigns) {
    Json j = {{"id", r.id}, {"name", r.name}, {"state", r.state}, {"created_ms", r.created_ms}};
    j["finished_ms"] = r.finished_ms > 0 ? Json(r.finished_ms) : Json(nullptr);
    j["jobs"] = r.jobs;
    const std::string file = CampaignFile(r);
    j["file"] = file;
    for (const FileEntry& f : campaign_files) {
      if (f.path == file) j["sha256"] = f.sha256;
    }
    campaigns.push_back(std::move(j));
  }
  p["campaigns"] = std::move(campaigns);
  p["measurements"] = {{"total", c.measurements.size()},
                       {"metered", c.metered},
                       {"modeled", c.modeled},
                       {"windows", c.windows},
                       {"by_kind", c.kinds},
                       {"flags", c.flags}};
  Json sensors = Json::object();
  for (const auto& [name, use] : c.sensors) {
    Json s = {{"measurements", use.measurements}, {"estimated", use.estimated},
              {"domains", use.domains}};
    if (use.max_update_s > 0) {
      s["update_period_s"] = {{"min", use.min_update_s}, {"max", use.max_update_s}};
    }
    sensors[name] = std::move(s);
  }
  p["sensors"] = std::move(sensors);
  p["energy"] = EnergyOrigin(c);
  p["measured_at_ms"] = {{"first", c.first_ms}, {"last", c.last_ms}};
  return p;
}

}  // namespace wattfleet::package
