// The planner: architectures -> distinct layers -> jobs (see planner.h and docs/campaign.md).
#include "wattfleet/plan/planner.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "wattfleet/campaign/active_grid.h"
#include "wattfleet/common/text.h"
#include "wattfleet/common/training_step.h"
#include "wattfleet/plan/probe_planner.h"

namespace wattfleet {
namespace {

// A lease shorter than this would requeue jobs that are merely waiting behind a slow
// device's warm-up or a libtorch module build.
constexpr int64_t kMinLeaseMs = 60000;
// Jobs often need more than the protocol's minimum (CI targets missed, slow module builds):
// a lease of ten minimums leaves room for that without hiding a dead agent for long.
constexpr double kLeaseFactor = 10.0;

// The slowest rate a device may run a job's FLOPs at, for its lease: a phone's CPU core
// manages a few GFLOP/s. A training step is about three forward passes (forward, and the
// backward's two products).
constexpr double kSlowestFlops = 1e9;
constexpr double kTrainingPasses = 3.0;

JobSpec BaseJob(const Campaign& c, JobKind kind, const std::string& device_class,
                int64_t batch) {
  JobSpec job;
  // Every selector of the class: an agent matching any of them may take the job. A plain
  // `{class: X}` selector admits the whole class.
  for (const DeviceSelector& d : c.devices) {
    if (d.device_class != device_class) continue;
    if (d.name_glob.empty() && d.accelerator.empty() && d.sensor.empty()) {
      job.selectors.clear();
      break;
    }
    job.selectors.push_back(AgentSelector{d.name_glob, d.accelerator, d.sensor});
  }
  job.kind = kind;
  job.mode = c.mode;
  job.optimizer = c.optimizer;
  job.loss = c.loss;
  job.dtype = c.dtype;
  job.batch = batch;
  job.device_class = device_class;
  job.settings = c.measurement;
  return job;
}

}  // namespace

std::map<std::string, int64_t> Plan::JobsByKind() const {
  std::map<std::string, int64_t> counts;
  for (const JobSpec& job : jobs) ++counts[std::string(JobKindName(job.kind))];
  return counts;
}

int64_t Plan::ActiveProbeJobsMax() const {
  if (!campaign.plan.active) return 0;
  std::vector<std::string> classes;
  for (const DeviceSelector& d : campaign.devices) {
    if (std::find(classes.begin(), classes.end(), d.device_class) == classes.end()) {
      classes.push_back(d.device_class);
    }
  }
  // A budget larger than the grid cannot be spent.
  const int64_t per_kind =
      std::min<int64_t>(campaign.plan.active->budget_jobs,
                        static_cast<int64_t>(ProbeGrid(campaign.plan.probe_widths).size()));
  return per_kind * static_cast<int64_t>(probe_kinds.size()) *
         static_cast<int64_t>(classes.size());
}

double EstimateJobSeconds(const MeasurementSettings& s) {
  // One window more than min_repeats: the first window is spent growing the iteration count
  // until a window lasts min_window_ms.
  double ms = static_cast<double>(s.warmup_ms) +
              static_cast<double>(s.min_window_ms) * static_cast<double>(s.min_repeats + 1) +
              static_cast<double>(s.cooldown_ms);
  return ms / 1000.0;
}

// A large network's training step can last seconds on a CPU, far past min_window_ms: without
// the iteration in the lease, a BERT step of 10 s ran past its 60 s lease three times and was
// lost.
int64_t LeaseMs(const JobSpec& job) {
  const MeasurementSettings& s = job.settings;
  const LayerFeatures work = job.graph.Totals();
  const double passes = job.mode == Mode::kTraining ? kTrainingPasses : 1.0;
  const double iteration_ms = 1000.0 * static_cast<double>(work.flops) *
                              static_cast<double>(job.batch) * passes / kSlowestFlops;
  const double window_ms = std::max(static_cast<double>(s.min_window_ms), iteration_ms);
  // Warm-up and the growing first window, then every repeat.
  const double protocol_ms = std::max(static_cast<double>(s.warmup_ms), iteration_ms) +
                             window_ms * static_cast<double>(s.max_repeats + 1) +
                             static_cast<double>(s.cooldown_ms);
  const double ms = std::max(kLeaseFactor * EstimateJobSeconds(s) * 1000.0, protocol_ms * 2);
  return std::max<int64_t>(kMinLeaseMs, static_cast<int64_t>(std::min(ms, 1e12)));
}

namespace {

// What the campaign would plan, counted before a job is built. Each job holds its graph (a
// whole architecture for a model or probe job), so both the jobs and the nodes of their
// graphs are bounded: millions of either would take gigabytes to build and minutes to store.
struct PlannedCounts {
  int64_t classes = 0, batches = 0;
  int64_t layer_jobs = 0, probes = 0, models = 0;
  int64_t nodes_per_batch = 0;  // graph nodes of one class's jobs at one batch
  int64_t jobs() const { return classes * batches * (layer_jobs + probes + models); }
  int64_t nodes() const { return classes * batches * nodes_per_batch; }
};

Status CheckCounts(const Campaign& campaign, const PlannedCounts& n, const PlanLimits& limits,
                   int64_t active_max) {
  const std::string product =
      std::to_string(n.classes) + (n.classes == 1 ? " device class" : " device classes") +
      " x " + std::to_string(n.batches) + (n.batches == 1 ? " batch" : " batches");
  const std::string how = " this controller allows (its operator sets --max-campaign-jobs); "
                          "split it into smaller campaigns";
  if (n.jobs() + active_max > limits.max_jobs) {
    return Status::InvalidArgument(
        "campaign '" + campaign.name + "' would plan " + std::to_string(n.jobs()) + " jobs (" +
        product + " x (" + Count(n.layer_jobs, "layer") + " + " + Count(n.probes, "probe") +
        " + " + Count(n.models, "model") + "))" +
        (active_max > 0 ? " and up to " + std::to_string(active_max) + " active probes" : "") +
        ", more than the " + std::to_string(limits.max_jobs) + how);
  }
  const int64_t max_nodes = limits.max_jobs * kGraphNodesPerJob;
  if (n.nodes() > max_nodes) {
    return Status::InvalidArgument(
        "campaign '" + campaign.name + "' would plan jobs of " + std::to_string(n.nodes()) +
        " graph nodes in all (" + product + " x " + std::to_string(n.nodes_per_batch) +
        "), more than the " + std::to_string(max_nodes) + how);
  }
  return Status::OK();
}

int64_t Nodes(const std::vector<Architecture>& archs) {
  int64_t n = 0;
  for (const Architecture& a : archs) n += static_cast<int64_t>(a.nodes.size());
  return n;
}

// Per class and batch: its layer jobs, then its whole-model jobs (a class's queue measures
// the building blocks before the calibration runs that are compared against their sum).
void AddJobs(const Campaign& campaign, const std::vector<std::string>& classes,
             const std::vector<size_t>& layer_of_node, const std::vector<Architecture>& probes,
             Plan* plan) {
  for (const std::string& cls : classes) {
    for (const int64_t batch : campaign.Batches()) {
      auto add_layer_job = [&](const PlannedLayer& layer) {
        JobSpec job = BaseJob(campaign, JobKind::kLayer, cls, batch);
        job.subject = layer.key;
        job.graph = SingleLayerGraph(layer.key, layer.spec);
        job.lease_ms = LeaseMs(job);
        plan->jobs.push_back(std::move(job));
      };
      if (!campaign.plan.layers) {
        // Whole models only: the layers are still analysed (plan.layers), not measured.
      } else if (campaign.plan.distinct_layers) {
        for (const PlannedLayer& layer : plan->layers) add_layer_job(layer);
      } else {
        for (size_t idx : layer_of_node) add_layer_job(plan->layers[idx]);
      }
      for (const Architecture& probe : probes) {
        JobSpec job = BaseJob(campaign, JobKind::kProbe, cls, batch);
        job.subject = probe.name;
        job.graph = probe;
        job.lease_ms = LeaseMs(job);
        plan->jobs.push_back(std::move(job));
      }
      if (campaign.plan.whole_models) {
        for (const Architecture& arch : campaign.architectures) {
          JobSpec job = BaseJob(campaign, JobKind::kModel, cls, batch);
          job.subject = arch.name;
          job.graph = arch;
          job.lease_ms = LeaseMs(job);
          plan->jobs.push_back(std::move(job));
        }
      }
    }
  }
}

}  // namespace

Result<Plan> MakePlan(const Campaign& campaign, const PlanLimits& limits) {
  if (campaign.devices.empty()) {
    return Status::InvalidArgument("campaign '" + campaign.name + "' has no devices");
  }
  if (campaign.plan.active && campaign.Batches().size() > 1) {
    return Status::InvalidArgument("campaign '" + campaign.name + "': plan.active profiles at "
                                   "one batch; give batch_size one value, or one campaign per "
                                   "batch");
  }
  Plan plan;
  plan.campaign = campaign;

  // Device classes decide the queues; two selectors of one class share its jobs.
  std::vector<std::string> classes;
  for (const DeviceSelector& d : campaign.devices) {
    if (std::find(classes.begin(), classes.end(), d.device_class) == classes.end()) {
      classes.push_back(d.device_class);
    }
  }

  // Decompose. `layer_of_node` keeps, per node in visiting order, the index of its distinct
  // layer, so that `layers: all` can emit one job per node without recomputing keys.
  std::unordered_map<std::string, size_t> index_of_key;
  std::vector<size_t> layer_of_node;
  for (const Architecture& arch : campaign.architectures) {
    // In training, the loss and the optimiser's update follow the network's nodes: layer jobs
    // of their own, listed with the architecture so that its layers sum to its whole step.
    std::vector<StepPart> nodes;
    nodes.reserve(arch.nodes.size() + 2);
    for (const ArchNode& node : arch.nodes) nodes.push_back({node.name, node.spec});
    if (campaign.mode == Mode::kTraining) {
      WF_ASSIGN_OR_RETURN(std::vector<StepPart> parts,
                          TrainingStepParts(arch, campaign.optimizer, campaign.loss));
      for (StepPart& part : parts) nodes.push_back(std::move(part));
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
      const StepPart& node = nodes[i];
      std::string key = CanonicalKey(node.spec);
      auto it = index_of_key.find(key);
      if (it == index_of_key.end()) {
        Result<LayerFeatures> features = ComputeFeatures(node.spec);
        if (!features.ok()) {
          return features.status().WithContext("architecture '" + arch.name + "', node '" +
                                               node.name + "'");
        }
        PlannedLayer layer;
        layer.key = key;
        layer.spec = node.spec;
        layer.features = std::move(features).value();
        it = index_of_key.emplace(key, plan.layers.size()).first;
        plan.layers.push_back(std::move(layer));
      }
      layer_of_node.push_back(it->second);
      plan.arch_layers.push_back(
          ArchLayerRef{arch.name, static_cast<int>(i), node.name, std::move(key)});
    }
  }
  plan.layers_total = static_cast<int64_t>(layer_of_node.size());

  std::vector<Architecture> probes;
  if (campaign.plan.thor_probes) {
    ProbeKindPlan kinds = DeriveProbeKinds(campaign.architectures);
    for (const ProbeKind& k : kinds.kinds) plan.probe_kinds.push_back(k.name);
    plan.probe_kinds_skipped = std::move(kinds.skipped);
    if (campaign.plan.active) {
      // Active profiling: each kind starts from its seed; the controller adds the rest of the
      // grid one probe at a time while the campaign runs (active_profiler.h).
      WF_ASSIGN_OR_RETURN(probes, BuildProbePoints(kinds.kinds,
                                                   ActiveSeed(campaign.plan.probe_widths)));
    } else {
      WF_ASSIGN_OR_RETURN(probes, BuildProbeModels(kinds.kinds, campaign.plan.probe_widths));
    }
  }

  PlannedCounts counts;
  counts.classes = static_cast<int64_t>(classes.size());
  counts.batches = static_cast<int64_t>(campaign.Batches().size());
  counts.layer_jobs = !campaign.plan.layers ? 0
                      : campaign.plan.distinct_layers
                          ? static_cast<int64_t>(plan.layers.size())
                          : static_cast<int64_t>(layer_of_node.size());
  counts.probes = static_cast<int64_t>(probes.size());
  counts.models =
      campaign.plan.whole_models ? static_cast<int64_t>(campaign.architectures.size()) : 0;
  counts.nodes_per_batch = counts.layer_jobs + Nodes(probes) +
                           (campaign.plan.whole_models ? Nodes(campaign.architectures) : 0);
  WF_RETURN_IF_ERROR(CheckCounts(campaign, counts, limits, plan.ActiveProbeJobsMax()));
  AddJobs(campaign, classes, layer_of_node, probes, &plan);

  for (const JobSpec& job : plan.jobs) {
    plan.estimated_device_seconds += EstimateJobSeconds(job.settings);
  }
  return plan;
}

}  // namespace wattfleet
