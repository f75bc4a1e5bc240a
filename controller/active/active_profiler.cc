// Active profiling of THOR's probes (active_profiler.h).
#include "wattfleet/active/active_profiler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>
#include <tuple>

#include "wattfleet/plan/planner.h"
#include "wattfleet/plan/probe_planner.h"
#include "wattfleet/plan/thor_signature.h"

namespace wattfleet {
namespace {

// Up to this many measured probes, each further pick of a batch is made on a refit (a few
// milliseconds each); past it a fit costs tens to hundreds of milliseconds on the dispatcher's
// thread, and the batch is taken from the one fit.
constexpr size_t kBelieverMaxProbes = 64;

struct Scored {
  ProbePoint point;
  double score = 0;
  double predicted = 0;
};

// Distinct widths per role reach what ThorKindModel::Fit needs (output and input: 2,
// hidden: 3). Checked first so that a seed still being measured waits rather than fails.
bool Fittable(const std::vector<ThorProbe>& measured) {
  std::set<std::vector<int64_t>> out, in, hidden;
  for (const ThorProbe& p : measured) {
    (p.role == ProbeRole::kOutput ? out : p.role == ProbeRole::kInput ? in : hidden)
        .insert(p.widths);
  }
  return out.size() >= 2 && in.size() >= 2 && hidden.size() >= 3;
}

std::string Number(double v) {
  std::ostringstream s;
  s.precision(3);
  s << v;
  return s.str();
}

// Every candidate not in `excluded`, scored on `model`, best first.
Result<std::vector<Scored>> Score(const ThorKindModel& model,
                                  const std::vector<ProbePoint>& candidates,
                                  const std::set<ProbePoint>& excluded) {
  std::vector<Scored> scored;
  for (const ProbePoint& c : candidates) {
    if (excluded.count(c)) continue;
    WF_ASSIGN_OR_RETURN(ProbeUncertainty u, model.Uncertainty(c.role, c.widths));
    const double score = u.Relative();
    // Infinite (a zero prediction) ranks first; NaN would make the order meaningless.
    if (std::isnan(score) || !std::isfinite(u.predicted)) {
      return Status::Internal("thor: non-finite uncertainty at " +
                              ProbePointName("probe", c));
    }
    scored.push_back(Scored{c, score, u.predicted});
  }
  std::stable_sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.point < b.point;
  });
  return scored;
}

// Every candidate not in `excluded`, scored by how much measuring it would lower the
// relative variance of the target networks' predictions, summed over the networks; best
// first. This aims the budget at the widths the campaign's networks use: a probe far from
// them, however uncertain, tells little about them.
Result<std::vector<Scored>> ScoreForTargets(const ThorKindModel& model,
                                            const std::vector<ProbePoint>& candidates,
                                            const std::set<ProbePoint>& excluded,
                                            const std::vector<std::vector<int64_t>>& targets) {
  std::vector<Scored> scored;
  for (ProbeRole role : {ProbeRole::kOutput, ProbeRole::kInput, ProbeRole::kHidden}) {
    std::vector<const ProbePoint*> mine;
    for (const ProbePoint& c : candidates) {
      if (c.role == role && !excluded.count(c)) mine.push_back(&c);
    }
    if (mine.empty()) continue;
    const Eigen::Index dims = static_cast<Eigen::Index>(mine[0]->widths.size());
    Eigen::MatrixXd X(static_cast<Eigen::Index>(mine.size()), dims);
    for (size_t i = 0; i < mine.size(); ++i) {
      for (Eigen::Index j = 0; j < dims; ++j) {
        X(static_cast<Eigen::Index>(i), j) = static_cast<double>(mine[i]->widths[static_cast<size_t>(j)]);
      }
    }
    Eigen::VectorXd total = Eigen::VectorXd::Zero(X.rows());
    for (const std::vector<int64_t>& chain : targets) {
      WF_ASSIGN_OR_RETURN(Eigen::VectorXd r, model.ChainVarianceReduction(chain, role, X));
      total += r;
    }
    for (size_t i = 0; i < mine.size(); ++i) {
      const double score = total(static_cast<Eigen::Index>(i));
      if (std::isnan(score)) {
        return Status::Internal("thor: non-finite variance reduction at " +
                                ProbePointName("probe", *mine[i]));
      }
      WF_ASSIGN_OR_RETURN(ProbeUncertainty u, model.Uncertainty(role, mine[i]->widths));
      scored.push_back(Scored{*mine[i], score, u.predicted});
    }
  }
  std::stable_sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.point < b.point;
  });
  return scored;
}

// The largest relative std over the target networks' predictions.
Result<double> WorstTarget(const ThorKindModel& model,
                           const std::vector<std::vector<int64_t>>& targets) {
  double worst = 0;
  for (const std::vector<int64_t>& chain : targets) {
    WF_ASSIGN_OR_RETURN(double r, model.ChainRelativeStd(chain));
    worst = std::max(worst, r);
  }
  return worst;
}

// Below this expected fall of relative variance (summed over the targets: a relative std
// that moves in its fourth decimal) a probe would tell the targets nothing worth a job.
constexpr double kNegligibleReduction = 1e-8;

}  // namespace

Result<ActiveSelection> SelectProbes(const std::vector<ThorProbe>& measured,
                                     const std::vector<ProbePoint>& planned,
                                     const std::vector<int64_t>& widths,
                                     const ActiveOptions& options, size_t want,
                                     const std::vector<std::vector<int64_t>>& targets,
                                     const GpOptions& gp) {
  ActiveSelection sel;
  const std::vector<ProbePoint> grid = ProbeGrid(widths);
  std::set<ProbePoint> excluded(planned.begin(), planned.end());
  for (const ProbePoint& c : grid) sel.unplanned += excluded.count(c) ? 0 : 1;
  const int64_t planned_count = static_cast<int64_t>(excluded.size());
  if (planned_count >= options.budget_jobs) {
    sel.stop = "its budget of " + std::to_string(options.budget_jobs) + " probe jobs is spent";
    return sel;
  }
  if (sel.unplanned == 0) {
    sel.stop = "every probe of the grid is planned";
    return sel;
  }
  const size_t allowed =
      std::min<size_t>(want, static_cast<size_t>(options.budget_jobs - planned_count));
  const bool refit = measured.size() <= kBelieverMaxProbes;
  std::vector<ThorProbe> data = measured;
  // Probes planned but not measured yet (queued or running) count at their predicted values
  // too: they are no candidates any more, and without them a target whose own probes are in
  // flight would look as uncertain as before they were chosen.
  std::set<ProbePoint> pending(planned.begin(), planned.end());
  for (const ThorProbe& m : measured) pending.erase(ProbePoint{m.role, m.widths});
  if (!pending.empty() && refit) {
    WF_ASSIGN_OR_RETURN(ThorKindModel first, ThorKindModel::Fit(measured, gp));
    for (const ProbePoint& p : pending) {
      WF_ASSIGN_OR_RETURN(ProbeUncertainty u, first.Uncertainty(p.role, p.widths));
      data.push_back(ThorProbe{p.role, p.widths, u.predicted});
    }
  }
  std::vector<Scored> scored;
  const bool aimed = !targets.empty();
  for (size_t pick = 0; pick < allowed; ++pick) {
    if (pick == 0 || refit) {
      WF_ASSIGN_OR_RETURN(ThorKindModel model, ThorKindModel::Fit(data, gp));
      if (aimed) {
        // Stop once every target is known well enough; the believer's refits lower the
        // targets' std as if the picks were measured, which ends a batch early too.
        WF_ASSIGN_OR_RETURN(double worst, WorstTarget(model, targets));
        if (pick == 0) sel.max_score = worst;
        if (worst < options.target_rel_std) break;
        WF_ASSIGN_OR_RETURN(scored, ScoreForTargets(model, grid, excluded, targets));
      } else {
        WF_ASSIGN_OR_RETURN(scored, Score(model, grid, excluded));
      }
    }
    // Without a refit the list is the first fit's, minus what was picked.
    const auto best = std::find_if(scored.begin(), scored.end(),
                                   [&](const Scored& c) { return !excluded.count(c.point); });
    if (best == scored.end()) break;
    if (aimed) {
      if (best->score < kNegligibleReduction) {
        if (sel.chosen.empty()) {
          sel.stop = "no probe left would tell the campaign's networks more (their largest "
                     "relative std " + Number(sel.max_score) + ")";
        }
        break;
      }
    } else {
      if (pick == 0) sel.max_score = best->score;
      if (best->score < options.target_rel_std) break;
    }
    sel.chosen.push_back(best->point);
    sel.scores.push_back(best->score);
    excluded.insert(best->point);
    // The believer: the pick as if measured at its prediction, for the next pick's fit.
    data.push_back(ThorProbe{best->point.role, best->point.widths, best->predicted});
  }
  if (sel.chosen.empty() && allowed > 0 && sel.stop.empty()) {
    sel.stop = std::string(aimed ? "every target network's" : "every candidate's") +
               " relative std is under " + Number(options.target_rel_std) + " (largest " +
               Number(sel.max_score) + ")";
  }
  return sel;
}

bool ActiveProfiler::Key::operator<(const Key& o) const {
  return std::tie(campaign, device_class, kind) < std::tie(o.campaign, o.device_class, o.kind);
}

std::string ActiveProfiler::Label(const Key& key) const {
  return "campaign " + std::to_string(key.campaign) + ", THOR kind " + key.kind + " on " +
         key.device_class;
}

void ActiveProfiler::JobEnded(const JobSpec& job) {
  if (job.kind != JobKind::kProbe) return;
  Result<ProbeName> name = ParseProbeName(job.subject);
  if (!name.ok()) return;  // not a THOR probe name: nothing to profile
  pending_.insert(Key{job.campaign_id, job.device_class, name->kind});
}

std::optional<CampaignSource> ActiveProfiler::SourceOf(int64_t campaign) {
  Result<CampaignSource> source = store_.GetCampaignSource(campaign);
  if (source.ok()) return std::move(source).value();
  spdlog::error("controller: active profiling: campaign {}: {}", campaign,
                source.status().ToString());
  return std::nullopt;
}

const std::optional<PlanOptions>& ActiveProfiler::ActivePlanOf(int64_t campaign) {
  auto it = plans_.find(campaign);
  if (it != plans_.end()) return it->second;
  std::optional<PlanOptions> plan;
  const std::optional<CampaignSource> source = SourceOf(campaign);
  if (!source) {
    static const std::optional<PlanOptions> kNone;
    return kNone;
  }
  Result<PlanOptions> parsed = ParseCampaignPlan(source->yaml, source->source_path);
  if (!parsed.ok()) {
    spdlog::warn("controller: active profiling: campaign {}: its stored plan does not parse "
                 "any more, so no probes are added: {}",
                 campaign, parsed.status().message());
  } else if (parsed->active && parsed->thor_probes) {
    plan = std::move(parsed).value();
  }
  return plans_.emplace(campaign, std::move(plan)).first->second;
}

const std::vector<std::vector<int64_t>>& ActiveProfiler::TargetsOf(int64_t campaign,
                                                                    const std::string& kind) {
  static const std::vector<std::vector<int64_t>> kNone;
  auto it = targets_.find(campaign);
  if (it == targets_.end()) {
    std::map<std::string, std::vector<std::vector<int64_t>>> by_kind;
    // The campaign's aim must not change for good because of a store error: this pass
    // chooses by the grid.
    const std::optional<CampaignSource> source = SourceOf(campaign);
    if (!source) return kNone;
    Result<Campaign> parsed = ParseCampaign(source->yaml, source->source_path);
    if (!parsed.ok()) {
      spdlog::warn("controller: active profiling: campaign {}: its networks are not known, so "
                   "probes are chosen by their own uncertainty: {}",
                   campaign, parsed.status().message());
    } else {
      std::set<std::vector<int64_t>> seen;
      for (const Architecture& arch : parsed->architectures) {
        Result<ThorSignature> sig = ThorSignatureOf(arch);
        if (!sig.ok()) continue;
        std::vector<std::vector<int64_t>>& chains = by_kind[sig->kind.name];
        if (std::find(chains.begin(), chains.end(), sig->widths) == chains.end()) {
          chains.push_back(sig->widths);
        }
      }
    }
    it = targets_.emplace(campaign, std::move(by_kind)).first;
  }
  auto k = it->second.find(kind);
  return k == it->second.end() ? kNone : k->second;
}

void ActiveProfiler::Finish(const Key& key, const std::string& why, bool failure) {
  if (failure) {
    failed_.insert(key);
    spdlog::warn("controller: active profiling: {}: stopped: {}", Label(key), why);
    return;
  }
  if (finished_.insert(key).second) {
    spdlog::info("controller: active profiling: {}: finished: {}", Label(key), why);
  }
}

std::vector<ActiveJob> ActiveProfiler::Run() {
  std::vector<ActiveJob> added;
  std::set<Key> keys;
  keys.swap(pending_);
  for (const Key& key : keys) {
    if (failed_.count(key)) continue;
    try {
      const std::optional<PlanOptions>& plan = ActivePlanOf(key.campaign);
      if (!plan) continue;
      Result<std::vector<ActiveJob>> jobs = Step(key, *plan);
      if (!jobs.ok()) {
        spdlog::error("controller: active profiling: {}: {}", Label(key),
                      jobs.status().ToString());
        continue;
      }
      for (ActiveJob& j : *jobs) added.push_back(std::move(j));
    } catch (const std::exception& e) {
      // Eigen or the allocator: a kind that throws is not tried again, the dispatcher goes on.
      Finish(key, std::string("unexpected error: ") + e.what(), /*failure=*/true);
    }
  }
  return added;
}

ActiveProfiler::ProbeCensus ActiveProfiler::CountProbes(const Key& key,
                                                        const std::vector<CampaignJob>& jobs) {
  ProbeCensus c;
  for (const CampaignJob& job : jobs) {
    Result<ProbeName> name = ParseProbeName(job.spec.subject);
    if (!name.ok() || name->kind != key.kind) continue;
    if (!c.model_job) c.model_job = job.spec;
    c.planned.push_back(ProbePoint{name->role, name->widths});
    if (job.state == JobState::kPlanned || job.state == JobState::kQueued ||
        job.state == JobState::kLeased) {
      ++c.unfinished;
    }
    // Energy, even where it is the modeled meter's estimate: THOR predicts energy, and the
    // modeled figure still ranks where the grid is least known.
    if (job.state == JobState::kDone && job.measured && std::isfinite(job.energy_per_iter_j)) {
      c.measured.push_back(ThorProbe{name->role, name->widths, job.energy_per_iter_j});
    }
    // The kind itself (to build new probes) from a probe that starts with its input layer.
    if (!kinds_.count(key) && name->role != ProbeRole::kOutput) {
      Result<ProbeKind> kind = ProbeKindOf(job.spec.graph);
      if (kind.ok() && kind->name == key.kind) kinds_.emplace(key, std::move(kind).value());
    }
  }
  return c;
}

std::vector<ActiveJob> ActiveProfiler::AddProbes(const Key& key, const PlanOptions& plan,
                                                 const ActiveSelection& sel,
                                                 const ProbeCensus& census, bool aimed) {
  const ProbeKind& kind = kinds_.at(key);
  std::vector<ActiveJob> added;
  for (size_t i = 0; i < sel.chosen.size(); ++i) {
    const ProbePoint& p = sel.chosen[i];
    Result<Architecture> built = BuildProbe(kind, p.role, p.widths);
    if (!built.ok()) {
      Finish(key, "cannot build " + ProbePointName(key.kind, p) + ": " +
                      built.status().message(),
             /*failure=*/true);
      break;
    }
    Architecture probe = std::move(built).value();
    JobSpec spec = *census.model_job;  // the campaign's selectors, mode, dtype, batch, protocol
    spec.job_id = 0;
    spec.attempt = 0;
    spec.kind = JobKind::kProbe;
    spec.subject = probe.name;
    spec.graph = std::move(probe);
    spec.lease_ms = LeaseMs(spec);  // a wider probe than the seed may need longer
    Result<ActiveJob> job = store_.AddJob(key.campaign, spec);
    if (!job.ok()) {
      // A campaign cancelled meanwhile takes no more jobs: not an error. A store error is,
      // but what was added so far is stored and must still be queued.
      if (job.status().code() == StatusCode::kInvalidArgument) {
        spdlog::info("controller: active profiling: {}: {}", Label(key), job.status().message());
      } else {
        spdlog::error("controller: active profiling: {}: {}", Label(key),
                      job.status().ToString());
      }
      break;
    }
    spdlog::info("controller: active profiling: {}: + {} ({} {}, probe {} of at most {})",
                 Label(key), spec.subject,
                 aimed ? "targets' relative variance falls by" : "relative std",
                 Number(sel.scores[i]), census.planned.size() + added.size() + 1,
                 plan.active->budget_jobs);
    added.push_back(std::move(job).value());
  }
  return added;
}

Result<std::vector<ActiveJob>> ActiveProfiler::Step(const Key& key, const PlanOptions& plan) {
  WF_ASSIGN_OR_RETURN(std::vector<CampaignJob> jobs,
                      store_.ListCampaignJobs(key.campaign, CampaignJobFilter{
                                                                JobKind::kProbe,
                                                                key.device_class,
                                                                key.kind + "/"}));
  const ProbeCensus census = CountProbes(key, jobs);
  if (!census.model_job) return std::vector<ActiveJob>{};
  // As many of the kind's probes queued or running as its seed had: one new probe per ended
  // one.
  const int64_t in_flight = static_cast<int64_t>(ActiveSeed(plan.probe_widths).size());
  if (census.unfinished >= in_flight) return std::vector<ActiveJob>{};
  if (!Fittable(census.measured)) {
    // The seed is still being measured; a later result brings what the fit needs.
    if (census.unfinished > 0) return std::vector<ActiveJob>{};
    Finish(key, "its measured probes (" + std::to_string(census.measured.size()) +
                    ") are too few to fit THOR's model (failed probe jobs?)",
           /*failure=*/true);
    return std::vector<ActiveJob>{};
  }
  if (kinds_.find(key) == kinds_.end()) {
    Finish(key, "no input or hidden probe describes the kind", /*failure=*/true);
    return std::vector<ActiveJob>{};
  }
  static const std::vector<std::vector<int64_t>> kGrid;
  const std::vector<std::vector<int64_t>>& targets =
      plan.active->aim == ActiveOptions::Aim::kGrid ? kGrid : TargetsOf(key.campaign, key.kind);
  Result<ActiveSelection> sel =
      SelectProbes(census.measured, census.planned, plan.probe_widths, *plan.active,
                   static_cast<size_t>(in_flight - census.unfinished), targets, gp_);
  if (!sel.ok()) {
    Finish(key, "the fit failed: " + sel.status().message(), /*failure=*/true);
    return std::vector<ActiveJob>{};
  }
  if (sel->chosen.empty()) {
    Finish(key, sel->stop + "; " + std::to_string(census.planned.size()) + " probe jobs, " +
                    std::to_string(census.measured.size()) + " measured",
           /*failure=*/false);
    return std::vector<ActiveJob>{};
  }
  finished_.erase(key);
  return AddProbes(key, plan, *sel, census, /*aimed=*/!targets.empty());
}

}  // namespace wattfleet
