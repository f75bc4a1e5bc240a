// The planner: decomposes a campaign's architectures into layers, computes features, dedups
// identical layers by canonical key and emits the jobs (one per distinct layer and device
// class, THOR's probe models when thor_probes is on, and one per whole architecture and device
// class when whole_models is on).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/common/job.h"

namespace wattfleet {

struct PlannedLayer {
  std::string key;  // CanonicalKey(spec)
  LayerSpec spec;
  LayerFeatures features;  // per sample
};

// Where a distinct layer sits in an architecture.
struct ArchLayerRef {
  std::string architecture;
  int position = 0;        // node index
  std::string node_name;
  std::string layer_key;
};

struct Plan {
  Campaign campaign;
  std::vector<PlannedLayer> layers;         // distinct, in first-seen order
  std::vector<ArchLayerRef> arch_layers;    // every node of every architecture
  std::vector<JobSpec> jobs;                // job_id = 0 until stored
  int64_t layers_total = 0;                 // nodes over all architectures
  std::vector<std::string> probe_kinds;     // THOR kinds probed (plan.thor_probes)
  std::vector<std::string> probe_kinds_skipped;  // architectures without a probe-able kind
  double estimated_device_seconds = 0;      // sum over jobs of the protocol's minimum time

  // kind name -> count, e.g. {"layer": 25, "model": 3}.
  std::map<std::string, int64_t> JobsByKind() const;
  // plan.active: the most probe jobs the campaign may end with (per kind and device class the
  // budget, or the whole grid when that is smaller); 0 without active profiling. `jobs` holds
  // the seed only.
  int64_t ActiveProbeJobsMax() const;
};

// What a controller's operator allows one campaign to cost (`serve --max-campaign-jobs`):
// never set by the campaign itself.
inline constexpr int64_t kDefaultMaxCampaignJobs = 100000;
// The graph nodes the jobs may hold in all, per job allowed: a model job holds its whole
// architecture.
inline constexpr int64_t kGraphNodesPerJob = 20;
struct PlanLimits {
  int64_t max_jobs = kDefaultMaxCampaignJobs;
};

// InvalidArgument, before any job is built, when the campaign would plan more jobs than
// `limits` allow (device classes x batches x (layers + probes + models), plus the probes
// active profiling may add), or jobs of more than kGraphNodesPerJob x that many graph nodes.
Result<Plan> MakePlan(const Campaign& campaign, const PlanLimits& limits = {});

// Lower bound of one job's device time under `settings` (warm-up, window growth,
// min_repeats windows, cool-down), in seconds.
double EstimateJobSeconds(const MeasurementSettings& settings);

// The lease of `job` (its settings, mode, batch and graph set): ten times what its protocol
// takes, and at least twice every window it may take with each window one iteration long,
// the iteration estimated from its FLOPs at 1 GFLOP/s (a training step: three passes).
int64_t LeaseMs(const JobSpec& job);

}  // namespace wattfleet
