#include "wattfleet/link/agent.h"

#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <random>
#include <thread>
#include <zmq_addon.hpp>

#include "wattfleet/common/channel.h"
#include "wattfleet/common/clock.h"

namespace wattfleet {
namespace {

using Frames = std::vector<zmq::message_t>;

void Send(zmq::socket_t& socket, Command command, std::string body) {
  // A full pipe means the controller is gone, and the liveness check will reconnect.
  if (!channel::Send(socket, command, std::move(body))) {
    spdlog::warn("agent: send of {} dropped (controller not reachable)", CommandName(command));
  }
}

double Jittered(double seconds, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 1.0);
  return seconds * u(rng);
}

}  // namespace

Agent::Agent(AgentOptions options, ReadyMsg ready, JobRunner& runner, Spool& spool)
    : options_(std::move(options)),
      ready_(std::move(ready)),
      runner_(runner),
      spool_(spool),
      models_(spool.dir() + "/models") {
  results_endpoint_ = "inproc://wattfleet-agent-results-" +
                      std::to_string(reinterpret_cast<uintptr_t>(this));
}

Agent::~Agent() = default;

JobResult Agent::Execute(const JobSpec& job) {
  JobResult result = runner_.Run(job);
  result.measurement.agent_name = ready_.name;
  result.measurement.agent_version = ready_.agent_version;
  return result;
}

void Agent::WorkerLoop() {
  // Stop signals belong to Run()'s thread; a job is never interrupted by them.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  zmq::socket_t out(context_, zmq::socket_type::pair);
  out.set(zmq::sockopt::linger, 0);
  out.connect(results_endpoint_);
  for (;;) {
    JobSpec job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return worker_exit_ || !queue_.empty(); });
      if (worker_exit_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_job_ = true;
      running_job_id_ = job.job_id;
    }
    spdlog::info("agent: job {} attempt {} ({} {})", job.job_id, job.attempt,
                 JobKindName(job.kind), job.subject);
    JobResult result = Execute(job);
    if (result.outcome != Outcome::kDone) {
      spdlog::warn("agent: job {} {}: {}", job.job_id, OutcomeName(result.outcome),
                   result.error);
    }
    // On disk before it is sent: a crash from here on never loses the measurement.
    Status put = spool_.Put(result);
    if (!put.ok()) spdlog::error("agent: spool: {}", put.ToString());
    const Command cmd = result.outcome == Outcome::kDone ? Command::kResult : Command::kNack;
    std::string body = Encode(result);
    {
      // Counted before it enters the pipe, so that a drain never misses it in flight.
      std::lock_guard<std::mutex> lock(mu_);
      ++results_in_pipe_;
    }
    std::array<zmq::const_buffer, 2> bufs{
        zmq::buffer(std::string(1, static_cast<char>(cmd))), zmq::buffer(body)};
    zmq::send_multipart(out, bufs);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_job_ = false;
      ++jobs_ended_;
    }
  }
}

bool Agent::Idle() {
  std::lock_guard<std::mutex> lock(mu_);
  return !running_job_ && queue_.empty() && results_in_pipe_ == 0;
}

Status Agent::Run() {
  zmq::socket_t results(context_, zmq::socket_type::pair);
  results.set(zmq::sockopt::linger, 0);
  results.bind(results_endpoint_);
  std::thread worker([this] { WorkerLoop(); });
  Status status;
  try {
    status = Loop(results);
  } catch (const std::exception& e) {
    // Whatever went wrong, the worker is joined and the caller gets a Status, not an abort.
    status = Status::Internal(std::string("agent loop: ") + e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    worker_exit_ = true;
  }
  cv_.notify_all();
  worker.join();
  return status;
}

void Agent::BeginDrain(Drain& drain) {
  if (drain.draining) return;
  drain.draining = true;
  std::lock_guard<std::mutex> lock(mu_);
  spdlog::info("agent: draining ({} queued jobs handed back)", queue_.size());
  queue_.clear();
  models_.Clear();
}

bool Agent::Drained(Drain& drain, double now) {
  // Nothing running, nothing unsent, nothing unacknowledged (or no more waiting for it); the
  // ACK wait starts once the last result is out.
  if (!Idle()) return false;
  if (drain.ack_deadline < 0) drain.ack_deadline = now + options_.drain_timeout_s;
  return SpooledResults().empty() || now > drain.ack_deadline;
}

Status Agent::Loop(zmq::socket_t& results) {
  std::mt19937_64 rng(std::random_device{}());
  double backoff = options_.reconnect_min_s;
  Clock& clock = SystemClock();
  Drain drain;
  // The routing id is the name and a number drawn once per process: the same across this
  // process's reconnects, so that the controller hands its identity to each fresh socket,
  // and unknown to other peers, so that none can take that identity over.
  const std::string routing_id = [&] {
    std::random_device entropy;
    char suffix[40];
    std::snprintf(suffix, sizeof suffix, "~%08x%08x%08x%08x", entropy(), entropy(), entropy(),
                  entropy());
    return ready_.name + suffix;
  }();
  for (;;) {
    zmq::socket_t dealer(context_, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::routing_id, routing_id);
    if (!options_.curve_server_public.empty()) {
      dealer.set(zmq::sockopt::curve_serverkey, options_.curve_server_public);
      dealer.set(zmq::sockopt::curve_publickey, options_.curve_public);
      dealer.set(zmq::sockopt::curve_secretkey, options_.curve_secret);
    }
    try {
      dealer.connect(options_.controller);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("--controller " + options_.controller + ": " + e.what());
    }
    // Jobs this agent still holds: finished ones in its spool and the one running now.
    ReadyMsg ready = ready_;
    for (const JobResult& r : SpooledResults()) ready.resumed_job_ids.push_back(r.job_id);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_job_) ready.resumed_job_ids.push_back(running_job_id_);
    }
    Send(dealer, Command::kReady, Encode(ready));

    WF_ASSIGN_OR_RETURN(const bool stopped, Converse(dealer, results, drain, backoff));
    if (stopped) return Status::OK();

    // Jobs not started are the controller's again once it notices; running them twice would
    // only waste device time.
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.clear();
    }
    models_.Clear();
    const double pause = Jittered(backoff, rng);
    spdlog::info("agent: reconnecting in {:.1f} s", pause);
    const double until = clock.NowSeconds() + pause;
    while (clock.NowSeconds() < until) {
      // A stop with nothing left to deliver need not wait for the controller.
      if (stop_.load() && Idle() && SpooledResults().empty()) return Status::OK();
      clock.SleepFor(0.05);
    }
    backoff = std::min(backoff * 2, options_.reconnect_max_s);
    if (stop_.load()) {
      BeginDrain(drain);
      // Undelivered results stay in the spool for the next start.
      if (Drained(drain, clock.NowSeconds())) return Status::OK();
    }
  }
}

Result<bool> Agent::Converse(zmq::socket_t& dealer, zmq::socket_t& results, Drain& drain,
                             double& backoff) {
  Clock& clock = SystemClock();
  Session session;
  session.heartbeat_ms = options_.heartbeat_ms;
  session.liveness = options_.liveness;
  session.last_recv = clock.NowSeconds();
  double next_heartbeat = session.last_recv + session.heartbeat_ms / 1000.0;
  double next_replay = -1;
  while (!session.reconnect) {
    const double now = clock.NowSeconds();
    const auto wait_ms =
        static_cast<long>(std::clamp((next_heartbeat - now) * 1000.0, 0.0, 100.0));
    std::array<zmq::pollitem_t, 2> items{{{dealer.handle(), 0, ZMQ_POLLIN, 0},
                                          {results.handle(), 0, ZMQ_POLLIN, 0}}};
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(wait_ms));
    } catch (const zmq::error_t& e) {
      // A stop signal interrupts the poll; the flag is checked below.
      if (e.num() != EINTR) throw;
      for (auto& item : items) item.revents = 0;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      auto incoming = channel::Receive(dealer, channel::Side::kDealer);
      if (!incoming.ok()) spdlog::warn("agent: {}", incoming.status().ToString());
      if (incoming.ok() && incoming->has_value()) {
        session.last_recv = clock.NowSeconds();
        const bool was_welcomed = session.welcomed;
        HandleControllerMessage(dealer, (*incoming)->message, drain.draining, session);
        if (session.refused) return Status::Unavailable(session.refusal);
        if (session.welcomed && !was_welcomed) {
          backoff = options_.reconnect_min_s;
          next_replay = clock.NowSeconds() + kReplayInterval;
        }
      }
    }
    if (items[1].revents & ZMQ_POLLIN) ForwardResult(dealer, results, session.welcomed);

    const double now2 = clock.NowSeconds();
    if (!models_.empty()) Apply(dealer, models_.Expire(now2, kModelFetchTimeout));
    if (now2 >= next_heartbeat) {
      Send(dealer, Command::kHeartbeat, EncodeEmpty());
      next_heartbeat = now2 + session.heartbeat_ms / 1000.0;
    }
    // Results sent but never acknowledged (a controller that could not store them yet) go
    // out again now and then; the controller stores each result once, whatever it receives.
    if (session.welcomed && next_replay >= 0 && now2 >= next_replay) {
      ReplaySpool(dealer);
      next_replay = now2 + kReplayInterval;
    }
    if (now2 - session.last_recv > session.liveness * session.heartbeat_ms / 1000.0) {
      spdlog::warn("agent: controller silent for {:.1f} s; reconnecting",
                   now2 - session.last_recv);
      session.reconnect = true;
    }
    if (options_.max_jobs > 0 && !stop_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (jobs_ended_ >= options_.max_jobs) stop_.store(true);
    }
    if (stop_.load()) {
      BeginDrain(drain);
      if (Drained(drain, now2)) {
        Send(dealer, Command::kDisconnect, Encode(DisconnectMsg{"draining"}));
        // Let DISCONNECT leave before the socket closes.
        dealer.set(zmq::sockopt::linger, 500);
        return true;
      }
    }
  }
  return false;
}

void Agent::ForwardResult(zmq::socket_t& dealer, zmq::socket_t& results, bool welcomed) {
  Frames frames;
  if (!zmq::recv_multipart(results, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    --results_in_pipe_;
  }
  // Not yet welcomed: the result waits in the spool for the replay after WELCOME.
  if (welcomed && frames.size() == 2) {
    Send(dealer, static_cast<Command>(frames[0].data<char>()[0]), frames[1].to_string());
  }
}

std::vector<JobResult> Agent::SpooledResults() {
  std::vector<std::string> errors;
  std::vector<SpoolRejection> rejected;
  std::vector<JobResult> results = spool_.List(&errors, &rejected);
  // An unreadable file stays where it is and is seen on every call: said once.
  for (const std::string& e : errors) {
    if (spool_errors_said_.insert(e).second) spdlog::error("agent: spool: {}", e);
  }
  // Once per record: one that could not be moved aside is refused again on every call.
  for (SpoolRejection& r : rejected) {
    if (spool_rejections_seen_.insert({r.job_id, r.attempt}).second) {
      spool_rejected_.push_back(std::move(r));
    }
  }
  return results;
}

void Agent::ReplaySpool(zmq::socket_t& dealer) {
  for (const JobResult& r : SpooledResults()) {
    Send(dealer, r.outcome == Outcome::kDone ? Command::kResult : Command::kNack, Encode(r));
  }
  // A refused record is no measurement: the controller hears that the attempt was lost (and
  // why, in the job's last error), and measures the job again.
  for (const SpoolRejection& bad : spool_rejected_) {
    JobResult lost;
    lost.job_id = bad.job_id;
    lost.attempt = bad.attempt;
    lost.outcome = Outcome::kLost;
    lost.error = "spool record refused: " + bad.why;
    Send(dealer, Command::kNack, Encode(lost));
  }
  spool_rejected_.clear();
}

void Agent::Apply(zmq::socket_t& dealer, ModelCache::Step step) {
  if (step.fetch) Send(dealer, Command::kFetch, Encode(*step.fetch));
  for (JobResult& failed : step.failed) {
    spdlog::warn("agent: job {} {}: {}", failed.job_id, OutcomeName(failed.outcome),
                 failed.error);
    // Spooled like any result, so that the controller hears of it after a reconnect too.
    if (Status put = spool_.Put(failed); !put.ok()) {
      spdlog::error("agent: spool: {}", put.ToString());
    }
    Send(dealer, Command::kNack, Encode(failed));
    std::lock_guard<std::mutex> lock(mu_);
    ++jobs_ended_;
  }
  if (step.ready.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (JobSpec& job : step.ready) queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Agent::HandleControllerMessage(zmq::socket_t& dealer, const Result<Envelope>& env,
                                    bool draining, Session& session) {
  if (!env.ok()) {
    spdlog::warn("agent: dropped malformed message: {}", env.status().message());
    return;
  }
  switch (env->command) {
    case Command::kWelcome: {
      auto w = DecodeWelcome(env->body);
      if (!w.ok()) {
        spdlog::warn("agent: {}", w.status().message());
        return;
      }
      session.welcomed = true;
      session.heartbeat_ms = w->heartbeat_ms;
      session.liveness = w->liveness;
      spdlog::info("agent: registered with {} (heartbeat {} ms)", options_.controller,
                   session.heartbeat_ms);
      ReplaySpool(dealer);  // results the controller may never have received
      return;
    }
    case Command::kJob: {
      auto job = DecodeJob(env->body);
      if (!job.ok()) {
        spdlog::warn("agent: dropped JOB: {}", job.status().message());
        return;
      }
      if (draining) return;  // the controller requeues it when this agent says DISCONNECT
      Apply(dealer, models_.Accept(std::move(job).value(), SystemClock().NowSeconds()));
      return;
    }
    case Command::kChunk: {
      auto chunk = DecodeChunk(env->body);
      if (!chunk.ok()) {
        spdlog::warn("agent: dropped CHUNK: {}", chunk.status().message());
        return;
      }
      Apply(dealer, models_.OnChunk(*chunk, SystemClock().NowSeconds()));
      return;
    }
    case Command::kAck: {
      auto ack = DecodeAck(env->body);
      if (ack.ok()) {
        Status s = spool_.Remove(ack->job_id, ack->attempt);
        if (!s.ok()) spdlog::error("agent: spool: {}", s.ToString());
      }
      return;
    }
    case Command::kHeartbeat:
      return;
    case Command::kDisconnect: {
      auto d = DecodeDisconnect(env->body);
      const std::string reason = d.ok() ? d->reason : "no reason";
      spdlog::warn("agent: controller said DISCONNECT: {}", reason);
      if (reason.rfind("refused:", 0) == 0) {
        session.refused = true;
        session.refusal = "controller refused this agent: " + reason;
      } else {
        session.reconnect = true;
      }
      return;
    }
    default:
      spdlog::warn("agent: unexpected {} from the controller", CommandName(env->command));
  }
}

}  // namespace wattfleet
