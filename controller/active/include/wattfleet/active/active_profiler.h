// Active profiling of THOR's probes while a campaign runs (docs/design/estimators.md section 1; the
// campaign key plan.active in docs/campaign.md; docs/estimators.md).
//
// A campaign with plan.active plans only a seed of each kind's probes (active_grid.h). Each
// time one of its probe jobs ends, the dispatcher tells the ActiveProfiler; once per loop
// pass, for every (campaign, device class, kind) told about, the profiler reads that kind's
// probe jobs from the store, fits a ThorKindModel on the measured ones (energy per
// iteration), scores every probe of the grid not yet planned and stores the best ones as new
// jobs of the campaign, so that as many of the kind's probes are queued or running as its
// seed had.
//
// What a probe scores depends on the campaign. When it lists networks THOR can predict with
// the kind (its targets: an MLP sweep beside its probes), a probe scores the expected fall of
// the targets' relative prediction variance if it were measured, summed over the targets
// (an integrated-variance design, ThorKindModel::ChainVarianceReduction), and the kind is
// finished once every target's relative std is under target_rel_std. A campaign of probes
// alone has no targets; a probe then scores its own relative posterior std
// (ThorKindModel::Uncertainty(...).Relative()), and the kind is finished once no candidate
// reaches target_rel_std. Either way it is also finished when budget_jobs probes are
// planned or the grid is exhausted.
//
// Everything it decides on is read from the store (which probes exist, in which state,
// measured how), so a restarted controller carries on where the previous one stopped. The
// only memory is a cache (each campaign's plan, each kind's description) and the kinds whose
// fit failed: a fit failure is logged and ends that kind's profiling until the controller
// restarts, it never stops the dispatcher.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/campaign/active_grid.h"
#include "wattfleet/campaign/campaign.h"
#include "wattfleet/dispatch/job_source.h"
#include "wattfleet/numeric/gaussian_process.h"
#include "wattfleet/store/store.h"
#include "wattfleet/estimate/thor_model.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct ActiveSelection {
  std::vector<ProbePoint> chosen;  // to measure next, best first
  std::vector<double> scores;      // each pick's score when it was picked
  double max_score = 0;            // the largest relative std, of the unplanned candidates
                                   // or of the targets
  size_t unplanned = 0;            // candidates of the grid not planned yet
  std::string stop;                // when nothing is chosen: why the kind is finished
};

// One kind's next probes. Fits a ThorKindModel on `measured` (one value per measured probe),
// scores every probe of ProbeGrid(widths) that is not in `planned` (every probe job of the
// kind, in any state) and picks up to `want` of them, the highest score first (ties in
// ProbePoint order), while fewer than options.budget_jobs probes are planned. Without
// `targets` the score is Uncertainty(...).Relative() and picks stop when it falls under
// options.target_rel_std. With `targets` (networks' widths C_1 … C_{n-1}) the score is the
// summed ChainVarianceReduction over them, and picks stop when every target's
// ChainRelativeStd is under options.target_rel_std (max_score is then the largest of those)
// or no probe would lower them. While at most
// 64 probes are measured, probes planned but not measured yet count at their predicted
// values, and the model is refitted after each pick with the pick's predicted value as if
// it had been measured (the "kriging believer"), so that several picks at once
// spread over the grid instead of crowding where the first fit was least certain; past that
// a fit is too slow to repeat and the picks come from one fit. Errors: the fit's
// (Unavailable when the GPs cannot be fitted), Internal for a non-finite score.
Result<ActiveSelection> SelectProbes(const std::vector<ThorProbe>& measured,
                                     const std::vector<ProbePoint>& planned,
                                     const std::vector<int64_t>& widths,
                                     const ActiveOptions& options, size_t want,
                                     const std::vector<std::vector<int64_t>>& targets = {},
                                     const GpOptions& gp = {});

class ActiveProfiler final : public JobSource {
 public:
  explicit ActiveProfiler(Store& store, GpOptions gp = {}) : store_(store), gp_(gp) {}

  // A probe job ended (its measurement stored, or failed for good). Cheap: the work waits
  // for Run(), so that a burst of results costs one fit per kind. Other jobs are ignored.
  void JobEnded(const JobSpec& job) override;

  // For every kind told about since the last call, stores the probes to measure next as
  // queued jobs of their campaign and returns them for the dispatcher to queue. Runs inside
  // the dispatcher's store batch, before it decides whether a campaign is done. Never throws.
  std::vector<ActiveJob> Run() override;

  bool idle() const override { return pending_.empty(); }

 private:
  struct Key {
    int64_t campaign = 0;
    std::string device_class;
    std::string kind;
    bool operator<(const Key& o) const;
  };
  std::string Label(const Key& key) const;
  // The campaign's plan.active and width grid, parsed once from its stored YAML; nullopt when
  // the campaign has no plan.active (or its YAML no longer parses, which is logged).
  const std::optional<PlanOptions>& ActivePlanOf(int64_t campaign);
  // The widths C_1 … C_{n-1} of every network of the campaign that THOR can predict with
  // `kind`, parsed once from its stored YAML; empty when there is none (a campaign of probes
  // only) or the campaign no longer expands (logged).
  const std::vector<std::vector<int64_t>>& TargetsOf(int64_t campaign, const std::string& kind);
  // The campaign's stored source; none (logged) on a store error, which may be transient:
  // what is read from it is then not cached.
  std::optional<CampaignSource> SourceOf(int64_t campaign);
  // One kind: reads its probes, selects, stores the new jobs.
  Result<std::vector<ActiveJob>> Step(const Key& key, const PlanOptions& plan);
  // A kind's probe jobs as they stand: planned, measured, not yet ended, and the job new
  // probes copy their settings from (null when the kind has none). Learns the kind itself
  // from a probe that starts with its input layer.
  struct ProbeCensus {
    std::vector<ProbePoint> planned;
    std::vector<ThorProbe> measured;
    int64_t unfinished = 0;
    std::optional<JobSpec> model_job;
  };
  ProbeCensus CountProbes(const Key& key, const std::vector<CampaignJob>& jobs);
  // The chosen probes built and stored as new jobs of the campaign, as many as can be.
  std::vector<ActiveJob> AddProbes(const Key& key, const PlanOptions& plan,
                                   const ActiveSelection& sel, const ProbeCensus& census,
                                   bool aimed);
  // Ends the kind's profiling (logged once).
  void Finish(const Key& key, const std::string& why, bool failure);

  Store& store_;
  GpOptions gp_;
  std::set<Key> pending_;
  std::map<int64_t, std::optional<PlanOptions>> plans_;
  std::map<int64_t, std::map<std::string, std::vector<std::vector<int64_t>>>> targets_;
  std::map<Key, ProbeKind> kinds_;
  std::set<Key> failed_;    // fit failed: no more probes until a restart
  std::set<Key> finished_;  // stop logged; cleared when the kind adds a probe again
};

}  // namespace wattfleet
