// Active profiling (plan.active): the seed and grid, the planner's seed jobs, and the
// ActiveProfiler against a real SQLite store whose probe measurements the test inserts from a
// known energy function, as agents would.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/campaign/active_grid.h"
#include "wattfleet/active/active_profiler.h"
#include "wattfleet/campaign/campaign.h"
#include "wattfleet/plan/planner.h"
#include "wattfleet/plan/probe_planner.h"
#include "wattfleet/store/store.h"
#include "temp_dir.h"
#include "wattfleet/estimate/thor_model.h"
#include "wattfleet/plan/thor_signature.h"

namespace wattfleet {
namespace {

using testing::TempDir;

const std::vector<int64_t> kWidths = {4, 8, 16, 32, 64};
constexpr size_t kSeed = 11;
constexpr size_t kGrid = 2 * 5 + 5 * 5;

std::string CampaignYaml(const std::string& active) {
  return "name: active-test\n"
         "mode: inference\n"
         "batch_size: 4\n"
         "devices: [{class: cpu}]\n"
         "measurement: {warmup_ms: 0, min_window_ms: 10, min_repeats: 1, max_repeats: 2,"
         " cooldown_ms: 0}\n"
         "architectures:\n"
         "  - family: mlp\n"
         "    sweep: {depth: [1, 2], width: [8, 32], input: [32]}\n"
         "plan:\n"
         "  whole_models: false\n"
         "  thor_probes: {widths: [16, 4, 64, 8, 32]}\n" +
         (active.empty() ? "" : "  active: " + active + "\n");
}

// A smooth energy per iteration (J) for every probe, as THOR's additivity has it: E_out,
// E_in and E_hid with small fixed costs, summed along the probe.
double Energy(const std::string& subject) {
  Result<ProbeName> n = ParseProbeName(subject);
  EXPECT_TRUE(n.ok()) << subject;
  auto out = [](double c) { return 2e-5 + 1e-6 * c * 10; };
  auto in = [](double c) { return 3e-5 + 1e-6 * 32 * c; };
  auto hid = [](double a, double b) { return 1e-5 + 1e-6 * a * b; };
  const auto& w = n->widths;
  switch (n->role) {
    case ProbeRole::kOutput: return out(double(w[0]));
    case ProbeRole::kInput: return in(double(w[0])) + out(double(w[0]));
    case ProbeRole::kHidden:
      return in(double(w[0])) + hid(double(w[0]), double(w[1])) + out(double(w[1]));
  }
  return 0;
}

class ActiveProfilerTest : public ::testing::Test {
 protected:
  // Stores the campaign; `active` is the plan.active value ("" for none).
  void Create(const std::string& active) {
    Result<Campaign> c = ParseCampaign(CampaignYaml(active), "active.yaml");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Result<Plan> plan = MakePlan(*c);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    plan_ = std::move(plan).value();
    ASSERT_EQ(plan_.probe_kinds.size(), 1u);
    kind_ = plan_.probe_kinds[0];
    Open();
    Result<int64_t> id = store_->CreateCampaign(plan_);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    campaign_ = *id;
  }
  void Open() {
    store_.reset();
    auto store = OpenSqliteStore(dir_.File("data.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  // The campaign's networks THOR predicts with the kind: the profiler's targets.
  std::vector<std::vector<int64_t>> Targets() {
    Result<Campaign> c = ParseCampaign(CampaignYaml(""), "active.yaml");
    EXPECT_TRUE(c.ok());
    std::vector<std::vector<int64_t>> chains;
    for (const Architecture& a : c->architectures) {
      Result<ThorSignature> sig = ThorSignatureOf(a);
      if (sig.ok() && sig->kind.name == kind_) chains.push_back(sig->widths);
    }
    return chains;
  }

  std::vector<CampaignJob> Probes() {
    auto jobs = store_->ListCampaignJobs(campaign_, CampaignJobFilter{JobKind::kProbe, "", ""});
    EXPECT_TRUE(jobs.ok()) << jobs.status().ToString();
    return jobs.ok() ? *jobs : std::vector<CampaignJob>{};
  }
  std::vector<int64_t> Queued() {
    std::vector<int64_t> ids;
    for (const CampaignJob& j : Probes()) {
      if (j.state == JobState::kQueued) ids.push_back(j.spec.job_id);
    }
    return ids;
  }

  // An agent's DONE result with the energy of Energy(subject), then the dispatcher's call.
  void Measure(ActiveProfiler& profiler, const CampaignJob& job) {
    ASSERT_TRUE(store_->MarkLeased(job.spec.job_id, 1, "agent", 1).ok());
    JobResult r;
    r.job_id = job.spec.job_id;
    r.attempt = 1;
    r.measurement.sensor = "modeled";
    r.measurement.domain = "cpu-estimate";
    r.measurement.energy_per_iter_j = Energy(job.spec.subject);
    r.measurement.time_per_iter_s = 1e-3;
    r.measurement.repeats = {Repeat{100, 0.1, r.measurement.energy_per_iter_j * 100}};
    auto outcome = store_->RecordResult(r, "agent");
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    ASSERT_EQ(*outcome, RecordOutcome::kStored);
    profiler.JobEnded(job.spec);
  }
  void Fail(ActiveProfiler& profiler, const CampaignJob& job) {
    ASSERT_TRUE(store_->MarkLeased(job.spec.job_id, 1, "agent", 1).ok());
    JobResult r;
    r.job_id = job.spec.job_id;
    r.attempt = 1;
    r.outcome = Outcome::kFailed;
    r.error = "out of memory";
    ASSERT_TRUE(store_->RecordFailure(r, "agent", JobState::kFailed).ok());
    profiler.JobEnded(job.spec);
  }

  // Measures queued probes one at a time, oldest first, as one agent would, running the
  // profiler after each, until none is queued (or `limit` measurements).
  void RunToEnd(ActiveProfiler& profiler, size_t limit = 1000) {
    for (size_t n = 0; n < limit; ++n) {
      std::vector<int64_t> queued = Queued();
      if (queued.empty()) return;
      for (const CampaignJob& j : Probes()) {
        if (j.spec.job_id != queued.front()) continue;
        Measure(profiler, j);
        std::vector<ActiveJob> added = profiler.Run();
        for (const ActiveJob& a : added) {
          EXPECT_EQ(a.state, JobState::kQueued);
          EXPECT_EQ(a.spec.campaign_id, campaign_);
          EXPECT_GT(a.spec.job_id, 0);
        }
        // One new job per ended probe at most: never more in flight than the seed.
        EXPECT_LE(Queued().size(), kSeed);
        break;
      }
    }
  }

  // The measured probes and every planned point, read back.
  void Read(std::vector<ThorProbe>* measured, std::vector<ProbePoint>* planned) {
    for (const CampaignJob& j : Probes()) {
      Result<ProbeName> n = ParseProbeName(j.spec.subject);
      ASSERT_TRUE(n.ok());
      planned->push_back(ProbePoint{n->role, n->widths});
      if (j.measured) measured->push_back(ThorProbe{n->role, n->widths, j.energy_per_iter_j});
    }
  }

  TempDir dir_{"wf-active"};
  Plan plan_;
  std::string kind_;
  std::unique_ptr<Store> store_;
  int64_t campaign_ = 0;
};

TEST(ActiveGridTest, SeedSpansTheGridWithWhatTheFitNeeds) {
  const std::vector<ProbePoint> seed = ActiveSeed({16, 4, 64, 8, 32});
  ASSERT_EQ(seed.size(), kSeed);
  std::set<std::string> names;
  for (const ProbePoint& p : seed) names.insert(ProbePointName("k", p));
  const std::set<std::string> want = {
      "k/output/4",     "k/output/16",    "k/output/64",    "k/input/4",
      "k/input/16",     "k/input/64",     "k/hidden/4x4",   "k/hidden/4x64",
      "k/hidden/64x4",  "k/hidden/64x64", "k/hidden/16x16"};
  EXPECT_EQ(names, want);
  EXPECT_TRUE(std::is_sorted(seed.begin(), seed.end()));
  EXPECT_EQ(ProbeGrid(kWidths).size(), kGrid);
  // Fewer widths: corners coincide, still enough distinct points for the fit.
  EXPECT_EQ(ActiveSeed({8, 16}).size(), 2u + 2u + 4u);
}

TEST(ActiveGridTest, ParsesActiveAndPlansTheSeedOnly) {
  Result<Campaign> c = ParseCampaign(CampaignYaml("{budget_jobs: 20}"), "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->plan.active.has_value());
  EXPECT_EQ(c->plan.active->budget_jobs, 20);
  EXPECT_DOUBLE_EQ(c->plan.active->target_rel_std, 0.05);  // the documented default
  EXPECT_EQ(c->plan.active->aim, ActiveOptions::Aim::kNetworks);
  Result<Campaign> grid = ParseCampaign(CampaignYaml("{budget_jobs: 20, aim: grid}"), "a.yaml");
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_EQ(grid->plan.active->aim, ActiveOptions::Aim::kGrid);
  Result<Plan> plan = MakePlan(*c);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->JobsByKind()["probe"], static_cast<int64_t>(kSeed));
  EXPECT_EQ(plan->ActiveProbeJobsMax(), 20);
  std::set<std::string> subjects;
  for (const JobSpec& j : plan->jobs) {
    if (j.kind == JobKind::kProbe) subjects.insert(j.subject);
  }
  EXPECT_TRUE(subjects.count(plan->probe_kinds[0] + "/hidden/64x4"));
  EXPECT_TRUE(subjects.count(plan->probe_kinds[0] + "/output/16"));

  // The stored plan reads back without building architectures; budgets past the grid cap.
  Result<PlanOptions> p =
      ParseCampaignPlan(CampaignYaml("{budget_jobs: 500, target_rel_std: 0.2}"), "a.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->active.has_value());
  EXPECT_DOUBLE_EQ(p->active->target_rel_std, 0.2);
  Result<Plan> big = MakePlan(*ParseCampaign(CampaignYaml("{budget_jobs: 500}"), "a.yaml"));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->ActiveProbeJobsMax(), static_cast<int64_t>(kGrid));

  // Without plan.active the whole grid is planned, as before.
  Result<Plan> full = MakePlan(*ParseCampaign(CampaignYaml(""), "a.yaml"));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->JobsByKind()["probe"], static_cast<int64_t>(kGrid));
}

// The profiler builds new probes from the kind it reads off a stored input probe: that must
// be the planned kind, for every type of kind.
TEST(ActiveGridTest, AnInputProbeDescribesItsKind) {
  const std::string yaml =
      "name: kinds\n"
      "devices: [{class: cpu}]\n"
      "architectures:\n"
      "  - family: mlp\n"
      "    sweep: {depth: [1], width: [16], input: [[1, 28, 28]]}\n"
      "  - family: cnn\n"
      "    sweep: {depth: [2], width: [8], input: [[3, 32, 32]]}\n"
      "  - family: lstm\n"
      "    sweep: {layers: [2], hidden: [64], features: [32], seq: [16]}\n"
      "  - family: gru\n"
      "    sweep: {layers: [1], hidden: [64], features: [32], seq: [16]}\n"
      "plan: {thor_probes: {widths: [8, 16, 32]}, active: {budget_jobs: 20}}\n";
  Result<Campaign> c = ParseCampaign(yaml, "kinds.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<Plan> plan = MakePlan(*c);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->probe_kinds.size(), 4u) << ::testing::PrintToString(plan->probe_kinds_skipped);
  size_t checked = 0;
  for (const JobSpec& j : plan->jobs) {
    if (j.kind != JobKind::kProbe || j.subject.find("/output/") != std::string::npos) continue;
    Result<ProbeName> name = ParseProbeName(j.subject);
    ASSERT_TRUE(name.ok());
    Result<ProbeKind> kind = ProbeKindOf(j.graph);
    ASSERT_TRUE(kind.ok()) << j.subject << ": " << kind.status().ToString();
    EXPECT_EQ(kind->name, name->kind) << j.subject;
    Result<Architecture> again = BuildProbe(*kind, name->role, name->widths);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->name, j.subject);
    ++checked;
  }
  EXPECT_EQ(checked, 4u * 8u);  // per kind: 3 input and 5 hidden seed probes
}

TEST(SelectProbesTest, PicksTheHighestRelativeStdAndStopsAtTheTarget) {
  std::vector<ThorProbe> measured;
  std::vector<ProbePoint> planned;
  for (const ProbePoint& p : ActiveSeed(kWidths)) {
    planned.push_back(p);
    measured.push_back(ThorProbe{p.role, p.widths, Energy(ProbePointName("k", p))});
  }
  Result<ThorKindModel> model = ThorKindModel::Fit(measured);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  double best = -1;
  ProbePoint best_point;
  for (const ProbePoint& c : ProbeGrid(kWidths)) {
    if (std::find(planned.begin(), planned.end(), c) != planned.end()) continue;
    const double s = model->Uncertainty(c.role, c.widths)->Relative();
    if (s > best) best = s, best_point = c;
  }
  ASSERT_GT(best, 0);

  Result<ActiveSelection> sel =
      SelectProbes(measured, planned, kWidths, ActiveOptions{100, best / 2}, 1);
  ASSERT_TRUE(sel.ok()) << sel.status().ToString();
  ASSERT_EQ(sel->chosen.size(), 1u);
  EXPECT_EQ(ProbePointName("k", sel->chosen[0]), ProbePointName("k", best_point));
  EXPECT_DOUBLE_EQ(sel->max_score, best);
  EXPECT_EQ(sel->unplanned, kGrid - kSeed);

  // Several at once: distinct, none planned already, the first the same.
  sel = SelectProbes(measured, planned, kWidths, ActiveOptions{100, 1e-9}, 4);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->chosen.size(), 4u);
  EXPECT_EQ(ProbePointName("k", sel->chosen[0]), ProbePointName("k", best_point));
  std::set<ProbePoint> picks(sel->chosen.begin(), sel->chosen.end());
  EXPECT_EQ(picks.size(), 4u);
  for (const ProbePoint& p : picks) {
    EXPECT_EQ(std::find(planned.begin(), planned.end(), p), planned.end());
  }

  // Above the largest score: nothing, and the reason.
  sel = SelectProbes(measured, planned, kWidths, ActiveOptions{100, best * 1.01}, 1);
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->chosen.empty());
  EXPECT_NE(sel->stop.find("under"), std::string::npos) << sel->stop;
  // The budget: 11 planned of 12 allows one whatever `want` asks.
  sel = SelectProbes(measured, planned, kWidths, ActiveOptions{12, 1e-9}, 5);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->chosen.size(), 1u);
  sel = SelectProbes(measured, planned, kWidths, ActiveOptions{11, 1e-9}, 5);
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->chosen.empty());
  EXPECT_NE(sel->stop.find("budget"), std::string::npos) << sel->stop;
}

TEST(SelectProbesTest, WithTargetsPicksWhatTheTargetsUseAndStopsWhenTheyAreKnown) {
  std::vector<ThorProbe> measured;
  std::vector<ProbePoint> planned;
  for (const ProbePoint& p : ActiveSeed(kWidths)) {
    planned.push_back(p);
    measured.push_back(ThorProbe{p.role, p.widths, Energy(ProbePointName("k", p))});
  }
  // Constant-width chains at 8 and 32 use P_in and P_hid at those widths, never P_out.
  const std::vector<std::vector<int64_t>> targets = {{8, 8}, {32, 32, 32}};
  Result<ActiveSelection> sel =
      SelectProbes(measured, planned, kWidths, ActiveOptions{100, 1e-9}, 4, targets);
  ASSERT_TRUE(sel.ok()) << sel.status().ToString();
  ASSERT_FALSE(sel->chosen.empty());
  EXPECT_GT(sel->max_score, 0);
  for (const ProbePoint& p : sel->chosen) {
    EXPECT_NE(p.role, ProbeRole::kOutput) << ProbePointName("k", p);
  }
  // The first pick is a probe the targets' sums contain.
  const ProbePoint& first = sel->chosen[0];
  bool used = false;
  for (const std::vector<int64_t>& chain : targets) {
    for (const ThorTerm& t : ThorTerms(chain)) {
      used = used || (t.role == first.role && t.widths == first.widths);
    }
  }
  EXPECT_TRUE(used) << ProbePointName("k", first);
  // Every target known well enough: nothing, and the reason names the targets.
  sel = SelectProbes(measured, planned, kWidths, ActiveOptions{100, 1e6}, 4, targets);
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->chosen.empty());
  EXPECT_NE(sel->stop.find("target network"), std::string::npos) << sel->stop;
}

TEST(SelectProbesTest, ManyMeasuredProbesTakeABatchFromOneFit) {
  // 9 widths, 99 probes; 72 measured: past the refit limit.
  const std::vector<int64_t> widths = {4, 6, 8, 12, 16, 24, 32, 48, 64};
  std::vector<ThorProbe> measured;
  std::vector<ProbePoint> planned;
  size_t k = 0;
  for (const ProbePoint& p : ProbeGrid(widths)) {
    if (k++ % 4 == 3) continue;
    planned.push_back(p);
    measured.push_back(ThorProbe{p.role, p.widths, Energy(ProbePointName("k", p))});
  }
  ASSERT_GT(measured.size(), 64u);
  Result<ThorKindModel> model = ThorKindModel::Fit(measured);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<std::pair<double, std::string>> scores;
  for (const ProbePoint& c : ProbeGrid(widths)) {
    if (std::find(planned.begin(), planned.end(), c) != planned.end()) continue;
    scores.emplace_back(-model->Uncertainty(c.role, c.widths)->Relative(),
                        ProbePointName("k", c));
  }
  std::sort(scores.begin(), scores.end());
  Result<ActiveSelection> sel =
      SelectProbes(measured, planned, widths, ActiveOptions{1000, 1e-9}, 3);
  ASSERT_TRUE(sel.ok()) << sel.status().ToString();
  ASSERT_EQ(sel->chosen.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ProbePointName("k", sel->chosen[i]), scores[i].second) << i;
    EXPECT_DOUBLE_EQ(sel->scores[i], -scores[i].first);
  }
}

TEST_F(ActiveProfilerTest, WaitsForTheSeedThenPicksTheMostUncertainProbe) {
  Create("{budget_jobs: 30, target_rel_std: 1e-9, aim: grid}");
  ActiveProfiler profiler(*store_);
  std::vector<CampaignJob> seed = Probes();
  ASSERT_EQ(seed.size(), kSeed);
  // All but the last seed probe. The first results cannot be fitted and nothing is added;
  // once they can, each ended probe is replaced: never more than the seed's 11 in flight.
  for (size_t i = 0; i + 1 < seed.size(); ++i) {
    Measure(profiler, seed[i]);
    std::vector<ActiveJob> added = profiler.Run();
    if (i == 0) {
      EXPECT_TRUE(added.empty()) << "one measured probe cannot be fitted";
    }
    EXPECT_LE(Queued().size(), kSeed);
  }
  // Pick what the profiler will have to beat, from the same data it will see: the measured
  // probes, and the probes chosen while the seed was measured (queued) at their predictions.
  Measure(profiler, seed.back());
  std::vector<ThorProbe> measured;
  std::vector<ProbePoint> planned;
  Read(&measured, &planned);
  ASSERT_GT(planned.size(), kSeed) << "probes were chosen once the seed could be fitted";
  Result<ThorKindModel> first = ThorKindModel::Fit(measured);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::vector<ThorProbe> believed = measured;
  std::set<ProbePoint> pending(planned.begin(), planned.end());
  for (const ThorProbe& m : measured) pending.erase(ProbePoint{m.role, m.widths});
  for (const ProbePoint& p : pending) {
    believed.push_back({p.role, p.widths, first->Uncertainty(p.role, p.widths)->predicted});
  }
  Result<ThorKindModel> model = ThorKindModel::Fit(believed);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<std::pair<double, std::string>> scores;
  for (const ProbePoint& c : ProbeGrid(kWidths)) {
    if (std::find(planned.begin(), planned.end(), c) != planned.end()) continue;
    scores.emplace_back(model->Uncertainty(c.role, c.widths)->Relative(),
                        ProbePointName(kind_, c));
  }
  const auto best = std::max_element(scores.begin(), scores.end(), [](auto& a, auto& b) {
    return a.first < b.first;
  });

  const size_t planned_before = Probes().size();
  std::vector<ActiveJob> added = profiler.Run();
  ASSERT_EQ(added.size(), 1u) << "one ended probe, one new one";
  EXPECT_EQ(added.front().spec.subject, best->second);
  // The probe is a real probe model, stored like the planned ones.
  EXPECT_EQ(added.front().spec.graph.name, best->second);
  EXPECT_EQ(added.front().spec.settings, seed[0].spec.settings);
  EXPECT_EQ(added.front().spec.batch, seed[0].spec.batch);
  EXPECT_EQ(Probes().size(), planned_before + 1);
  EXPECT_EQ(Queued().size(), kSeed);
  // Nothing pending: a second Run adds nothing.
  EXPECT_TRUE(profiler.Run().empty());
}

TEST_F(ActiveProfilerTest, AimsAtTheCampaignsNetworksAndStopsOnceTheyAreKnown) {
  const double target = 0.05;
  Create("{budget_jobs: 30, target_rel_std: 0.05}");
  ActiveProfiler profiler(*store_);
  const std::vector<CampaignJob> seed = Probes();
  std::set<std::string> seeded;
  for (const CampaignJob& j : seed) seeded.insert(j.spec.subject);
  RunToEnd(profiler);
  const std::vector<CampaignJob> jobs = Probes();
  EXPECT_GT(jobs.size(), kSeed);
  EXPECT_LT(jobs.size(), 30u) << "the targets are known well before the budget";
  std::set<std::string> subjects;
  for (const CampaignJob& j : jobs) subjects.insert(j.spec.subject);
  EXPECT_EQ(subjects.size(), jobs.size());
  // MLPs of depth 1 and 2 at widths 8 and 32 are P_in(C) and P_hid(C, C): the first probes
  // added are of those, and no output probe is added (constant-width chains do not use P_out).
  const std::vector<std::vector<int64_t>> targets = Targets();
  ASSERT_EQ(targets.size(), 4u);
  std::set<std::string> terms;
  for (const std::vector<int64_t>& chain : targets) {
    for (const ThorTerm& t : ThorTerms(chain)) {
      terms.insert(ProbePointName(kind_, ProbePoint{t.role, t.widths}));
    }
  }
  const CampaignJob& first_added = jobs[kSeed];
  EXPECT_TRUE(terms.count(first_added.spec.subject)) << first_added.spec.subject;
  for (const std::string& s : subjects) {
    if (!seeded.count(s)) {
      EXPECT_EQ(s.find("/output/"), std::string::npos) << s;
    }
  }
  // Where it stopped, every target's prediction is within the target.
  std::vector<ThorProbe> measured;
  std::vector<ProbePoint> planned;
  Read(&measured, &planned);
  Result<ThorKindModel> model = ThorKindModel::Fit(measured);
  ASSERT_TRUE(model.ok());
  for (const std::vector<int64_t>& chain : targets) {
    Result<double> r = model->ChainRelativeStd(chain);
    ASSERT_TRUE(r.ok());
    EXPECT_LT(*r, target) << chain.size() << " layers of " << chain[0];
  }
}

TEST_F(ActiveProfilerTest, RespectsTheBudgetAndNeverPlansAProbeTwice) {
  Create("{budget_jobs: 19, target_rel_std: 1e-9, aim: grid}");
  ActiveProfiler profiler(*store_);
  RunToEnd(profiler);
  const std::vector<CampaignJob> jobs = Probes();
  EXPECT_EQ(jobs.size(), 19u);  // a target nothing reaches: the budget decides
  std::set<std::string> subjects;
  for (const CampaignJob& j : jobs) {
    subjects.insert(j.spec.subject);
    EXPECT_EQ(j.state, JobState::kDone);
  }
  EXPECT_EQ(subjects.size(), jobs.size());
}

TEST_F(ActiveProfilerTest, AimedAtTheGridStopsWhenEveryCandidateIsUnderTheTarget) {
  const double target = 0.05;
  Create("{budget_jobs: 35, target_rel_std: 0.05, aim: grid}");
  ActiveProfiler profiler(*store_);
  RunToEnd(profiler);
  const std::vector<CampaignJob> jobs = Probes();
  EXPECT_GT(jobs.size(), kSeed);
  EXPECT_LT(jobs.size(), kGrid) << "the target should stop it before the grid is exhausted";
  std::set<std::string> subjects;
  for (const CampaignJob& j : jobs) subjects.insert(j.spec.subject);
  EXPECT_EQ(subjects.size(), jobs.size());
  // Where it stopped, no candidate left reaches the target.
  std::vector<ThorProbe> measured;
  std::vector<ProbePoint> planned;
  Read(&measured, &planned);
  Result<ThorKindModel> model = ThorKindModel::Fit(measured);
  ASSERT_TRUE(model.ok());
  for (const ProbePoint& c : ProbeGrid(kWidths)) {
    if (std::find(planned.begin(), planned.end(), c) != planned.end()) continue;
    EXPECT_LT(model->Uncertainty(c.role, c.widths)->Relative(), target)
        << ProbePointName(kind_, c);
  }
}

TEST_F(ActiveProfilerTest, ARestartedControllerContinuesFromTheStore) {
  Create("{budget_jobs: 30, target_rel_std: 1e-9, aim: grid}");
  {
    ActiveProfiler first(*store_);
    RunToEnd(first, kSeed + 2);  // the seed and a couple of chosen probes
  }
  const size_t before = Probes().size();
  EXPECT_GT(before, kSeed);
  EXPECT_LT(before, 30u);
  Open();  // a new connection, a new profiler: nothing carried over in memory
  ActiveProfiler second(*store_);
  RunToEnd(second);
  const std::vector<CampaignJob> jobs = Probes();
  EXPECT_EQ(jobs.size(), 30u);
  std::set<std::string> subjects;
  for (const CampaignJob& j : jobs) subjects.insert(j.spec.subject);
  EXPECT_EQ(subjects.size(), jobs.size());
}

TEST_F(ActiveProfilerTest, AFitItCannotMakeEndsTheKindWithoutThrowing) {
  Create("{budget_jobs: 30}");
  ActiveProfiler profiler(*store_);
  // Every output probe fails: E_out cannot be fitted, whatever else is measured.
  for (const CampaignJob& j : Probes()) {
    if (j.spec.subject.find("/output/") != std::string::npos) {
      Fail(profiler, j);
    } else {
      Measure(profiler, j);
    }
    EXPECT_TRUE(profiler.Run().empty());
  }
  EXPECT_TRUE(Queued().empty());
  EXPECT_EQ(Probes().size(), kSeed);
  // Told again (another probe's end): still nothing.
  profiler.JobEnded(Probes().front().spec);
  EXPECT_TRUE(profiler.Run().empty());
}

TEST_F(ActiveProfilerTest, CampaignsWithoutActiveAndCancelledOnesGetNoProbes) {
  Create("");
  ActiveProfiler profiler(*store_);
  const std::vector<CampaignJob> jobs = Probes();
  ASSERT_EQ(jobs.size(), kGrid);
  for (size_t i = 0; i < 12; ++i) Measure(profiler, jobs[i]);
  EXPECT_TRUE(profiler.Run().empty());
  EXPECT_EQ(Probes().size(), kGrid);

  // A cancelled campaign refuses new jobs.
  ASSERT_TRUE(store_->CancelCampaign(campaign_).ok());
  Result<ActiveJob> added = store_->AddJob(campaign_, jobs[0].spec);
  EXPECT_EQ(added.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace wattfleet
