// The planner: dedup by canonical key per device class, whole-model jobs, `layers: all`,
// counts and the device-time estimate. Campaigns are built by hand (BuildSequential) so that
// the expected layers are known exactly, independent of the zoo.
#include "wattfleet/plan/planner.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace wattfleet {
namespace {

LayerDecl Linear(int64_t in, int64_t out) {
  return LayerDecl{
      LayerType::kLinear, {{"in_features", double(in)}, {"out_features", double(out)}}, ""};
}
LayerDecl Relu() { return LayerDecl{LayerType::kReLU, {}, ""}; }

Architecture Build(const std::string& name, const std::vector<LayerDecl>& layers) {
  Result<Architecture> a = BuildSequential(name, "test", Shape{8}, layers);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  return a.ok() ? a.value() : Architecture{};
}

// a: Linear(8,16) ReLU Linear(16,4)     (3 nodes)
// b: Linear(8,16) ReLU Linear(16,2)     (3 nodes; shares its first two layers with a)
// Distinct layers: Linear(8,16), ReLU[16], Linear(16,4), Linear(16,2) = 4.
Campaign TwoArchitectures(std::vector<std::string> classes = {"cpu"},
                          Mode mode = Mode::kInference) {
  Campaign c;
  c.name = "t";
  c.batch_size = 4;
  c.mode = mode;
  c.dtype = DType::kFloat16;
  c.measurement.warmup_ms = 100;
  c.measurement.min_window_ms = 200;
  c.measurement.min_repeats = 3;
  c.measurement.cooldown_ms = 20;
  for (const auto& cls : classes) c.devices.push_back(DeviceSelector{cls, "", "", ""});
  c.architectures.push_back(Build("a", {Linear(8, 16), Relu(), Linear(16, 4)}));
  c.architectures.push_back(Build("b", {Linear(8, 16), Relu(), Linear(16, 2)}));
  return c;
}

int64_t Count(const Plan& p, JobKind kind, const std::string& cls) {
  int64_t n = 0;
  for (const JobSpec& j : p.jobs) n += (j.kind == kind && j.device_class == cls) ? 1 : 0;
  return n;
}

TEST(PlannerTest, EstimateArithmetic) {
  MeasurementSettings s;
  s.warmup_ms = 100;
  s.min_window_ms = 200;
  s.min_repeats = 3;
  s.cooldown_ms = 20;
  // (100 + 200 * (3 + 1) + 20) / 1000
  EXPECT_DOUBLE_EQ(EstimateJobSeconds(s), 0.92);
  // Defaults: (200 + 500 * 4 + 100) / 1000.
  EXPECT_DOUBLE_EQ(EstimateJobSeconds(MeasurementSettings{}), 2.3);
}

TEST(PlannerTest, SharedLayersAreMeasuredOncePerClass) {
  Campaign c = TwoArchitectures();
  c.plan.whole_models = false;
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->layers.size(), 4u);
  EXPECT_EQ(p->layers_total, 6);
  ASSERT_EQ(p->jobs.size(), 4u);
  std::set<std::string> subjects;
  for (const JobSpec& j : p->jobs) {
    EXPECT_EQ(j.kind, JobKind::kLayer);
    EXPECT_EQ(j.device_class, "cpu");
    EXPECT_EQ(j.mode, Mode::kInference);
    EXPECT_EQ(j.dtype, DType::kFloat16);
    EXPECT_EQ(j.batch, 4);
    EXPECT_EQ(j.settings, c.measurement);
    EXPECT_EQ(j.job_id, 0);
    subjects.insert(j.subject);
    // The graph is the layer alone, reading the input.
    EXPECT_EQ(j.graph.name, j.subject);
    EXPECT_EQ(j.graph.family, "layer");
    ASSERT_EQ(j.graph.nodes.size(), 1u);
    EXPECT_EQ(j.graph.nodes[0].inputs, std::vector<int>{-1});
    EXPECT_EQ(j.graph.input_shape, j.graph.nodes[0].spec.input_shape);
    EXPECT_EQ(CanonicalKey(j.graph.nodes[0].spec), j.subject);
  }
  EXPECT_EQ(subjects.size(), 4u);
  // Distinct layers in first-seen order, with features.
  EXPECT_EQ(p->layers[0].key, CanonicalKey(c.architectures[0].nodes[0].spec));
  EXPECT_EQ(p->layers[0].features.macs, 8 * 16);
  EXPECT_EQ(p->layers[3].key, CanonicalKey(c.architectures[1].nodes[2].spec));
}

// In training a network's step is its layers, its loss and its optimiser's update: the last
// two are layer jobs of their own, listed after the network's nodes.
TEST(PlannerTest, ATrainingCampaignMeasuresTheLossAndTheUpdate) {
  Campaign c = TwoArchitectures({"cpu"}, Mode::kTraining);
  c.optimizer = Optimizer::kAdam;
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // 4 network layers, a loss over 4 and over 2 classes, and two updates (212 and 178
  // parameters, in 4 tensors each).
  ASSERT_EQ(p->layers.size(), 8u);
  EXPECT_EQ(p->layers_total, 10);
  std::vector<std::string> listed_a;
  for (const ArchLayerRef& r : p->arch_layers) {
    if (r.architecture == "a") listed_a.push_back(r.node_name);
  }
  ASSERT_EQ(listed_a.size(), 5u);
  EXPECT_EQ(listed_a[3], "loss");
  EXPECT_EQ(listed_a[4], "optimizer");
  std::map<std::string, const PlannedLayer*> by_key;
  for (const PlannedLayer& l : p->layers) by_key[l.key] = &l;
  const PlannedLayer* update = nullptr;
  for (const ArchLayerRef& r : p->arch_layers) {
    if (r.architecture == "a" && r.node_name == "optimizer") update = by_key[r.layer_key];
  }
  ASSERT_NE(update, nullptr);
  EXPECT_EQ(update->spec.type, LayerType::kAdamStep);
  EXPECT_EQ(update->features.params, 8 * 16 + 16 + 16 * 4 + 4);
  EXPECT_EQ(update->spec.Int("tensors"), 4);
  for (const JobSpec& j : p->jobs) {
    EXPECT_EQ(j.optimizer, Optimizer::kAdam);
    EXPECT_EQ(j.mode, Mode::kTraining);
    // A whole-model job runs the network; its step adds the loss and the update itself.
    if (j.kind == JobKind::kModel) {
      EXPECT_EQ(j.graph.nodes.size(), 3u);
    }
  }
  // In inference there is neither.
  Result<Plan> inference = MakePlan(TwoArchitectures());
  ASSERT_TRUE(inference.ok());
  EXPECT_EQ(inference->layers.size(), 4u);
}

TEST(PlannerTest, TwoDeviceClassesDoubleTheJobs) {
  Campaign c = TwoArchitectures({"cpu", "cuda", "cpu"});  // the second cpu selector adds nothing
  c.plan.whole_models = false;
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->layers.size(), 4u);
  EXPECT_EQ(p->jobs.size(), 8u);
  EXPECT_EQ(Count(*p, JobKind::kLayer, "cpu"), 4);
  EXPECT_EQ(Count(*p, JobKind::kLayer, "cuda"), 4);
}

TEST(PlannerTest, WholeModelJobs) {
  Campaign c = TwoArchitectures({"cpu", "cuda"});
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->jobs.size(), 12u);
  EXPECT_EQ(Count(*p, JobKind::kModel, "cpu"), 2);
  EXPECT_EQ(Count(*p, JobKind::kModel, "cuda"), 2);
  for (const JobSpec& j : p->jobs) {
    if (j.kind != JobKind::kModel) continue;
    const Architecture& arch = j.subject == "a" ? c.architectures[0] : c.architectures[1];
    EXPECT_EQ(j.graph.name, arch.name);
    EXPECT_EQ(j.graph.nodes.size(), arch.nodes.size());
    EXPECT_EQ(j.batch, 4);
  }
  EXPECT_EQ(p->JobsByKind(), (std::map<std::string, int64_t>{{"layer", 8}, {"model", 4}}));
}

TEST(PlannerTest, ABatchSweepPlansEveryJobAtEachBatch) {
  Campaign c = TwoArchitectures({"cpu"});
  c.batch_sizes = {1, 8, 32};
  c.batch_size = 1;
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->layers.size(), 4u);  // distinct layers are per sample: the same at each batch
  EXPECT_EQ(p->jobs.size(), 3u * 6u);
  std::map<int64_t, int> layers_at, models_at;
  std::set<std::pair<std::string, int64_t>> seen;
  for (const JobSpec& j : p->jobs) {
    (j.kind == JobKind::kLayer ? layers_at : models_at)[j.batch]++;
    EXPECT_TRUE(seen.insert({std::string(JobKindName(j.kind)) + j.subject, j.batch}).second)
        << "a job planned twice at batch " << j.batch;
  }
  EXPECT_EQ(layers_at, (std::map<int64_t, int>{{1, 4}, {8, 4}, {32, 4}}));
  EXPECT_EQ(models_at, (std::map<int64_t, int>{{1, 2}, {8, 2}, {32, 2}}));
  // Active profiling learns at one batch: a sweep with it is refused, saying so.
  c.plan.thor_probes = true;
  c.plan.active = ActiveOptions{};
  Result<Plan> active = MakePlan(c);
  ASSERT_FALSE(active.ok());
  EXPECT_NE(active.status().message().find("one batch"), std::string::npos);
}

// The operator's bound on jobs is checked before any job is built, with the product that
// crossed it; a campaign within it plans as before.
TEST(PlannerTest, ACampaignPastTheJobLimitIsRefusedNamingTheProduct) {
  Campaign c = TwoArchitectures({"cpu", "cuda", "npu"});
  c.batch_sizes = {1, 8};
  c.batch_size = 1;
  // 3 classes x 2 batches x (4 layers + 0 probes + 2 models) = 36 jobs.
  Result<Plan> refused = MakePlan(c, PlanLimits{35});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("would plan 36 jobs (3 device classes x 2 batches x "
                                            "(4 layers + 0 probes + 2 models))"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("--max-campaign-jobs"), std::string::npos);
  Result<Plan> fits = MakePlan(c, PlanLimits{36});
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->jobs.size(), 36u);
  // The default bound is the one operators read in the docs.
  EXPECT_EQ(PlanLimits{}.max_jobs, kDefaultMaxCampaignJobs);

  // Few jobs, but each model job holds its whole graph: a network of 2 000 identical layers
  // is one layer job and one model job of 2 000 nodes, past 20 nodes per job allowed.
  Campaign deep = TwoArchitectures();
  deep.architectures = {Build("deep", std::vector<LayerDecl>(2000, Relu()))};
  Result<Plan> nodes = MakePlan(deep, PlanLimits{50});
  ASSERT_FALSE(nodes.ok());
  EXPECT_NE(nodes.status().message().find("would plan jobs of 2001 graph nodes in all (1 device "
                                          "class x 1 batch x 2001), more than the 1000"),
            std::string::npos)
      << nodes.status().message();
  EXPECT_TRUE(MakePlan(deep, PlanLimits{101}).ok());
}

TEST(PlannerTest, LayersAllDisablesDedup) {
  Campaign c = TwoArchitectures();
  c.plan.distinct_layers = false;
  c.plan.whole_models = false;
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->layers.size(), 4u);  // the layer table stays distinct
  EXPECT_EQ(p->layers_total, 6);
  EXPECT_EQ(p->jobs.size(), 6u);    // but every node gets a job
  EXPECT_EQ(p->JobsByKind(), (std::map<std::string, int64_t>{{"layer", 6}}));
  EXPECT_EQ(p->jobs[0].subject, p->jobs[3].subject);  // Linear(8,16) in a and in b
}

TEST(PlannerTest, ArchLayersListEveryNode) {
  Campaign c = TwoArchitectures();
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->arch_layers.size(), 6u);
  EXPECT_EQ(p->arch_layers[0].architecture, "a");
  EXPECT_EQ(p->arch_layers[0].position, 0);
  EXPECT_EQ(p->arch_layers[0].node_name, c.architectures[0].nodes[0].name);
  EXPECT_EQ(p->arch_layers[4].architecture, "b");
  EXPECT_EQ(p->arch_layers[4].position, 1);
  EXPECT_EQ(p->arch_layers[4].layer_key, p->arch_layers[1].layer_key);  // shared ReLU
  EXPECT_NE(p->arch_layers[5].layer_key, p->arch_layers[2].layer_key);
}

TEST(PlannerTest, EstimateAndLease) {
  Campaign c = TwoArchitectures({"cpu", "cuda"});
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const double per_job = EstimateJobSeconds(c.measurement);
  EXPECT_DOUBLE_EQ(p->estimated_device_seconds, per_job * 12);
  // 10 x 0.92 s is below the one-minute floor.
  for (const JobSpec& j : p->jobs) EXPECT_EQ(j.lease_ms, 60000);

  // Ten times (100 + 40000 + 20) ms is 401.2 s; twice every window the protocol may take
  // (warm-up 100 ms, 21 windows of 10 s, 20 ms) is more: 420.24 s.
  c.measurement.min_window_ms = 10000;
  Result<Plan> slow = MakePlan(c);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  for (const JobSpec& j : slow->jobs) EXPECT_EQ(j.lease_ms, 420240);
}

// A large network's training step can last seconds: its lease covers every window of one
// iteration at least, the iteration estimated at 1 GFLOP/s.
TEST(PlannerTest, ALongStepGetsALeaseItCanFinishIn) {
  Campaign c = TwoArchitectures({"cpu"}, Mode::kTraining);
  c.batch_size = 64;
  c.architectures = {Build("wide", {Linear(8, 4096), Linear(4096, 4096)})};
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const double flops = static_cast<double>(c.architectures[0].Totals().flops) * 64 * 3;
  const int64_t iteration_ms = static_cast<int64_t>(flops / 1e6);  // at 1 GFLOP/s
  ASSERT_GT(iteration_ms, 6000);
  bool model = false;
  for (const JobSpec& j : p->jobs) {
    if (j.kind != JobKind::kModel) continue;
    model = true;
    EXPECT_GE(j.lease_ms, 2 * (c.measurement.max_repeats + 2) * iteration_ms);
  }
  EXPECT_TRUE(model);
}

TEST(PlannerTest, EmptyDevicesAreRejected) {
  Campaign c = TwoArchitectures();
  c.devices.clear();
  EXPECT_EQ(MakePlan(c).status().code(), StatusCode::kInvalidArgument);
}

// Both architectures start with Linear(8, ...) on [8] but end in 4 and 2 classes: two kinds.
// Per kind and class: one output and one input probe per width, one hidden probe per pair.
TEST(PlannerTest, ThorProbesPerKindAndClass) {
  Campaign c = TwoArchitectures({"cpu", "cuda"});
  c.plan.thor_probes = true;
  c.plan.probe_widths = {8, 32, 64};
  c.architectures.push_back(Build("flat", {Relu()}));  // no layer THOR can probe
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->probe_kinds, (std::vector<std::string>{"linear-8-c4", "linear-8-c2"}));
  ASSERT_EQ(p->probe_kinds_skipped.size(), 1u);
  EXPECT_NE(p->probe_kinds_skipped[0].find("architecture 'flat'"), std::string::npos);
  const int64_t per_kind = 3 + 3 + 3 * 3;
  EXPECT_EQ(Count(*p, JobKind::kProbe, "cpu"), 2 * per_kind);
  EXPECT_EQ(Count(*p, JobKind::kProbe, "cuda"), 2 * per_kind);
  std::set<std::string> subjects;
  for (const JobSpec& j : p->jobs) {
    if (j.kind != JobKind::kProbe || j.device_class != "cpu") continue;
    EXPECT_TRUE(subjects.insert(j.subject).second) << j.subject;
    EXPECT_EQ(j.subject, j.graph.name);
    EXPECT_EQ(j.mode, Mode::kInference);  // the campaign's settings
  }
  EXPECT_TRUE(subjects.count("linear-8-c4/hidden/32x64"));
  EXPECT_TRUE(subjects.count("linear-8-c2/output/8"));
  // Probes come after the class's layer jobs and before its whole models.
  size_t last_layer = 0, first_probe = p->jobs.size(), first_model = p->jobs.size();
  for (size_t i = 0; i < p->jobs.size(); ++i) {
    if (p->jobs[i].device_class != "cpu") continue;
    if (p->jobs[i].kind == JobKind::kLayer) last_layer = i;
    if (p->jobs[i].kind == JobKind::kProbe) first_probe = std::min(first_probe, i);
    if (p->jobs[i].kind == JobKind::kModel) first_model = std::min(first_model, i);
  }
  EXPECT_LT(last_layer, first_probe);
  EXPECT_LT(first_probe, first_model);

  c.plan.thor_probes = false;
  Result<Plan> none = MakePlan(c);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(Count(*none, JobKind::kProbe, "cpu"), 0);
}

TEST(PlannerTest, ConvolutionKindsNeedSamePadding) {
  Campaign c = TwoArchitectures();
  c.architectures.clear();
  c.plan.thor_probes = true;
  c.plan.probe_widths = {4};
  Result<Campaign> file = LoadCampaignFile(std::string(WATTFLEET_SOURCE_DIR) +
                                           "/experiments/quickstart.yaml");
  ASSERT_TRUE(file.ok());
  c.architectures = file->architectures;  // lenet5 (5x5, unpadded), mlp, cnn (3x3, padded)
  Result<Plan> p = MakePlan(c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->probe_kinds.size(), 2u);
  EXPECT_EQ(p->probe_kinds[1], "conv2d-k3-p1-1x28x28-c10");
  ASSERT_EQ(p->probe_kinds_skipped.size(), 1u);
  EXPECT_NE(p->probe_kinds_skipped[0].find("lenet5"), std::string::npos);
  EXPECT_NE(p->probe_kinds_skipped[0].find("not a 'same' stride-1"), std::string::npos);
}

TEST(PlannerTest, QuickstartPlansAFewDozenJobs) {
  Result<Campaign> c =
      LoadCampaignFile(std::string(WATTFLEET_SOURCE_DIR) + "/experiments/quickstart.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<Plan> p = MakePlan(*c);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // docs/campaign.md promises "roughly 20-35 jobs" for the quickstart.
  EXPECT_GE(p->jobs.size(), 20u);
  EXPECT_LE(p->jobs.size(), 35u);
  EXPECT_EQ(p->JobsByKind().at("model"), 3);
  EXPECT_LT(static_cast<int64_t>(p->layers.size()), p->layers_total);  // shared layers exist
}

}  // namespace
}  // namespace wattfleet
