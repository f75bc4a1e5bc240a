// Registration: who a peer may be. An agent's name is checked (printable, bounded), held to
// the name its CURVE key was enrolled under, and to one connection at a time; the leases a
// reconnecting agent still holds are given back to it, the others requeued.
#include <spdlog/spdlog.h>

#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/common/peer_text.h"
#include "wattfleet/common/sensor_character_json.h"

namespace wattfleet {

void Dispatcher::RefuseAgent(const std::string& identity, const std::string& why, bool final) {
  ++counters_.agents_refused;
  spdlog::warn("controller: refused peer {}: {}", PeerLabel(identity), why);
  // "refused:" tells an agent to stop; anything else, to try again later.
  SendTo(identity, Command::kDisconnect, Encode(DisconnectMsg{(final ? "refused: " : "") + why}));
}

void Dispatcher::HandleAgentMessage(const std::string& identity, const std::string& user,
                                    const Envelope& env) {
  auto it = agents_.find(identity);
  // Under CURVE every message is held to the name its key was enrolled under: a peer that
  // took over a registered agent's routing id with another key speaks for nobody.
  if (curve_ && it != agents_.end() && user != it->second.ready.name) {
    RefuseAgent(identity, "this connection's key is enrolled as '" + Escaped(user) +
                              "', not as '" + it->second.ready.name + "'");
    return;
  }
  if (it != agents_.end()) it->second.last_seen = clock_.NowSeconds();
  switch (env.command) {
    case Command::kReady:
      HandleReady(identity, user, env.body);
      return;
    case Command::kHeartbeat:
    case Command::kProgress:
      if (it == agents_.end()) {
        SendTo(identity, Command::kDisconnect, Encode(DisconnectMsg{"not registered"}));
      }
      return;
    case Command::kResult:
    case Command::kNack:
      HandleResult(identity, env.body, env.command == Command::kResult);
      return;
    case Command::kFetch:
      if (it == agents_.end()) {
        SendTo(identity, Command::kDisconnect, Encode(DisconnectMsg{"not registered"}));
        return;
      }
      HandleFetch(identity, env.body);
      return;
    case Command::kDisconnect:
      if (it != agents_.end()) DropAgent(identity, "agent said DISCONNECT");
      return;
    default:
      ++counters_.malformed;
      spdlog::warn("controller: unexpected {} from {}; dropped", CommandName(env.command),
                   PeerLabel(identity));
  }
}

// Whether the agent READY describes may register on this connection: a valid name, the one its
// key is enrolled under, not in use by another connection, valid texts, our protocol version.
// Refused (and told so) otherwise.
bool Dispatcher::AdmitReady(const std::string& identity, const std::string& user,
                            const ReadyMsg& r) {
  if (Status name = CheckAgentName(r.name); !name.ok()) {
    RefuseAgent(identity, name.message());
    return false;
  }
  if (curve_ && user != r.name) {
    RefuseAgent(identity, "this connection's key is enrolled as '" + Escaped(user) +
                              "', not as '" + r.name + "'");
    return false;
  }
  // One connection per name: a READY from another routing id under the name of an agent
  // that is still connected would take its leases. It may be that agent restarted (its old
  // connection not yet found silent), so it is told to try again rather than to stop.
  for (const auto& [other, agent] : agents_) {
    if (other != identity && agent.ready.name == r.name) {
      RefuseAgent(identity,
                  "agent name '" + r.name + "' is in use by a connected agent; try again "
                  "once it has gone",
                  /*final=*/false);
      return false;
    }
  }
  if (Status f = CheckPeerText(r); !f.ok()) {
    RefuseAgent(identity, f.message());
    return false;
  }
  if (r.protocol_version != kProtocolVersion) {
    spdlog::warn("controller: refused {}: protocol version {}", r.name, r.protocol_version);
    SendTo(identity, Command::kDisconnect,
           Encode(DisconnectMsg{"refused: protocol version " + std::to_string(r.protocol_version) +
                                ", this controller speaks " + std::to_string(kProtocolVersion)}));
    return false;
  }
  return true;
}

// The agent's state under this connection. A READY from a name already known is a reconnect (or
// a controller restart: jobs leased before it carry the agent's name but no connection). Jobs
// the agent still has — running, or finished and waiting in its spool — stay leased to it; the
// rest go back to the queue.
void Dispatcher::RegisterAgent(const std::string& identity, const ReadyMsg& r) {
  const std::set<int64_t> resumed(r.resumed_job_ids.begin(), r.resumed_job_ids.end());
  std::set<int64_t> held;
  if (auto a = agents_.find(identity); a != agents_.end()) {
    // The same connection registering again. Under another name it keeps nothing: the
    // leases were handed to the old name, and only that name may answer for them.
    if (a->second.ready.name == r.name) {
      held = a->second.in_flight;
    } else {
      for (int64_t id : a->second.in_flight) {
        if (auto j = jobs_.find(id); j != jobs_.end()) j->second.identity.clear();
        Requeue(id, "agent " + a->second.ready.name + " registered again as " + r.name);
      }
    }
    agents_.erase(a);
  }
  for (const auto& [id, e] : jobs_) {
    if (e.job.state == JobState::kLeased && e.identity.empty() && e.job.agent == r.name) {
      held.insert(id);
    }
  }
  departed_.erase(r.name);
  AgentState state;
  state.identity = identity;
  state.ready = r;
  state.last_seen = state.last_sent = clock_.NowSeconds();
  agents_[identity] = state;
  for (int64_t id : held) {
    auto j = jobs_.find(id);
    if (j == jobs_.end() || j->second.job.state != JobState::kLeased) continue;
    if (resumed.count(id)) {
      j->second.identity = identity;
      agents_[identity].in_flight.insert(id);
    } else {
      j->second.identity.clear();
      Requeue(id, "agent " + r.name + " reconnected without it");
    }
  }
  counters_.agents_alive.store(static_cast<int64_t>(agents_.size()));
}

// The agent's device and capabilities, as the dataset's devices table keeps them.
void Dispatcher::RecordDevice(const ReadyMsg& r) {
  nlohmann::json caps = {{"device", r.device},     {"sensor", r.sensor},
                         {"hostname", r.hostname}, {"cores", r.cores},
                         {"memory_bytes", r.memory_bytes},
                         {"agent_version", r.agent_version},
                         {"torch_version", r.torch_version},
                         {"peak_flops", r.peak_flops},
                         {"peak_conv_flops", r.peak_conv_flops},
                         {"pointwise_flops", r.pointwise_flops},
                         {"sensor_character", SensorCharacterJson(r.sensor_character)}};
  // Peers' strings need not be UTF-8: replace what is not, rather than throw.
  Status s = store_.UpsertDevice(DeviceRecord{
      r.name, r.device_class,
      caps.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  if (!s.ok()) spdlog::error("controller: store: {}", s.ToString());
}

void Dispatcher::HandleReady(const std::string& identity, const std::string& user,
                             const std::string& body) {
  auto ready = DecodeReady(body);
  if (Malformed(ready.status(), "READY", identity)) return;
  if (!AdmitReady(identity, user, *ready)) return;
  RegisterAgent(identity, *ready);
  RecordDevice(*ready);

  WelcomeMsg welcome;
  welcome.heartbeat_ms = options_.heartbeat_ms;
  welcome.liveness = options_.liveness;
  welcome.controller_version = WATTFLEET_VERSION;
  SendTo(identity, Command::kWelcome, Encode(welcome));
  spdlog::info("controller: agent {} registered ({}, {}, sensor {}, prefetch {})", ready->name,
               ready->device_class, ready->device, ready->sensor, ready->prefetch);
}

}  // namespace wattfleet
