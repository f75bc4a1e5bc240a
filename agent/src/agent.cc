#include "agent.h"

#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <random>
#include <thread>
#include <zmq_addon.hpp>

#include "wattfleet/common/clock.h"

namespace wattfleet {
namespace {

using Frames = std::vector<zmq::message_t>;

void Send(zmq::socket_t& socket, Command command, std::string body) {
  auto frames = MakeFrames(command, std::move(body));
  std::array<zmq::const_buffer, 3> bufs{zmq::buffer(frames[0]), zmq::buffer(frames[1]),
                                        zmq::buffer(frames[2])};
  // DEALER sends do not block while the pipe has room; a full pipe means the controller is
  // gone, and the liveness check will reconnect.
  if (!zmq::send_multipart(socket, bufs, zmq::send_flags::dontwait)) {
    spdlog::warn("agent: send of {} dropped (controller not reachable)", CommandName(command));
  }
}

double Jittered(double seconds, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 1.0);
  return seconds * u(rng);
}

}  // namespace

Agent::Agent(AgentOptions options, ReadyMsg ready, Executor& executor, Meter& meter,
             Spool& spool)
    : options_(std::move(options)),
      ready_(std::move(ready)),
      executor_(executor),
      meter_(meter),
      spool_(spool) {
  results_endpoint_ = "inproc://wattfleet-agent-results-" +
                      std::to_string(reinterpret_cast<uintptr_t>(this));
}

Agent::~Agent() = default;

JobResult Agent::Execute(const JobSpec& job, IdleBaseline& idle) {
  JobResult result;
  result.job_id = job.job_id;
  result.attempt = job.attempt;
  try {
    auto workload = executor_.Prepare(job);
    if (!workload.ok()) {
      result.outcome = Outcome::kFailed;
      result.error = workload.status().message();
      return result;
    }
    auto measurement = Measure(**workload, meter_, idle, job.settings);
    if (!measurement.ok()) {
      const std::string& msg = measurement.status().message();
      result.outcome = msg.rfind("sensor:", 0) == 0 ? Outcome::kSensor : Outcome::kFailed;
      result.error = msg;
      return result;
    }
    result.measurement = std::move(measurement).value();
    Measurement& m = result.measurement;
    m.agent_name = ready_.name;
    m.agent_version = ready_.agent_version;
    m.torch_version = executor_.torch_version();
    m.device = ready_.device;
    m.threads = executor_.threads();
  } catch (const std::exception& e) {
    // A job must never take the agent down.
    result.outcome = Outcome::kFailed;
    result.error = std::string("unexpected error: ") + e.what();
  }
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
  // Idle power is cached across jobs and refreshed every few minutes.
  IdleBaseline idle(meter_, SystemClock());
  for (;;) {
    JobSpec job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return worker_exit_ || !queue_.empty(); });
      if (worker_exit_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_job_ = true;
    }
    spdlog::info("agent: job {} attempt {} ({} {})", job.job_id, job.attempt,
                 JobKindName(job.kind), job.subject);
    JobResult result = Execute(job, idle);
    if (result.outcome != Outcome::kDone) {
      spdlog::warn("agent: job {} {}: {}", job.job_id, OutcomeName(result.outcome),
                   result.error);
    }
    // On disk before it is sent: a crash from here on never loses the measurement.
    Status put = spool_.Put(result);
    if (!put.ok()) spdlog::error("agent: spool: {}", put.ToString());
    const Command cmd = result.outcome == Outcome::kDone ? Command::kResult : Command::kNack;
    std::string body = Encode(result);
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

Status Agent::Run() {
  zmq::socket_t results(context_, zmq::socket_type::pair);
  results.set(zmq::sockopt::linger, 0);
  results.bind(results_endpoint_);
  std::thread worker([this] { WorkerLoop(); });
  auto stop_worker = [&] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      worker_exit_ = true;
    }
    cv_.notify_all();
    worker.join();
  };

  std::mt19937_64 rng(std::random_device{}());
  double backoff = options_.reconnect_min_s;
  Clock& clock = SystemClock();
  Status exit_status;
  bool done = false;
  double drain_deadline = -1;

  while (!done) {
    zmq::socket_t dealer(context_, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    // A stable routing id lets the controller's router_handover hand a reconnecting agent's
    // identity to its fresh socket.
    dealer.set(zmq::sockopt::routing_id, ready_.name);
    try {
      dealer.connect(options_.controller);
    } catch (const zmq::error_t& e) {
      exit_status = Status::InvalidArgument("--controller " + options_.controller + ": " +
                                            e.what());
      break;
    }
    ReadyMsg ready = ready_;
    for (const JobResult& r : spool_.List()) ready.resumed_job_ids.push_back(r.job_id);
    Send(dealer, Command::kReady, Encode(ready));

    int64_t heartbeat_ms = options_.heartbeat_ms;
    int32_t liveness = options_.liveness;
    bool welcomed = false;
    double last_recv = clock.NowSeconds();
    double next_heartbeat = last_recv + heartbeat_ms / 1000.0;
    bool reconnect = false;

    while (!reconnect && !done) {
      const double now = clock.NowSeconds();
      const auto wait_ms = static_cast<long>(
          std::clamp((next_heartbeat - now) * 1000.0, 0.0, 100.0));
      std::array<zmq::pollitem_t, 2> items{{{dealer.handle(), 0, ZMQ_POLLIN, 0},
                                            {results.handle(), 0, ZMQ_POLLIN, 0}}};
      try {
        zmq::poll(items.data(), items.size(), std::chrono::milliseconds(wait_ms));
      } catch (const zmq::error_t& e) {
        // A stop signal interrupts the poll; the loop notices the flag below.
        if (e.num() != EINTR) throw;
        for (auto& item : items) item.revents = 0;
      }

      if (items[0].revents & ZMQ_POLLIN) {
        Frames frames;
        if (zmq::recv_multipart(dealer, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
          last_recv = clock.NowSeconds();
          std::vector<std::string_view> views;
          for (auto& f : frames) views.emplace_back(f.data<char>(), f.size());
          auto env = ParseFrames(views);
          if (!env.ok()) {
            spdlog::warn("agent: dropped malformed message: {}", env.status().message());
          } else {
            switch (env->command) {
              case Command::kWelcome: {
                auto w = DecodeWelcome(env->body);
                if (!w.ok()) {
                  spdlog::warn("agent: {}", w.status().message());
                  break;
                }
                welcomed = true;
                heartbeat_ms = w->heartbeat_ms;
                liveness = w->liveness;
                backoff = options_.reconnect_min_s;
                spdlog::info("agent: registered with {} (heartbeat {} ms)", options_.controller,
                             heartbeat_ms);
                // Results the controller may never have received.
                for (const JobResult& r : spool_.List()) {
                  Send(dealer, r.outcome == Outcome::kDone ? Command::kResult : Command::kNack,
                       Encode(r));
                }
                break;
              }
              case Command::kJob: {
                auto job = DecodeJob(env->body);
                if (!job.ok()) {
                  spdlog::warn("agent: dropped JOB: {}", job.status().message());
                  break;
                }
                if (stop_.load()) break;  // draining: the controller requeues it on DISCONNECT
                {
                  std::lock_guard<std::mutex> lock(mu_);
                  queue_.push_back(std::move(job).value());
                }
                cv_.notify_one();
                break;
              }
              case Command::kAck: {
                auto ack = DecodeAck(env->body);
                if (ack.ok()) {
                  Status s = spool_.Remove(ack->job_id, ack->attempt);
                  if (!s.ok()) spdlog::error("agent: spool: {}", s.ToString());
                }
                break;
              }
              case Command::kHeartbeat:
                break;
              case Command::kDisconnect: {
                auto d = DecodeDisconnect(env->body);
                const std::string reason = d.ok() ? d->reason : "no reason";
                spdlog::warn("agent: controller said DISCONNECT: {}", reason);
                if (reason.rfind("refused:", 0) == 0) {
                  exit_status = Status::Unavailable("controller refused this agent: " + reason);
                  done = true;
                } else {
                  reconnect = true;
                }
                break;
              }
              default:
                spdlog::warn("agent: unexpected {} from the controller",
                             CommandName(env->command));
            }
          }
        }
      }

      if (items[1].revents & ZMQ_POLLIN) {
        Frames frames;
        if (zmq::recv_multipart(results, std::back_inserter(frames), zmq::recv_flags::dontwait) &&
            frames.size() == 2) {
          // Not yet welcomed: the result waits in the spool for the replay after WELCOME.
          if (welcomed) {
            Send(dealer, static_cast<Command>(frames[0].data<char>()[0]), frames[1].to_string());
          }
        }
      }

      const double now2 = clock.NowSeconds();
      if (now2 >= next_heartbeat) {
        Send(dealer, Command::kHeartbeat, EncodeEmpty());
        next_heartbeat = now2 + heartbeat_ms / 1000.0;
      }
      if (now2 - last_recv > liveness * heartbeat_ms / 1000.0) {
        spdlog::warn("agent: controller silent for {:.1f} s; reconnecting", now2 - last_recv);
        reconnect = true;
      }

      if (options_.max_jobs > 0 && !stop_.load()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (jobs_ended_ >= options_.max_jobs) stop_.store(true);
      }
      if (stop_.load()) {
        if (drain_deadline < 0) {
          drain_deadline = now2 + options_.drain_timeout_s;
          std::lock_guard<std::mutex> lock(mu_);
          spdlog::info("agent: draining ({} queued jobs handed back)", queue_.size());
          queue_.clear();
        }
        bool idle;
        {
          std::lock_guard<std::mutex> lock(mu_);
          idle = !running_job_ && queue_.empty();
        }
        // The worker's last result may still sit in the pair socket: drain it first.
        const bool pending_result = (items[1].revents & ZMQ_POLLIN) != 0;
        if (idle && !pending_result && (spool_.List().empty() || now2 > drain_deadline)) {
          Send(dealer, Command::kDisconnect, Encode(DisconnectMsg{"draining"}));
          done = true;
        } else if (!idle && now2 > drain_deadline + 3600) {
          done = true;  // a job that never ends: give up (it is killed with the process)
        }
      }
    }

    if (reconnect && !done) {
      // Jobs not started are the controller's again once it notices; running them twice would
      // only waste device time.
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.clear();
      }
      const double pause = Jittered(backoff, rng);
      spdlog::info("agent: reconnecting in {:.1f} s", pause);
      const double until = clock.NowSeconds() + pause;
      while (!stop_.load() && clock.NowSeconds() < until) clock.SleepFor(0.05);
      backoff = std::min(backoff * 2, options_.reconnect_max_s);
      if (stop_.load()) done = true;
    }
    if (done) {
      // Let DISCONNECT leave before the socket closes.
      dealer.set(zmq::sockopt::linger, 500);
    }
  }
  stop_worker();
  return exit_status;
}

}  // namespace wattfleet
