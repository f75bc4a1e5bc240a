// What the dispatch benchmarks' simulated agents share: frames on a DEALER socket, a job's
// id read without decoding the whole job, a result of zero work, and a plan of zero-work
// layer jobs.
#pragma once

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <msgpack.hpp>

#include "wattfleet/common/protocol.h"
#include "wattfleet/common/status.h"
#include "wattfleet/plan/planner.h"

namespace wattfleet {

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

inline void SendFrames(zmq::socket_t& s, Command c, const std::string& body) {
  auto f = MakeFrames(c, body);
  std::array<zmq::const_buffer, 3> b{zmq::buffer(f[0]), zmq::buffer(f[1]), zmq::buffer(f[2])};
  (void)zmq::send_multipart(s, b);
}

// A simulated agent reads only what it must answer with (the job id and attempt), the way a
// real agent's cost of decoding a job is not the controller's to pay.
struct JobRef {
  int64_t job_id = 0;
  int32_t attempt = 0;
};
inline std::optional<JobRef> PeekJob(std::string_view body) {
  try {
    msgpack::object_handle h = msgpack::unpack(body.data(), body.size());
    const msgpack::object& o = h.get();
    if (o.type != msgpack::type::MAP) return std::nullopt;
    JobRef ref;
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      const auto& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) continue;
      const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
      if (key == "job_id") ref.job_id = kv.val.as<int64_t>();
      if (key == "attempt") ref.attempt = kv.val.as<int32_t>();
    }
    return ref;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

inline JobResult FakeResult(const JobRef& job) {
  JobResult r;
  r.job_id = job.job_id;
  r.attempt = job.attempt;
  r.measurement.sensor = "simulated";
  r.measurement.domain = "simulated";
  r.measurement.repeats = {{100, 0.5, 50}, {100, 0.5, 50}, {100, 0.5, 50}};
  r.measurement.iterations_per_window = 100;
  r.measurement.time_per_iter_s = 0.005;
  r.measurement.energy_per_iter_j = 0.5;
  r.measurement.idle_w = 20;
  r.measurement.agent_name = "bench";
  return r;
}

inline Plan ZeroWorkPlan(int jobs) {
  Plan plan;
  plan.campaign.name = "bench-dispatch";
  plan.campaign.devices = {DeviceSelector{"cpu", "", "", ""}};
  for (int i = 0; i < jobs; ++i) {
    LayerSpec spec{LayerType::kLinear, {{"in_features", 8}, {"out_features", 1.0 + i}, {"bias", 1}}, {8}};
    auto features = ComputeFeatures(spec);
    PlannedLayer layer{CanonicalKey(spec), spec, *features};
    JobSpec job;
    job.kind = JobKind::kLayer;
    job.batch = 1;
    job.device_class = "cpu";
    job.subject = layer.key;
    job.graph.name = layer.key;
    job.graph.family = "layer";
    job.graph.input_shape = spec.input_shape;
    job.graph.nodes = {ArchNode{"layer", spec, {-1}}};
    job.lease_ms = 600000;
    plan.layers.push_back(std::move(layer));
    plan.jobs.push_back(std::move(job));
  }
  return plan;
}

// A benchmark cannot go on without its controller: a failure to set one up ends it, saying why.
inline void OrExit(const Status& s) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  std::exit(1);
}
template <typename T>
T OrExit(Result<T> r) {
  OrExit(r.status());
  return std::move(r).value();
}

// A simulated agent's DEALER, connected to `endpoint` and registered as `name`.
inline zmq::socket_t ConnectSimulatedAgent(zmq::context_t& ctx, const std::string& endpoint,
                                           const std::string& name, int prefetch) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::routing_id, name);
  s.connect(endpoint);
  ReadyMsg r;
  r.name = name;
  r.device_class = "cpu";
  r.device = "cpu";
  r.sensor = "simulated";
  r.prefetch = prefetch;
  SendFrames(s, Command::kReady, Encode(r));
  return s;
}

}  // namespace wattfleet
