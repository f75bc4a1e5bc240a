// Dispatch throughput through the real controller: the Dispatcher with its SQLite store on a
// real file, and N simulated agents (DEALER sockets on loopback) that answer every JOB with a
// RESULT at once (zero-work jobs). Beside it, in the same run, a raw ZeroMQ + msgpack echo
// (ROUTER answering each request with a job-sized reply) gives the per-message floor.
//
//   ./build/bench/bench_dispatch [--agents 64] [--jobs 20000] [--prefetch 2]
//
// Reports jobs/s, the cost per job against the echo's cost per round trip, and the agents'
// idle gap between jobs (from sending a RESULT to holding the next JOB; 0 when the next job
// was already prefetched).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <msgpack.hpp>
#include <spdlog/spdlog.h>

#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/plan/planner.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/protocol.h"
#include "bench_agent.h"

namespace wattfleet {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct DispatchFigures {
  double jobs_per_s = 0;
  double gap_p50_ms = 0, gap_p99_ms = 0;
  int64_t jobs = 0;
};

DispatchFigures RunDispatch(int agents, int jobs, int prefetch, const std::string& dir) {
  const std::string db = dir + "/bench.db";
  std::unique_ptr<Store> owned = OrExit(OpenSqliteStore(db));
  Store& store = *owned;
  OrExit(store.CreateCampaign(ZeroWorkPlan(jobs)));
  DispatcherOptions o;
  o.bind = "tcp://127.0.0.1:*";
  o.exit_when_campaigns_done = true;
  Dispatcher dispatcher(o, store);
  OrExit(dispatcher.Start());
  std::thread loop([&] { (void)dispatcher.Run(); });

  zmq::context_t ctx(1);
  std::vector<zmq::socket_t> socks;
  std::vector<std::deque<JobRef>> held(agents);
  std::vector<Clock::time_point> waiting_since(agents);
  std::vector<bool> waiting(agents, false);
  std::vector<double> gaps;
  gaps.reserve(jobs);
  for (int i = 0; i < agents; ++i) {
    socks.push_back(
        ConnectSimulatedAgent(ctx, dispatcher.endpoint(), "bench-" + std::to_string(i), prefetch));
  }
  int64_t done = 0;
  Clock::time_point start;
  bool started = false;
  std::vector<zmq::pollitem_t> items(agents);
  while (done < jobs) {
    for (int i = 0; i < agents; ++i) items[i] = {socks[i].handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    for (int i = 0; i < agents; ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      for (;;) {
        std::vector<zmq::message_t> frames;
        if (!zmq::recv_multipart(socks[i], std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
        std::vector<std::string_view> v;
        for (auto& f : frames) v.emplace_back(f.data<char>(), f.size());
        auto env = ParseFrames(v);
        if (!env.ok()) continue;
        if (env->command == Command::kJob) {
          auto job = PeekJob(env->body);
          if (!job) continue;
          if (!started) {
            start = Clock::now();
            started = true;
          }
          if (waiting[i]) {
            gaps.push_back(Seconds(waiting_since[i], Clock::now()) * 1e3);
            waiting[i] = false;
          }
          held[i].push_back(*job);
        } else if (env->command == Command::kAck) {
          ++done;
        } else if (env->command == Command::kHeartbeat) {
          SendFrames(socks[i], Command::kHeartbeat, EncodeEmpty());
        }
      }
    }
    // Every agent finishes the job it runs at once (zero work) and starts the next it holds.
    for (int i = 0; i < agents; ++i) {
      if (held[i].empty()) continue;
      const JobRef job = held[i].front();
      held[i].pop_front();
      SendFrames(socks[i], Command::kResult, Encode(FakeResult(job)));
      if (held[i].empty()) {
        waiting[i] = true;
        waiting_since[i] = Clock::now();
      } else {
        gaps.push_back(0);
      }
    }
  }
  const double elapsed = Seconds(start, Clock::now());
  dispatcher.RequestStop();
  loop.join();
  DispatchFigures f;
  f.jobs = done;
  f.jobs_per_s = static_cast<double>(done) / elapsed;
  f.gap_p50_ms = Percentile(gaps, 0.50);
  f.gap_p99_ms = Percentile(gaps, 0.99);
  return f;
}

// The floor: the same sockets, the same message sizes, msgpack both ways, no store, no logic.
double RunEcho(int agents, int round_trips) {
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  const std::string ep = router.get(zmq::sockopt::last_endpoint);
  JobSpec job = ZeroWorkPlan(1).jobs[0];
  job.job_id = 1;
  const std::string reply_body = Encode(job);
  std::thread server([&] {
    for (int n = 0; n < round_trips; ++n) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(router, std::back_inserter(frames))) break;
      std::vector<std::string_view> v;
      for (size_t k = 1; k < frames.size(); ++k) v.emplace_back(frames[k].data<char>(), frames[k].size());
      auto env = ParseFrames(v);
      auto r = DecodeJobResult(env->body);
      JobSpec j = job;
      j.job_id = r->job_id + 1;
      auto out = MakeFrames(Command::kJob, Encode(j));
      std::array<zmq::const_buffer, 4> b{zmq::buffer(frames[0].data(), frames[0].size()),
                                         zmq::buffer(out[0]), zmq::buffer(out[1]), zmq::buffer(out[2])};
      (void)zmq::send_multipart(router, b);
    }
  });
  std::vector<zmq::socket_t> socks;
  for (int i = 0; i < agents; ++i) {
    socks.emplace_back(ctx, zmq::socket_type::dealer);
    socks.back().set(zmq::sockopt::linger, 0);
    socks.back().connect(ep);
  }
  const auto start = Clock::now();
  int sent = 0, received = 0;
  for (int i = 0; i < agents && sent < round_trips; ++i, ++sent) {
    SendFrames(socks[i], Command::kResult, Encode(FakeResult(JobRef{1, 1})));
  }
  std::vector<zmq::pollitem_t> items(agents);
  while (received < round_trips) {
    for (int i = 0; i < agents; ++i) items[i] = {socks[i].handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    for (int i = 0; i < agents; ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> frames;
      while (zmq::recv_multipart(socks[i], std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        ++received;
        std::vector<std::string_view> v;
        for (auto& f : frames) v.emplace_back(f.data<char>(), f.size());
        auto env = ParseFrames(v);
        auto j = PeekJob(env->body);
        frames.clear();
        if (sent < round_trips) {
          SendFrames(socks[i], Command::kResult, Encode(FakeResult(*j)));
          ++sent;
        }
      }
    }
  }
  const double elapsed = Seconds(start, Clock::now());
  server.join();
  return static_cast<double>(received) / elapsed;
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  int agents = 64, jobs = 20000, prefetch = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--agents")) agents = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--prefetch")) prefetch = std::atoi(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::warn);
  char tmpl[] = "/tmp/wattfleet-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const double echo = wattfleet::RunEcho(agents, jobs);
  const auto d = wattfleet::RunDispatch(agents, jobs, prefetch, tmpl);
  std::string cleanup = std::string("rm -rf ") + tmpl;
  if (std::system(cleanup.c_str()) != 0) return 1;
  std::printf("agents %d, jobs %d, prefetch %d\n", agents, jobs, prefetch);
  std::printf("echo (ZeroMQ + msgpack round trips): %.0f msg/s, %.1f us each\n", echo, 1e6 / echo);
  std::printf("dispatch (real controller + SQLite): %.0f jobs/s, %.1f us each, %.2fx the echo\n",
              d.jobs_per_s, 1e6 / d.jobs_per_s, echo / d.jobs_per_s);
  std::printf("agent idle gap between jobs: p50 %.3f ms, p99 %.3f ms\n", d.gap_p50_ms, d.gap_p99_ms);
  return 0;
}
