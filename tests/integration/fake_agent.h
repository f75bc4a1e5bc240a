// A raw DEALER that plays an agent against an in-process Dispatcher: it speaks the wire
// protocol directly so that tests can send what a real agent would (and what it never would).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "wattfleet/common/curve_keys.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet::testing {

class FakeAgent {
 public:
  // With `server_public` set it authenticates with CURVE using `own`.
  FakeAgent(zmq::context_t& ctx, const std::string& endpoint, const std::string& id,
            const std::string& server_public = "", const CurveKeyPair& own = {})
      : socket_(ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::routing_id, id);
    if (!server_public.empty()) {
      socket_.set(zmq::sockopt::curve_serverkey, server_public);
      socket_.set(zmq::sockopt::curve_publickey, own.public_key);
      socket_.set(zmq::sockopt::curve_secretkey, own.secret_key);
    }
    socket_.connect(endpoint);
  }
  // Any frames, well-formed or not. A DEALER queues while a handshake is pending (or never
  // completes): never block on it.
  void SendRaw(const std::vector<std::string>& frames) {
    std::vector<zmq::const_buffer> bufs;
    for (const auto& f : frames) bufs.push_back(zmq::buffer(f));
    (void)zmq::send_multipart(socket_, bufs, zmq::send_flags::dontwait);
  }
  void Send(Command c, const std::string& body) {
    auto f = MakeFrames(c, body);
    SendRaw({f[0], f[1], f[2]});
  }
  // Next well-formed message other than HEARTBEAT, within `timeout`.
  std::optional<Envelope> Receive(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> frames;
      (void)zmq::recv_multipart(socket_, std::back_inserter(frames));
      std::vector<std::string_view> views;
      for (auto& m : frames) views.emplace_back(m.data<char>(), m.size());
      auto env = ParseFrames(views);
      if (!env.ok() || env->command == Command::kHeartbeat) continue;
      return *env;
    }
    return std::nullopt;
  }

 private:
  zmq::socket_t socket_;
};

inline ReadyMsg Ready(const std::string& name, int prefetch = 1) {
  ReadyMsg r;
  r.name = name;
  r.device_class = "cpu";
  r.device = "cpu";
  r.sensor = "simulated";
  r.prefetch = prefetch;
  return r;
}

// A DONE result for `job` with a small, valid measurement.
inline JobResult Done(const JobSpec& job, double energy = 1.5) {
  JobResult r;
  r.job_id = job.job_id;
  r.attempt = job.attempt;
  r.measurement.sensor = "simulated";
  r.measurement.repeats = {{10, 0.1, energy * 10}, {10, 0.1, energy * 10}};
  r.measurement.time_per_iter_s = 0.01;
  r.measurement.energy_per_iter_j = energy;
  return r;
}

}  // namespace wattfleet::testing
