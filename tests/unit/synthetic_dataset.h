// A real dataset file with known truth: a campaign planned by the real planner, stored by the
// real store, and a result recorded for its jobs through the same calls the dispatcher makes.
// A job costs 1 nJ per MAC, 0.2 nJ per output element and 5 µJ per node, per sample in the
// batch (an optimiser's update: 1 nJ per FLOP, per step), with a small deterministic spread
// (whole models cost 10 % more than their layers, their training steps' loss and update
// included); time is energy over 20 W.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "wattfleet/common/training_step.h"
#include "wattfleet/plan/planner.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet::testing {

// MLPs and CNNs of two depths and a few widths and a zoo MLP, batch 4, whole models and THOR's
// probes measured.
inline const char* kSyntheticCampaign = R"(name: predict-test
mode: inference
batch_size: 4
devices: [{class: cpu}]
measurement: {warmup_ms: 10, min_window_ms: 10, target_rel_ci: 0.05, min_repeats: 3,
              max_repeats: 4, cooldown_ms: 0}
architectures:
  - family: mlp
    sweep: {depth: [1, 2], width: [32, 64, 128], input: [[1, 28, 28]]}
  - family: cnn
    sweep: {depth: [1, 2], width: [4, 8], input: [[1, 12, 12]]}
  - zoo: mlp-mnist
plan:
  layers: distinct
  whole_models: true
  thor_probes: true
)";

// The MLPs above trained with Adam, at two batches: layers, losses, updates, whole steps and
// THOR's probes.
inline const char* kSyntheticTrainingCampaign = R"(name: train-test
mode: training
optimizer: adam
batch_size: [4, 16]
devices: [{class: cpu}]
measurement: {warmup_ms: 10, min_window_ms: 10, target_rel_ci: 0.05, min_repeats: 3,
              max_repeats: 4, cooldown_ms: 0}
architectures:
  - family: mlp
    sweep: {depth: [1, 2, 3], width: [32, 64, 128, 256], input: [[1, 28, 28]]}
  - zoo: mlp-mnist
plan:
  layers: distinct
  whole_models: true
  thor_probes: true
)";

// One node's share: 1 nJ per MAC, 0.2 nJ per output element and 5 µJ, per sample; an
// optimiser's update 1 nJ per FLOP and 5 µJ whatever the batch.
inline double SyntheticNodeEnergy(const LayerSpec& spec, double batch) {
  auto f = ComputeFeatures(spec);
  if (!f.ok()) return 0;
  if (IsOptimizerStep(spec.type)) return 1e-9 * static_cast<double>(f->flops) + 5e-6;
  return batch * (1e-9 * static_cast<double>(f->macs) +
                  2e-10 * static_cast<double>(f->output_elements) + 5e-6);
}

inline double SyntheticEnergy(const JobSpec& job, int64_t salt) {
  const double b = static_cast<double>(job.batch);
  double e = 0;
  for (const ArchNode& n : job.graph.nodes) e += SyntheticNodeEnergy(n.spec, b);
  // A whole training step adds its loss and its update.
  if (job.mode == Mode::kTraining && job.kind == JobKind::kModel) {
    auto parts = TrainingStepParts(job.graph, job.optimizer, job.loss);
    if (parts.ok()) {
      for (const StepPart& p : *parts) e += SyntheticNodeEnergy(p.spec, b);
    }
  }
  if (job.kind == JobKind::kModel) e *= 1.1;
  return e * (1.0 + 0.01 * std::sin(static_cast<double>(salt)));
}

inline JobResult SyntheticResult(const JobSpec& job) {
  const double energy = SyntheticEnergy(job, job.job_id);
  JobResult r;
  r.job_id = job.job_id;
  r.attempt = 1;
  r.outcome = Outcome::kDone;
  Measurement& m = r.measurement;
  m.sensor = "modeled";
  m.domain = "cpu-estimate";
  m.energy_is_estimate = true;
  m.iterations_per_window = 10;
  m.repeats = {{10, 10 * energy / 20, 10 * energy}, {10, 10 * energy / 20, 10 * energy},
               {10, 10 * energy / 20, 10 * energy}};
  m.time_per_iter_s = energy / 20;
  m.energy_per_iter_j = energy;
  m.energy_dynamic_per_iter_j = energy / 2;
  m.idle_w = 10;
  m.rel_ci = 0.01;
  m.time_rel_ci = 0.01;
  m.ci_met = true;
  m.agent_name = "agent-1";
  m.agent_version = "test";
  m.torch_version = "test";
  m.device = "cpu";
  m.threads = 1;
  return r;
}

// Creates `path` with the campaign and records a result for every job except the last
// `leave_unmeasured` (which stay queued, returned so that a test can measure them later).
// `campaign_text`: another campaign to measure the same way (a batch sweep, say).
inline std::vector<JobSpec> BuildSyntheticDataset(const std::string& path,
                                                  size_t leave_unmeasured = 0,
                                                  const std::string& campaign_text =
                                                      kSyntheticCampaign) {
  std::vector<JobSpec> left;
  auto campaign = ParseCampaign(campaign_text, "predict-test.yaml");
  EXPECT_TRUE(campaign.ok()) << campaign.status().ToString();
  if (!campaign.ok()) return left;
  auto plan = MakePlan(*campaign);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  if (!plan.ok()) return left;
  auto store = OpenStore(path);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return left;
  auto id = (*store)->CreateCampaign(*plan);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  auto jobs = (*store)->LoadActiveJobs();
  EXPECT_TRUE(jobs.ok()) << jobs.status().ToString();
  if (!jobs.ok()) return left;
  const size_t measured = jobs->size() - std::min(leave_unmeasured, jobs->size());
  for (size_t i = 0; i < jobs->size(); ++i) {
    const JobSpec& job = (*jobs)[i].spec;
    if (i >= measured) {
      left.push_back(job);
      continue;
    }
    EXPECT_TRUE((*store)->MarkLeased(job.job_id, 1, "agent-1", 0).ok());
    auto outcome = (*store)->RecordResult(SyntheticResult(job), "agent-1");
    EXPECT_TRUE(outcome.ok() && *outcome == RecordOutcome::kStored) << outcome.status().ToString();
  }
  return left;
}

// Records the result of a job left unmeasured by BuildSyntheticDataset.
// `flags`: the quality flags the measurement carries (none: a clean one).
inline void MeasureLater(const std::string& path, const JobSpec& job,
                         std::vector<std::string> flags = {}) {
  auto store = OpenStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->MarkLeased(job.job_id, 1, "agent-1", 0).ok());
  JobResult result = SyntheticResult(job);
  result.measurement.flags = std::move(flags);
  auto outcome = (*store)->RecordResult(result, "agent-1");
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, RecordOutcome::kStored);
}

}  // namespace wattfleet::testing
