// The dataset store: campaigns, architectures, layers, jobs and their state machine,
// measurements, devices. One interface, so that a shared PostgreSQL backend can sit beside
// the embedded SQLite one.
//
// Thread safety: a Store is used from one thread at a time (the dispatcher's loop, or a CLI
// command). Every write is one transaction: a failure leaves nothing half-written.
//
// Job states and the rules of their transitions: job_lifecycle.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/plan/planner.h"
#include "wattfleet/store/job_lifecycle.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct DatasetPackage;        // dataset_package.h
struct PackageImportOutcome;

// A job the dispatcher may still hand out (queued) or is waiting on (leased).
struct ActiveJob {
  JobSpec spec;              // job_id and campaign_id set; attempt = attempts so far
  JobState state = JobState::kQueued;
  std::string agent;         // for leased jobs
  int64_t lease_deadline_ms = 0;  // unix ms, for leased jobs
};

struct CampaignStatus {
  int64_t id = 0;
  std::string name;
  std::string state;  // "running" | "done" | "cancelled"
  int64_t created_ms = 0;
  std::map<std::string, int64_t> jobs;  // job state name -> count (states with jobs only)
  // Measurements carrying quality flags (QualityFlags in job.h): how many, and per flag.
  int64_t flagged = 0;
  std::map<std::string, int64_t> flags;
};

// A job that kept failing and is no longer dispatched, with the reason of its last failure.
struct QuarantinedJob {
  int64_t job_id = 0;
  int64_t campaign_id = 0;
  std::string kind;
  std::string subject;
  int32_t attempts = 0;
  std::string last_error;
};

// A campaign as stored: what a controller needs to act on it after a restart.
struct CampaignSource {
  std::string name;
  std::string state;        // "running" | "done" | "cancelled"
  std::string source_path;  // as given at submit
  std::string yaml;         // the campaign file's text
};

// Which of a campaign's jobs ListCampaignJobs returns.
struct CampaignJobFilter {
  JobKind kind = JobKind::kProbe;
  std::string device_class;    // empty: every class
  std::string subject_prefix;  // empty: every subject
};

// One job of a campaign, in any state, with its measurement when it has one.
struct CampaignJob {
  JobSpec spec;  // as stored (job_id and campaign_id set)
  JobState state = JobState::kQueued;
  bool measured = false;
  double energy_per_iter_j = 0;  // when measured (NaN when the store holds none)
  double time_per_iter_s = 0;    // when measured
  std::string last_error;        // why its last attempt failed ("" when none did)
};

struct DeviceRecord {
  std::string name;
  std::string device_class;
  std::string capabilities_json;  // READY's capabilities, as JSON
};

// One row of the export: one measurement, with its layer and architecture context.
struct ExportRow {
  int64_t campaign_id = 0;
  std::string campaign;
  int64_t job_id = 0;
  int32_t attempt = 0;
  std::string device;        // agent name
  std::string device_class;
  JobKind kind = JobKind::kLayer;  // layer or model (probes are models to the export)
  std::string layer_key;     // layer jobs
  std::string layer_type;    // layer jobs
  std::string architecture;  // model jobs: the name; layer jobs: every architecture containing
                             // the layer, ';'-separated, sorted
  std::string mode;
  std::string dtype;
  int64_t batch = 0;
  int64_t macs = 0;          // per iteration (per-sample MACs x batch)
  int64_t flops = 0;         // per iteration
  int64_t params = 0;
  int64_t measured_at_ms = 0;
  Measurement m;
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores a plan as a new running campaign: campaign row (with its YAML), architectures,
  // distinct layers (shared across campaigns by key), arch_layers, and the jobs in state
  // queued. Assigns job ids, in plan.jobs' order into `job_ids` when given. Returns the
  // campaign id.
  virtual Result<int64_t> CreateCampaign(const Plan& plan, std::vector<int64_t>* job_ids) = 0;
  Result<int64_t> CreateCampaign(const Plan& plan) { return CreateCampaign(plan, nullptr); }

  // Queued and leased jobs of running campaigns, oldest first.
  virtual Result<std::vector<ActiveJob>> LoadActiveJobs() = 0;

  // queued -> leased with `attempt` (the attempts counter becomes `attempt`). The job must be
  // queued and must not have had more than `attempt` attempts already: a lease never lowers
  // the counter. (Equal is allowed: a JOB that could not be sent is requeued without spending
  // its attempt and leased again with the same number.) AlreadyExists when the job is not
  // queued, or when it has had more attempts: the caller's copy of the job is stale (another
  // controller sharing the store leased it since, or it ended) and the job is no longer the
  // caller's to hand out. NotFound for an unknown id.
  virtual Status MarkLeased(int64_t job_id, int32_t attempt, const std::string& agent,
                            int64_t lease_deadline_ms) = 0;
  // leased -> queued (lease expired, agent lost), for the lease of `attempt` only; the reason
  // is kept as the last error and the attempts counter stays. AlreadyExists when the job is no
  // longer leased as `attempt` (its result was stored, it failed or was cancelled, or another
  // controller sharing the store has leased it again since): nothing changes, and the caller
  // forgets the job, which someone else now holds or which has ended. NotFound for an unknown
  // id.
  virtual Status Requeue(int64_t job_id, int32_t attempt, const std::string& reason) = 0;
  // The agent attempt `attempt` of the job was leased to (kept after the lease ends);
  // nullopt when that attempt was never handed out.
  virtual Result<std::optional<std::string>> LeaseHolder(int64_t job_id, int32_t attempt) = 0;

  // Stores a DONE result once per job (idempotent on job + attempt, payload hash checked) and
  // marks the job done, in one transaction.
  virtual Result<RecordOutcome> RecordResult(const JobResult& result,
                                             const std::string& agent) = 0;
  // A non-DONE result: the job goes back to queued, or to `final_state` (failed or
  // quarantined) when no retry is left. The error is kept as the job's last error.
  virtual Status RecordFailure(const JobResult& result, const std::string& agent,
                               std::optional<JobState> final_state) = 0;

  virtual Result<std::vector<CampaignStatus>> ListCampaigns() = 0;
  // Quarantined jobs, oldest first, at most `limit`.
  virtual Result<std::vector<QuarantinedJob>> ListQuarantined(int64_t limit) = 0;
  // Marks a running campaign done (all its jobs ended).
  virtual Status FinishCampaign(int64_t campaign_id) = 0;
  // Stops dispatching a campaign: its queued and leased jobs become cancelled; what was
  // measured stays. NotFound for an unknown id.
  virtual Status CancelCampaign(int64_t campaign_id) = 0;

  // Inserts or updates a device (first seen kept, last seen updated).
  virtual Status UpsertDevice(const DeviceRecord& device) = 0;

  // Batches: the writes between BeginBatch and CommitBatch are one transaction, so that a
  // busy controller commits once per loop pass instead of once per message. Each write is
  // still atomic on its own (a failed one leaves nothing), but none is durable until
  // CommitBatch returns OK: acknowledge nothing before that. A failed CommitBatch rolls the
  // whole batch back.
  virtual Status BeginBatch() = 0;
  virtual Status CommitBatch() = 0;

  // Stores a published package's campaigns, layers, architectures, devices, jobs and
  // measurements in one transaction (dataset_package.h): ids kept when all are free, new ones
  // otherwise; a device whose name is taken renamed SOURCE/NAME; a package imported before
  // (same identity) stores nothing.
  virtual Result<PackageImportOutcome> ImportPackage(const DatasetPackage& package) = 0;

  // Active profiling (active_profiler.h) reads a campaign's plan and probes and adds jobs to
  // it while it runs.
  // The campaign's name, state and YAML; NotFound for an unknown id.
  virtual Result<CampaignSource> GetCampaignSource(int64_t campaign_id) = 0;
  // The campaign's jobs that match `filter`, in every state, ordered by job id.
  virtual Result<std::vector<CampaignJob>> ListCampaignJobs(int64_t campaign_id,
                                                            const CampaignJobFilter& filter) = 0;
  // Appends a queued job to a running campaign, stored exactly as CreateCampaign stores the
  // planned ones. InvalidArgument when the campaign is not running (done, cancelled), NotFound
  // for an unknown one.
  virtual Result<ActiveJob> AddJob(int64_t campaign_id, const JobSpec& job) = 0;
};

// How a dataset is opened.
struct StoreOpenOptions {
  // Create the dataset (SQLite: the file) and its schema when they are missing. Off for
  // commands that only read (export): a mistyped name is then an error, "not a wattfleet
  // dataset" (InvalidArgument), instead of a new, empty dataset. An older schema is upgraded
  // either way, and a newer one refused.
  bool create_if_missing = true;
};

// Opens (creating and migrating as needed) an SQLite dataset in WAL mode.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const StoreOpenOptions& options = {});

}  // namespace wattfleet
