// The device daemon's core: a DEALER connection to the controller (READY, heartbeats both
// ways, reconnect on a fresh socket with exponential backoff and jitter) and a worker thread
// that runs jobs through the executor and the measurement protocol.
//
// Threads: Run()'s thread owns every socket of the connection; the worker owns only its end
// of an inproc pair over which it hands finished results back. Results are in the spool
// (fsynced) before they are sent and leave it only when the controller acknowledges them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "wattfleet/run/job_runner.h"
#include "wattfleet/link/model_cache.h"
#include "wattfleet/link/spool.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {

struct AgentOptions {
  std::string controller;          // e.g. tcp://127.0.0.1:5555
  int64_t heartbeat_ms = 1000;     // until WELCOME says otherwise
  int32_t liveness = 3;            // silent intervals before the controller counts as dead
  double reconnect_min_s = 1.0;    // backoff starts here ...
  double reconnect_max_s = 32.0;   // ... and doubles up to here, with jitter
  double drain_timeout_s = 10.0;   // on stop: how long to wait for the last ACKs
  // Stop after this many jobs have ended (0: never). For tests and one-shot runs.
  int64_t max_jobs = 0;
  // CurveZMQ (all three set, or none): the controller's public key and this agent's pair.
  std::string curve_server_public;
  std::string curve_public;
  std::string curve_secret;
};

class Agent {
 public:
  // `ready` carries the identity and capabilities sent at registration; the references must
  // outlive the agent. The runner is used from the worker thread only.
  Agent(AgentOptions options, ReadyMsg ready, JobRunner& runner, Spool& spool);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until RequestStop(), then drains: the running job finishes, its result is sent,
  // the last ACKs are awaited (bounded) and DISCONNECT says goodbye. Errors: a refusal by the
  // controller (e.g. protocol version) or an unusable endpoint.
  Status Run();

  // Async-signal-safe: only sets a flag.
  void RequestStop() { stop_.store(true); }

 private:
  // One connection's state.
  struct Session {
    int64_t heartbeat_ms = 1000;
    int32_t liveness = 3;
    bool welcomed = false;
    bool reconnect = false;
    bool refused = false;
    std::string refusal;
    double last_recv = 0;
  };
  static constexpr double kReplayInterval = 30.0;  // seconds between spool replays
  // A model file none of whose parts came for this long fails its jobs (TIMEOUT).
  static constexpr double kModelFetchTimeout = 60.0;

  // Stopping: set when a stop is first seen; the ACK wait starts once the last result is out.
  struct Drain {
    bool draining = false;
    double ack_deadline = -1;
  };

  // Connects, registers and converses until stopped (reconnecting with backoff between).
  Status Loop(zmq::socket_t& results);
  // One connection: true once drained and DISCONNECT sent, false to reconnect; the
  // controller's refusal as an error. `backoff` resets when the controller welcomes us.
  Result<bool> Converse(zmq::socket_t& dealer, zmq::socket_t& results, Drain& drain,
                        double& backoff);
  // A finished result from the worker, on to the controller once welcomed.
  void ForwardResult(zmq::socket_t& dealer, zmq::socket_t& results, bool welcomed);
  void BeginDrain(Drain& drain);
  bool Drained(Drain& drain, double now);
  void HandleControllerMessage(zmq::socket_t& dealer, const Result<Envelope>& env,
                               bool draining, Session& session);
  void ReplaySpool(zmq::socket_t& dealer);
  // Carries out what the model cache says: jobs to the worker, failures spooled and NACKed,
  // the next FETCH sent.
  void Apply(zmq::socket_t& dealer, ModelCache::Step step);
  // The spool's results; what it refuses is logged and kept for ReplaySpool to report.
  // Loop thread only.
  std::vector<JobResult> SpooledResults();
  // Nothing running, nothing queued, no result on its way from the worker.
  bool Idle();
  void WorkerLoop();
  JobResult Execute(const JobSpec& job);

  AgentOptions options_;
  ReadyMsg ready_;
  JobRunner& runner_;
  Spool& spool_;
  ModelCache models_;  // loop thread only; "models" in the spool (model_cache.h)
  // Spool records refused (edited, damaged) and not yet reported to the controller, which
  // then measures their jobs again. Loop thread only.
  std::vector<SpoolRejection> spool_rejected_;
  std::set<std::string> spool_errors_said_;  // Loop thread only
  std::set<std::pair<int64_t, int32_t>> spool_rejections_seen_;  // Loop thread only
  std::atomic<bool> stop_{false};
  zmq::context_t context_{1};
  std::string results_endpoint_;  // inproc: worker -> Run()'s thread

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobSpec> queue_;  // GUARDED_BY(mu_): received, not started
  bool running_job_ = false;   // GUARDED_BY(mu_)
  int64_t running_job_id_ = 0;  // GUARDED_BY(mu_): for READY's resumed jobs
  bool worker_exit_ = false;   // GUARDED_BY(mu_)
  int64_t jobs_ended_ = 0;     // GUARDED_BY(mu_)
  int64_t results_in_pipe_ = 0;  // GUARDED_BY(mu_): handed to the pair, not yet read
};

}  // namespace wattfleet
