// Resuming an interrupted `wattfleet run`: the same campaign file run again against the same
// dataset continues the campaign it started, measuring only what is missing, instead of
// starting a second campaign and measuring everything again.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/plan/planner.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// The newest running campaign in `store` with the plan's name and the same plan (the same
// layer and model jobs, each with the same graph, mode, dtype, batch, selectors and
// measurement settings; probes an active campaign added since are allowed), if there is one.
Result<std::optional<int64_t>> FindUnfinishedCampaign(Store& store, const Plan& plan);

// Leased jobs of `campaign` whose agent is not among `agents` go back to the queue: the run
// that leased them is gone, and so are its agents. Leases of agents that come back stay
// theirs: they reclaim them, with the results their spools kept. Returns how many went back.
Result<int64_t> ReleaseOrphanedLeases(Store& store, int64_t campaign,
                                      const std::set<std::string>& agents);

// Measured jobs of `campaign`, and how many jobs it has in all.
struct CampaignProgress {
  int64_t done = 0;
  int64_t total = 0;
  int64_t unmeasured_final = 0;  // failed, quarantined or cancelled
};
Result<CampaignProgress> ProgressOf(Store& store, int64_t campaign);

// The jobs of `campaign` that ended without a measurement (failed, quarantined, cancelled, or
// still unfinished), with their state and last error.
Result<std::vector<CampaignJob>> UnmeasuredJobs(Store& store, int64_t campaign);

}  // namespace wattfleet
