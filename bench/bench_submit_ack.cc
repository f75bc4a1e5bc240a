// How long an agent waits for its RESULT to be acknowledged while the controller takes in the
// largest campaign it allows: the real Dispatcher on an SQLite file, one simulated agent that
// answers each job after a pause (a steady stream of results, as a fleet sends them), and,
// once that stream is steady, a campaign of about `--max-campaign-jobs` jobs submitted on the
// admin socket. The RESULT-to-ACK latency is reported before the submit and while it is
// planned and stored, and the submit's own time.
//
//   ./build/bench/bench_submit_ack [--classes 4] [--widths 999] [--pause-ms 2]
//
// The submitted campaign: `--classes` device classes x 5 batches x an MLP sweep of
// `--widths` widths (about 4 distinct layers and one model per width), which the controller's
// default limit of 100 000 jobs just admits at the defaults.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench_agent.h"
#include "wattfleet/dispatch/admin_protocol.h"
#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/store/store.h"

namespace wattfleet {
namespace {

using Clock = std::chrono::steady_clock;

std::string LargestCampaign(int classes, int widths) {
  std::string yaml = "name: largest\ndevices: [";
  for (int c = 0; c < classes; ++c) yaml += (c ? ", " : "") + std::string("{class: c") +
                                            std::to_string(c) + "}";
  yaml += "]\nbatch_size: [1, 2, 4, 8, 16]\narchitectures:\n  - family: mlp\n"
          "    sweep: {depth: [2], input: [784], width: [";
  for (int w = 0; w < widths; ++w) yaml += (w ? ", " : "") + std::to_string(16 + w);
  return yaml + "]}\n";
}

struct Latencies {
  std::vector<double> before_ms, during_ms;
  double submit_s = 0;
  int64_t submitted_jobs = 0;
  std::string submit_error;
};

void Print(const char* label, const std::vector<double>& v) {
  std::printf("    %-32s n=%-6zu p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", label, v.size(),
              Percentile(v, 0.50), Percentile(v, 0.99),
              v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
}

Latencies Run(const std::string& dir, int classes, int widths, double pause_ms,
              bool own_connection) {
  std::unique_ptr<Store> owned = OrExit(OpenSqliteStore(dir + "/bench.db"));
  Store& store = *owned;
  // Enough zero-work jobs to keep the agent busy through the submit.
  OrExit(store.CreateCampaign(ZeroWorkPlan(200000)));
  DispatcherOptions o;
  o.bind = "tcp://127.0.0.1:*";
  o.admin = "ipc://" + dir + "/admin";
  // As `serve` does: submitted campaigns are stored on a connection of their own.
  if (own_connection) {
    o.open_submit_store = [dir]() { return OpenSqliteStore(dir + "/bench.db"); };
  }
  Dispatcher dispatcher(o, store);
  OrExit(dispatcher.Start());
  std::thread loop([&] { (void)dispatcher.Run(); });

  zmq::context_t ctx(1);
  zmq::socket_t agent = ConnectSimulatedAgent(ctx, dispatcher.endpoint(), "bench-agent", 2);

  zmq::socket_t admin(ctx, zmq::socket_type::req);
  admin.set(zmq::sockopt::linger, 0);
  admin.connect(o.admin);

  Latencies out;
  std::deque<JobRef> held;
  std::map<int64_t, Clock::time_point> sent_at;  // job id -> when its RESULT left
  Clock::time_point next_result = Clock::now();
  const Clock::time_point start = Clock::now();
  Clock::time_point submit_at{}, answered_at{};
  bool submitted = false, answered = false;
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (!submitted && now - start > std::chrono::seconds(2)) {
      AdminRequest submit;
      submit.op = AdminOp::kSubmit;
      submit.path = "largest.yaml";
      submit.yaml = LargestCampaign(classes, widths);
      admin.send(zmq::buffer(submit.ToJson().dump()), zmq::send_flags::none);
      submit_at = now;
      submitted = true;
    }
    if (answered && now - answered_at > std::chrono::seconds(1)) break;
    if (now - start > std::chrono::seconds(600)) {
      out.submit_error = "no answer to the submit in 600 s";
      break;
    }
    zmq::pollitem_t items[] = {{agent.handle(), 0, ZMQ_POLLIN, 0},
                               {admin.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(1));
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t reply;
      if (admin.recv(reply)) {
        answered_at = Clock::now();
        answered = true;
        out.submit_s = std::chrono::duration<double>(answered_at - submit_at).count();
        const auto j = nlohmann::json::parse(reply.to_string(), nullptr, false);
        out.submitted_jobs = j.is_object() ? j.value("jobs", int64_t{0}) : 0;
        if (!j.is_object() || !j.value("ok", false)) out.submit_error = reply.to_string();
      }
    }
    if (items[0].revents & ZMQ_POLLIN) {
      for (;;) {
        std::vector<zmq::message_t> frames;
        if (!zmq::recv_multipart(agent, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
          break;
        }
        std::vector<std::string_view> v;
        for (auto& f : frames) v.emplace_back(f.data<char>(), f.size());
        auto env = ParseFrames(v);
        if (!env.ok()) continue;
        if (env->command == Command::kJob) {
          if (auto job = PeekJob(env->body)) held.push_back(*job);
        } else if (env->command == Command::kHeartbeat) {
          SendFrames(agent, Command::kHeartbeat, EncodeEmpty());
        } else if (env->command == Command::kAck) {
          auto ack = DecodeAck(env->body);
          if (!ack.ok()) continue;
          auto it = sent_at.find(ack->job_id);
          if (it == sent_at.end()) continue;
          const double ms = std::chrono::duration<double>(Clock::now() - it->second).count() * 1e3;
          const bool during = submitted && (!answered || it->second <= answered_at);
          (during ? out.during_ms : out.before_ms).push_back(ms);
          sent_at.erase(it);
        }
      }
    }
    // One result every `pause_ms`: a fleet's steady trickle, not a flood.
    if (!held.empty() && Clock::now() >= next_result) {
      const JobRef job = held.front();
      held.pop_front();
      sent_at[job.job_id] = Clock::now();
      SendFrames(agent, Command::kResult, Encode(FakeResult(job)));
      next_result = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(pause_ms * 1e3));
    }
  }
  dispatcher.RequestStop();
  loop.join();
  return out;
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  int classes = 4, widths = 999;
  double pause_ms = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--classes")) classes = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--widths")) widths = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--pause-ms")) pause_ms = std::atof(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::warn);
  int rc = 0;
  // The same submit twice in one run: stored on the dispatcher's thread, then (as `serve`
  // does) from the planning thread on a connection of its own.
  for (const bool own : {false, true}) {
    char tmpl[] = "/tmp/wattfleet-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    const auto l = wattfleet::Run(tmpl, classes, widths, pause_ms, own);
    const std::string cleanup = std::string("rm -rf ") + tmpl;
    if (std::system(cleanup.c_str()) != 0) return 1;
    std::printf("%s:\n", own ? "stored from the planning thread (serve)"
                             : "stored on the dispatcher's thread");
    std::printf("  submit of %lld jobs answered in %.2f s%s%s\n",
                static_cast<long long>(l.submitted_jobs), l.submit_s,
                l.submit_error.empty() ? "" : ": ", l.submit_error.c_str());
    std::printf("  RESULT -> ACK latency, one result every %.1f ms:\n", pause_ms);
    wattfleet::Print("before the submit", l.before_ms);
    wattfleet::Print("while it is planned and stored", l.during_ms);
    if (!l.submit_error.empty()) rc = 1;
  }
  return rc;
}
