#include "embedded.h"

#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <csignal>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "wattfleet/common/text.h"
#include "wattfleet/campaign/campaign.h"
#include "wattfleet/active/active_profiler.h"
#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/dispatch/private_endpoint.h"
#include "wattfleet/store/export.h"
#include "wattfleet/plan/planner.h"
#include "process.h"
#include "progress.h"
#include "resume.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/store_open.h"
#include "summary.h"
#include "wattfleet/common/peer_text.h"

namespace wattfleet {
namespace {

std::atomic<Dispatcher*> g_dispatcher{nullptr};
std::atomic<bool> g_interrupted{false};
extern "C" void OnEmbeddedStop(int) {
  g_interrupted.store(true);
  if (Dispatcher* d = g_dispatcher.load()) d->RequestStop();
}

std::string Directory(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Where the run's files go by default (agents' logs and spools, the CSV): next to an SQLite
// dataset; for a PostgreSQL one, which has no folder, in --log-dir or the working directory.
std::string FilesDirectory(const EmbeddedOptions& options) {
  if (BackendFor(options.db_path).local) return Directory(options.db_path);
  return options.log_dir.empty() ? "." : options.log_dir;
}

// Stable per dataset, so that results an interrupted run left in a spool are replayed by the
// next run on the same dataset, and never into another one (job ids are per dataset).
std::string SpoolRoot(const EmbeddedOptions& options) {
  const std::string& db = options.db_path;
  if (BackendFor(db).local) return db + ".spool";
  // A server's dataset: named by its label (no password), without the URI's scheme.
  std::string name = DatasetLabel(db);
  if (const auto scheme = name.find("://"); scheme != std::string::npos) name.erase(0, scheme + 3);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
  }
  return FilesDirectory(options) + "/wattfleet-" + name + ".spool";
}

// An exclusive lock on a dataset's spools for as long as one `run` uses them: a second run
// on the same dataset would share its agents' names and spools, and take its leases back.
class RunLock {
 public:
  static Result<RunLock> Take(const std::string& spool_root) {
    if (::mkdir(spool_root.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IOError("cannot create " + spool_root + ": " + std::strerror(errno));
    }
    const std::string path = spool_root + "/.run.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
    RunLock lock(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      return Status::Unavailable("another `wattfleet run` is using this dataset (its spools in " +
                                 spool_root + "): wait for it to end");
    }
    return lock;
  }
  RunLock(RunLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

namespace {

// The folders of --db, --log-dir and --out: present, or created with --mkdir.
Status CheckFolders(const EmbeddedOptions& options, const std::string& db_dir) {
  const std::string db_flag =
      BackendFor(options.db_path).local ? "--db " + options.db_path : "--log-dir " + options.log_dir;
  std::vector<std::pair<std::string, std::string>> dirs = {{db_flag, db_dir}};
  if (!options.log_dir.empty()) dirs.emplace_back("--log-dir " + options.log_dir, options.log_dir);
  if (!options.export_path.empty()) {
    dirs.emplace_back("--out " + options.export_path, Directory(options.export_path));
  }
  for (const auto& [flag, dir] : dirs) {
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) continue;
    if (!options.make_dirs) {
      return Status::InvalidArgument(flag + ": the directory " + dir +
                                     " does not exist (create it, or pass --mkdir)");
    }
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::InvalidArgument(flag + ": cannot create " + dir + ": " + ec.message());
  }
  return Status::OK();
}

// The campaign's id in the dataset: an interrupted run of it (same name, same plan) resumed,
// unless --fresh, or the plan stored anew.
Result<int64_t> StoreOrResume(Store& store, const Campaign& campaign, const Plan& plan,
                              const EmbeddedOptions& options,
                              const std::set<std::string>& agent_names, std::ostream& out) {
  WF_ASSIGN_OR_RETURN(std::optional<int64_t> unfinished, FindUnfinishedCampaign(store, plan));
  if (unfinished && !options.fresh) {
    const int64_t campaign_id = *unfinished;
    WF_ASSIGN_OR_RETURN(const int64_t released,
                        ReleaseOrphanedLeases(store, campaign_id, agent_names));
    WF_ASSIGN_OR_RETURN(const CampaignProgress before, ProgressOf(store, campaign_id));
    out << "resuming campaign " << campaign.name << " #" << campaign_id << " in "
        << DatasetLabel(options.db_path) << ": " << before.done << " of " << before.total
        << " jobs already measured" << (released > 0 ? ", " + std::to_string(released) +
                                                           " leases of gone agents released"
                                                     : std::string())
        << " (--fresh starts over)\n";
    return campaign_id;
  }
  if (unfinished) {
    WF_RETURN_IF_ERROR(store.CancelCampaign(*unfinished));
    out << "campaign " << campaign.name << " #" << *unfinished
        << " was unfinished: cancelled (--fresh); what it measured stays in the dataset\n";
  }
  WF_ASSIGN_OR_RETURN(const int64_t campaign_id, store.CreateCampaign(plan));
  out << "campaign " << campaign.name << " stored as #" << campaign_id << " in "
      << DatasetLabel(options.db_path) << ": " << plan.jobs.size() << " jobs ("
      << plan.layers.size() << " distinct layers of " << plan.layers_total << ", "
      << campaign.architectures.size() << " architectures)\n";
  return campaign_id;
}

// One agent process per name, connected to `endpoint`, each logging to LOG_DIR/NAME.log.
Result<std::vector<ChildProcess>> StartAgents(const EmbeddedOptions& options,
                                              const std::string& agent_bin,
                                              const std::string& endpoint,
                                              const std::set<std::string>& names,
                                              const std::string& log_dir, int threads) {
  const std::string spool_root = SpoolRoot(options);
  std::vector<ChildProcess> agents;
  for (const std::string& name : names) {
    std::vector<std::string> argv{agent_bin,       "--controller", endpoint,
                                  "--name",        name,           "--sensor",
                                  options.sensor,  "--threads",    std::to_string(threads),
                                  "--spool",       spool_root + "/" + name,
                                  "--log-level",   "warn",
                                  // Killed with this process, even by SIGKILL: a run's agents
                                  // never outlive it to share the next run's spools.
                                  "--parent-pid",  std::to_string(::getpid())};
    if (options.modeled_core_w > 0) {
      argv.insert(argv.end(), {"--modeled-core-w", std::to_string(options.modeled_core_w)});
    }
    WF_ASSIGN_OR_RETURN(ChildProcess child,
                        ChildProcess::Start(argv, log_dir + "/" + name + ".log"));
    agents.push_back(std::move(child));
  }
  return agents;
}

// Runs the dispatcher until the campaign ends, every agent has exited or a stop signal came,
// showing progress; the agents are stopped on return.
Status Supervise(Dispatcher& dispatcher, std::vector<ChildProcess>& agents,
                 const CampaignProgress& at_start, const EmbeddedOptions& options,
                 const std::string& log_dir, std::ostream& out) {
  g_interrupted.store(false);
  g_dispatcher.store(&dispatcher);
  auto old_term = std::signal(SIGTERM, OnEmbeddedStop);
  auto old_int = std::signal(SIGINT, OnEmbeddedStop);
  Status loop_status;
  std::atomic<bool> loop_done{false};
  std::thread loop([&] {
    loop_status = dispatcher.Run();
    loop_done.store(true);
  });
  // plan.active: the dispatcher adds probe jobs while the campaign runs.
  auto total = [&] {
    return static_cast<size_t>(at_start.total) +
           static_cast<size_t>(dispatcher.counters().jobs_added.load());
  };
  // A bar on a terminal; elsewhere a "progress: N/M jobs measured, K agents alive" line
  // every 5 s (WATTFLEET_PROGRESS_INTERVAL_S).
  std::optional<Progress> progress;
  if (options.progress) {
    progress.emplace(out, options.progress_bar, "progress", static_cast<int64_t>(total()),
                     SystemClock(), CliProgressOptions());
  }
  // The controller's info lines repeat what this report says, and on a terminal they would
  // land on the bar's line: while the bar is up, only warnings and errors are logged.
  const spdlog::level::level_enum log_level = spdlog::get_level();
  if (progress && options.progress_bar && log_level == spdlog::level::info) {
    spdlog::set_level(spdlog::level::warn);
  }
  Status agents_status;
  while (!loop_done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    size_t alive = 0;
    for (ChildProcess& a : agents) alive += a.Running() ? 1 : 0;
    if (alive == 0 && agents_status.ok()) {
      agents_status = Status::Internal("every agent exited; see their logs in " + log_dir);
      dispatcher.RequestStop();
    }
    if (progress) {
      const auto& c = dispatcher.counters();
      progress->SetTotal(static_cast<int64_t>(total()));
      progress->Update(at_start.done + c.results_stored.load(),
                       "jobs measured, " + Count(c.agents_alive.load(), "agent") + " alive");
    }
  }
  loop.join();
  // The summary after this starts on a line of its own.
  if (progress) progress->Finish();
  spdlog::set_level(log_level);
  g_dispatcher.store(nullptr);
  std::signal(SIGTERM, old_term);
  std::signal(SIGINT, old_int);
  for (ChildProcess& a : agents) a.Stop(10);
  WF_RETURN_IF_ERROR(loop_status);
  return agents_status;
}

// After the run: what was measured, the export, and what is left unmeasured and why.
Status Conclude(Store& store, int64_t campaign_id, const Campaign& campaign, const Plan& plan,
                const EmbeddedOptions& options, const std::string& db_dir, int64_t added,
                double wall, std::ostream& out) {
  // The rows come from the read side, as `wattfleet export` reads them: one snapshot.
  WF_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, OpenDatasetReader(options.db_path));
  WF_ASSIGN_OR_RETURN(std::vector<ExportRow> rows, reader->ExportRows(campaign_id));
  reader.reset();
  out << "\n" << FormatSummary(plan, rows);
  out << "\n" << rows.size() << " measurements in " << wall << " s ("
      << (wall > 0 ? static_cast<double>(rows.size()) / wall : 0.0) << " jobs/s)\n";
  // What the protocol doubts, said where the numbers are shown (docs/dataset.md).
  out << FormatFlagged(rows);
  const std::string csv = options.export_path.empty()
                              ? db_dir + "/" + campaign.name + ".csv"
                              : options.export_path;
  WF_RETURN_IF_ERROR(WriteExportFile(rows, "csv", csv));
  out << "export: " << csv << " (" << rows.size() << " rows)\n";
  if (added > 0) {
    out << "active profiling added " << added << " probe jobs to the " << plan.jobs.size()
        << " planned\n";
  }
  WF_ASSIGN_OR_RETURN(const CampaignProgress at_end, ProgressOf(store, campaign_id));
  if (at_end.done != at_end.total && g_interrupted.load()) {
    // Nothing failed: the rest is still queued in the dataset, and the spools keep what was
    // measured but not yet acknowledged.
    out << "\ninterrupted: " << at_end.done << " of " << at_end.total
        << " jobs measured. Run the same command again to resume where it stopped (--fresh "
           "starts the campaign over).\n";
    return Status::Internal("interrupted before the campaign ended");
  }
  if (at_end.done != at_end.total) {
    // Said here: the controller that could answer `wattfleet status` has exited.
    WF_ASSIGN_OR_RETURN(std::vector<CampaignJob> unmeasured, UnmeasuredJobs(store, campaign_id));
    out << "\njobs without a measurement:\n";
    for (const CampaignJob& j : unmeasured) {
      out << "  job " << j.spec.job_id << " (" << JobKindName(j.spec.kind) << " "
          << j.spec.subject.substr(0, 60) << " at batch " << j.spec.batch
          << "): " << JobStateName(j.state)
          << (j.last_error.empty() ? std::string() : ": " + Escaped(j.last_error, 300)) << "\n";
    }
    return Status::Internal(std::to_string(at_end.total - at_end.done) +
                            " jobs ended without a measurement (listed above)");
  }
  return Status::OK();
}

}  // namespace

Status RunEmbedded(const EmbeddedOptions& options, std::ostream& out) {
  if (options.agents < 1) return Status::InvalidArgument("--agents must be at least 1");
  // Everything the user wrote is checked before anything is stored or started.
  WF_ASSIGN_OR_RETURN(Campaign campaign, LoadCampaignFile(options.campaign_path));
  WF_ASSIGN_OR_RETURN(Plan plan, MakePlan(campaign, PlanLimits{options.max_campaign_jobs}));
  for (const DeviceSelector& d : campaign.devices) {
    if (d.device_class != "cpu") {
      return Status::InvalidArgument(
          options.campaign_path + ": embedded mode runs local CPU agents only; device class '" +
          d.device_class + "' needs agents started with `wattfleet-agent`");
    }
  }
  WF_ASSIGN_OR_RETURN(std::string agent_bin,
                      FindSiblingBinary("wattfleet-agent", "agent", "WATTFLEET_AGENT_BIN"));
  // The folders are checked (or, with --mkdir, created) only now that the campaign is known
  // to be valid.
  const std::string db_dir = FilesDirectory(options);
  WF_RETURN_IF_ERROR(CheckFolders(options, db_dir));
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenStore(options.db_path));
  WF_ASSIGN_OR_RETURN(RunLock lock, RunLock::Take(SpoolRoot(options)));
  std::set<std::string> agent_names;
  for (int i = 0; i < options.agents; ++i) agent_names.insert("local-" + std::to_string(i + 1));
  WF_ASSIGN_OR_RETURN(const int64_t campaign_id,
                      StoreOrResume(*store, campaign, plan, options, agent_names, out));
  WF_ASSIGN_OR_RETURN(const CampaignProgress at_start, ProgressOf(*store, campaign_id));
  out.flush();

  // The agents reach this controller through a Unix socket in a folder only this user may
  // enter: no TCP port another local user could join as an agent and forge measurements on.
  WF_ASSIGN_OR_RETURN(PrivateFolder door, PrivateFolder::Make("run"));
  DispatcherOptions dopts;
  dopts.bind = "ipc://" + door.path() + "/agents";
  dopts.exit_when_campaigns_done = true;
  // Other campaigns in the same file (another run's, a served one's) are not this run's.
  dopts.only_campaign = campaign_id;
  ActiveProfiler active(*store);  // plan.active: probes chosen while the campaign runs
  dopts.job_source = &active;
  Dispatcher dispatcher(dopts, *store);
  WF_RETURN_IF_ERROR(dispatcher.Start());

  const std::string log_dir = options.log_dir.empty() ? db_dir : options.log_dir;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = options.threads_per_agent > 0
                          ? options.threads_per_agent
                          : std::max(1, cores / options.agents);
  WF_ASSIGN_OR_RETURN(std::vector<ChildProcess> agents,
                      StartAgents(options, agent_bin, dispatcher.endpoint(), agent_names,
                                  log_dir, threads));
  out << "started " << Count(options.agents, "agent") << " (" << threads << " threads each, sensor "
      << options.sensor << "), logs in " << log_dir << "/local-*.log\n";
  out.flush();
  const auto started = std::chrono::steady_clock::now();
  WF_RETURN_IF_ERROR(Supervise(dispatcher, agents, at_start, options, log_dir, out));
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Conclude(*store, campaign_id, campaign, plan, options, db_dir,
                  dispatcher.counters().jobs_added.load(), wall, out);
}

}  // namespace wattfleet
