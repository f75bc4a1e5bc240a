#include "resume.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <vector>

#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

// A job as it would be run: everything in its spec but the ids, the attempt count and the
// lease (mode, dtype, batch, selectors, the graph, the measurement settings, the training
// step), encoded. The lease is how long the controller waits, not what is measured: a
// campaign planned by a build that sized leases otherwise is still the same campaign.
using JobIdentity = std::string;

JobIdentity IdentityOf(JobSpec job) {
  job.job_id = 0;
  job.campaign_id = 0;
  job.attempt = 0;
  job.lease_ms = 0;
  return Encode(job);
}

// Every job of `campaign`, of every kind.
Result<std::vector<CampaignJob>> AllJobs(Store& store, int64_t campaign) {
  std::vector<CampaignJob> all;
  for (JobKind kind : {JobKind::kLayer, JobKind::kModel, JobKind::kProbe}) {
    CampaignJobFilter filter;
    filter.kind = kind;
    WF_ASSIGN_OR_RETURN(std::vector<CampaignJob> jobs, store.ListCampaignJobs(campaign, filter));
    std::move(jobs.begin(), jobs.end(), std::back_inserter(all));
  }
  return all;
}

}  // namespace

Result<std::optional<int64_t>> FindUnfinishedCampaign(Store& store, const Plan& plan) {
  WF_ASSIGN_OR_RETURN(std::vector<CampaignStatus> campaigns, store.ListCampaigns());
  std::multiset<JobIdentity> planned, planned_probes;
  for (const JobSpec& job : plan.jobs) {
    (job.kind == JobKind::kProbe ? planned_probes : planned).insert(IdentityOf(job));
  }
  // Newest first: after a --fresh run, the fresh campaign is the one to resume.
  std::sort(campaigns.begin(), campaigns.end(),
            [](const CampaignStatus& a, const CampaignStatus& b) { return a.id > b.id; });
  for (const CampaignStatus& c : campaigns) {
    if (c.state != "running" || c.name != plan.campaign.name) continue;
    std::multiset<JobIdentity> stored, stored_probes;
    WF_ASSIGN_OR_RETURN(std::vector<CampaignJob> jobs, AllJobs(store, c.id));
    for (const CampaignJob& j : jobs) {
      (j.spec.kind == JobKind::kProbe ? stored_probes : stored).insert(IdentityOf(j.spec));
    }
    if (stored != planned) continue;
    if (!std::includes(stored_probes.begin(), stored_probes.end(), planned_probes.begin(),
                       planned_probes.end())) {
      continue;
    }
    return std::optional<int64_t>(c.id);
  }
  return std::optional<int64_t>();
}

Result<int64_t> ReleaseOrphanedLeases(Store& store, int64_t campaign,
                                      const std::set<std::string>& agents) {
  WF_ASSIGN_OR_RETURN(std::vector<ActiveJob> active, store.LoadActiveJobs());
  int64_t released = 0;
  for (const ActiveJob& job : active) {
    if (job.spec.campaign_id != campaign || job.state != JobState::kLeased) continue;
    if (agents.count(job.agent)) continue;
    Status s = store.Requeue(job.spec.job_id, job.spec.attempt,
                             "agent " + job.agent + " of an interrupted run is gone");
    // AlreadyExists: it ended or moved meanwhile, which is as good.
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s;
    if (s.ok()) ++released;
  }
  return released;
}

Result<CampaignProgress> ProgressOf(Store& store, int64_t campaign) {
  WF_ASSIGN_OR_RETURN(std::vector<CampaignStatus> campaigns, store.ListCampaigns());
  for (const CampaignStatus& c : campaigns) {
    if (c.id != campaign) continue;
    CampaignProgress p;
    for (const auto& [state, n] : c.jobs) {
      p.total += n;
      if (state == "done") p.done += n;
      if (state == "failed" || state == "quarantined" || state == "cancelled") {
        p.unmeasured_final += n;
      }
    }
    return p;
  }
  return Status::NotFound("no campaign " + std::to_string(campaign));
}

Result<std::vector<CampaignJob>> UnmeasuredJobs(Store& store, int64_t campaign) {
  WF_ASSIGN_OR_RETURN(std::vector<CampaignJob> jobs, AllJobs(store, campaign));
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(),
                            [](const CampaignJob& j) { return j.measured; }),
             jobs.end());
  return jobs;
}

}  // namespace wattfleet
