// The dispatcher: the controller's ROUTER loop. Registers agents (READY/WELCOME, protocol
// version checked), heartbeats both ways, keeps a queue per device class, hands each agent
// up to its prefetch jobs under a lease, stores results once (through the Store), requeues
// jobs whose lease expired or whose agent died, and answers the admin socket (submit, status,
// cancel) with JSON.
//
// Threading: Run() owns both sockets and the Store; everything else happens on that thread.
// RequestStop() and the counters are the only members safe from other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include <nlohmann/json.hpp>

#include "wattfleet/dispatch/agent_totals.h"
#include "wattfleet/dispatch/job_queue.h"
#include "wattfleet/plan/planner.h"
#include "wattfleet/store/store.h"
#include "wattfleet/dispatch/admin_protocol.h"
#include "wattfleet/dispatch/job_source.h"
#include "wattfleet/dispatch/zap_handler.h"
#include "wattfleet/common/clock.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {

struct DispatcherOptions {
  std::string bind = "tcp://127.0.0.1:5555";  // agents dial in here; port * picks one
  // REP socket for the CLI; empty: none. ipc:// in a folder of mode 0700 (filesystem
  // permissions decide who may use it); tcp:// only with CURVE and admin_keys_dir.
  std::string admin;
  int64_t heartbeat_ms = 1000;
  int32_t liveness = 3;        // silent heartbeats before an agent is dead
  int32_t max_attempts = 3;    // infrastructure failures retried up to here, then quarantined
  double drain_timeout_s = 30; // on stop: how long to wait for in-flight results
  // Embedded mode: return from Run() once every campaign has ended.
  bool exit_when_campaigns_done = false;
  // Embedded mode: dispatch this campaign only (0: every running campaign in the store).
  int64_t only_campaign = 0;
  // CurveZMQ: the controller's key pair (NAME.key_secret) and the allowlist directory of
  // enrolled agents' public keys. Both set: CURVE on, any address may be bound. Both empty:
  // no authentication, loopback only.
  std::string curve_secret_file;
  std::string agents_dir;
  // With CURVE: the allowlist of administrators' public keys, for a tcp:// admin socket.
  std::string admin_keys_dir;
  // The most jobs a submitted campaign may plan (the operator's, not the campaign's).
  int64_t max_campaign_jobs = kDefaultMaxCampaignJobs;
  // A connection of its own to the same dataset, on which a submitted campaign is stored
  // from the planning thread, so that the dispatcher's thread never writes a plan. Empty:
  // the plan is stored on the dispatcher's thread (tests, and a store only it may use).
  std::function<Result<std::unique_ptr<Store>>()> open_submit_store;
  // Jobs added while campaigns run (plan.active: the ActiveProfiler). Not owned; must
  // outlive the dispatcher. Null: none.
  JobSource* job_source = nullptr;
};

// Counters, readable from any thread (e.g. for progress output).
struct DispatcherCounters {
  std::atomic<int64_t> results_stored{0};
  std::atomic<int64_t> results_duplicate{0};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> lease_expiries{0};
  std::atomic<int64_t> malformed{0};
  std::atomic<int64_t> agents_alive{0};
  std::atomic<int64_t> jobs_active{0};  // queued + leased
  std::atomic<int64_t> jobs_queued{0};
  std::atomic<int64_t> jobs_leased{0};
  std::atomic<int64_t> jobs_quarantined{0};  // since start
  std::atomic<int64_t> jobs_failed{0};       // since start (FAILED: never retried)
  std::atomic<int64_t> auth_denied{0};       // CURVE handshakes refused by the allowlist
  // RESULTs and NACKs for a lease the sender was never handed (forged, or replayed after a
  // controller restart forgot who held it): never stored, never changing a job.
  std::atomic<int64_t> results_refused{0};
  // Peers refused at READY or later for the name they use: a name that is not printable, in
  // use by a connected agent, or (under CURVE) not the name their key was enrolled under.
  std::atomic<int64_t> agents_refused{0};
  std::atomic<int64_t> jobs_added{0};        // since start: probes added by active profiling
  AgentTotals by_agent;  // results and failures per agent, energy per device class
};

// A peer's routing id as logs may show it, without the random part of an agent's (for the
// dispatcher's own files).
std::string PeerLabel(const std::string& identity);

class Dispatcher {
 public:
  Dispatcher(DispatcherOptions options, Store& store, Clock& clock = SystemClock());
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Binds the sockets (refusing non-loopback addresses: there is no authentication yet) and
  // loads the active jobs from the store. Errors name the endpoint.
  Status Start();
  // Endpoints actually bound (an ephemeral port resolved). Valid after Start().
  const std::string& endpoint() const { return endpoint_; }
  const std::string& admin_endpoint() const { return admin_endpoint_; }

  // The loop. Returns after RequestStop() (having drained) or, in embedded mode, once every
  // campaign has ended.
  Status Run();
  // Async-signal-safe.
  void RequestStop() { stop_.store(true); }

  const DispatcherCounters& counters() const { return counters_; }

 private:
  struct AgentState {
    std::string identity;
    ReadyMsg ready;
    double last_seen = 0;
    double last_sent = 0;
    std::set<int64_t> in_flight;  // job ids leased to it
  };
  struct JobEntry {
    ActiveJob job;
    std::string identity;  // agent holding the lease
    double deadline = 0;   // monotonic seconds
    std::set<std::string> tried;  // agents that held it: a retry prefers another
    // attempt -> the agent it was handed to: only that agent may answer for that attempt.
    std::map<int32_t, std::string> holders;
  };

  // The store's queued and leased jobs not yet in memory (at start, and when a job source asks
  // for them). A submit queues its own campaign from memory (QueueNewCampaign), not the
  // campaigns other controllers sharing the store were given since this one started.
  Status LoadJobs();
  // `user`: the name the peer's CURVE key is enrolled under (empty without CURVE).
  void HandleAgentMessage(const std::string& identity, const std::string& user,
                          const Envelope& env);
  // Refuses a peer for the name it uses: counted, logged, told why; `final`: for good (the
  // agent stops) rather than for now (it reconnects later).
  void RefuseAgent(const std::string& identity, const std::string& why, bool final = true);
  bool AdmitReady(const std::string& identity, const std::string& user, const ReadyMsg& r);
  void RegisterAgent(const std::string& identity, const ReadyMsg& r);
  void RecordDevice(const ReadyMsg& r);
  void HandleReady(const std::string& identity, const std::string& user,
                   const std::string& body);
  // A RESULT or NACK (dispatcher_results.cc): whether the sender holds the attempt, then the
  // measurement stored or the failure recorded (retried or ended).
  void HandleResult(const std::string& identity, const std::string& body, bool done);
  bool SenderHoldsAttempt(const std::string& identity, const std::string& name,
                          const JobResult& r, bool done);
  void StoreDone(const std::string& identity, const AgentState& agent, const JobResult& r);
  void StoreFailure(const std::string& identity, const AgentState& agent, const JobResult& r);
  // Whether a frame `identity` sent failed to decode (`decoded`): then it is counted and
  // logged as a malformed `what`, and dropped by the caller.
  bool Malformed(const Status& decoded, std::string_view what, const std::string& identity);
  // A part of the model file of a job leased to `identity` (dispatcher_model_files.cc).
  void HandleFetch(const std::string& identity, const std::string& body);
  void HandleAdmin();
  // A submit is parsed, planned and (with open_submit_store) stored on a thread of its own (a
  // large campaign takes seconds, and heartbeats and results must not wait for it);
  // FinishSubmit queues its jobs from memory and answers, on this thread, once it is ready.
  struct Submitted {
    Plan plan;
    int64_t campaign_id = 0;        // 0: not stored yet
    std::vector<int64_t> job_ids;   // in plan.jobs' order
  };
  void StartSubmit(const AdminRequest& req);
  void FinishSubmit();
  // The jobs of a campaign just stored, queued without reading them back.
  void QueueNewCampaign(const Submitted& s);
  Status StoreHere(Submitted* s);
  void Reply(const nlohmann::json& reply);
  nlohmann::json AdminStatus();
  nlohmann::json AdminCancel(int64_t campaign_id);
  void DropAgent(const std::string& identity, const std::string& why);
  // leased -> queued (dispatcher_leases.cc). `spend`: whether the attempt counts (false when
  // the job never left). A job whose lease the store no longer holds (its result is stored,
  // or another controller sharing the store leased it again) is forgotten instead.
  void Requeue(int64_t job_id, const std::string& why, bool spend = true);
  void EndJob(int64_t job_id);
  // Whether the store refused a change to the job because it is no longer this controller's
  // (AlreadyExists: another controller sharing the store leased it, or it ended there): then
  // it is forgotten here (EndJob), not failed or retried.
  bool ForgottenAsTaken(const Status& s, int64_t job_id);
  // The agent `attempt` of `job_id` was handed to, when this controller knows it (an active
  // job, or one of the last ended ones); nullptr otherwise.
  const std::string* HolderOf(int64_t job_id, int32_t attempt) const;
  // Before EndJob of a job that ended for good (stored, failed, quarantined): a probe of an
  // active campaign makes the job source (options.job_source) choose its successor.
  void NoteEnded(int64_t job_id);
  // The job source's new jobs into memory and the queues; inside the pass's batch and
  // before CheckCampaigns, so a campaign that gains jobs is not finished.
  void AddActiveJobs();
  void Dispatch();
  // Whether `agent` may run `job` (the campaign's device selectors).
  static bool Matches(const AgentState& agent, const JobSpec& job);
  void ReceiveAgentMessages();
  void ServeAdmin(bool request_waiting);
  bool LoopEnds(double* drain_deadline);
  void Tick();
  void CheckCampaigns();
  bool SendTo(const std::string& identity, Command command, std::string body);
  // JOBs and ACKs wait until the pass's store batch is committed: an ACK for a result that a
  // crash could still roll back would lose it, and a JOB whose lease was never stored would
  // run for nothing.
  void Defer(const std::string& identity, Command command, std::string body, int64_t job_id = 0);
  void Flush();
  // After a failed batch commit, memory is rebuilt from what the store holds.
  void ReloadAfterFailedCommit();

  DispatcherOptions options_;
  Store& store_;
  Clock& clock_;
  zmq::context_t context_{1};
  std::unique_ptr<ZapHandler> zap_;  // CURVE allowlist; before router_ so it outlives it
  bool curve_ = false;  // agents authenticate with enrolled keys
  zmq::socket_t router_;
  zmq::socket_t admin_;
  std::string endpoint_;
  std::string admin_endpoint_;
  std::atomic<bool> stop_{false};
  DispatcherCounters counters_;

  std::map<std::string, AgentState> agents_;              // by identity
  // Agents dropped (silent, disconnected, unreachable), by name, for `status` until they
  // register again; only the most recently seen few are kept.
  struct DepartedAgent {
    ReadyMsg ready;
    double last_seen = 0;
    std::string why;
  };
  std::map<std::string, DepartedAgent> departed_;
  std::map<int64_t, JobEntry> jobs_;                      // queued and leased
  // Lease holders of recently ended jobs, so that a late or replayed result of a job that
  // has ended is still held to its holder; the oldest are forgotten first.
  std::map<int64_t, std::map<int32_t, std::string>> ended_holders_;
  std::deque<int64_t> ended_order_;
  std::map<std::string, JobQueue> queues_;                // device class -> queued jobs
  std::map<int64_t, int64_t> active_per_campaign_;        // campaign -> jobs not ended
  bool campaigns_changed_ = false;
  double last_tick_ = -1;  // monotonic seconds of the previous Tick()
  double last_gauges_ = -1;  // when the job gauges were last recounted
  double last_lease_scan_ = -1;  // when leases were last checked for expiry
  struct Outgoing {
    std::string identity;
    Command command;
    std::string body;
    int64_t job_id;  // for JOB: what to requeue when it cannot be sent
  };
  std::vector<Outgoing> outbox_;
  std::future<Result<Submitted>> pending_submit_;  // a submit being planned and stored
};

}  // namespace wattfleet
