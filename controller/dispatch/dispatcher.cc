#include "wattfleet/dispatch/dispatcher.h"

#include "wattfleet/common/channel.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <zmq_addon.hpp>

#include "wattfleet/common/curve_keys.h"
#include "wattfleet/common/peer_text.h"
#include "wattfleet/common/text.h"
#include "wattfleet/dispatch/admin_protocol.h"
#include "wattfleet/dispatch/private_endpoint.h"

namespace wattfleet {
namespace {

// A tcp:// endpoint's port must be '*' (any free port) or 1..65535: ZeroMQ takes 99999
// modulo 65536 and binds another port than the one asked for.
Status CheckTcpPort(const std::string& flag, const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) != 0) return Status::OK();
  const size_t colon = endpoint.rfind(':');
  const std::string port = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
  if (port == "*") return Status::OK();
  const std::optional<int64_t> v = ParseInt(port);
  if (!v || *v < 1 || *v > 65535) {
    return Status::InvalidArgument(flag + " " + endpoint + ": the port must be * or 1 to 65535");
  }
  return Status::OK();
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("inproc://", 0) == 0 || endpoint.rfind("ipc://", 0) == 0) return true;
  const std::string prefix = "tcp://";
  if (endpoint.rfind(prefix, 0) != 0) return false;
  const std::string host = endpoint.substr(prefix.size(), endpoint.rfind(':') - prefix.size());
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]";
}

}  // namespace

// A peer's routing id as logs may show it: an agent's is its name and a random number that
// only it should know (whoever reads the log could otherwise take over its identity).
std::string PeerLabel(const std::string& identity) {
  const size_t tilde = identity.find('~');
  if (tilde == std::string::npos) return Escaped(identity, kMaxAgentNameBytes);
  return Escaped(identity.substr(0, std::min(tilde, kMaxAgentNameBytes))) + "~...";
}

Dispatcher::Dispatcher(DispatcherOptions options, Store& store, Clock& clock)
    : options_(std::move(options)), store_(store), clock_(clock) {}

bool Dispatcher::Malformed(const Status& decoded, std::string_view what,
                           const std::string& identity) {
  if (decoded.ok()) return false;
  ++counters_.malformed;
  spdlog::warn("controller: malformed {} from {}: {}", what, PeerLabel(identity),
               decoded.message());
  return true;
}

Dispatcher::~Dispatcher() = default;

Status Dispatcher::Start() {
  const bool curve = !options_.curve_secret_file.empty() || !options_.agents_dir.empty();
  if (curve && (options_.curve_secret_file.empty() || options_.agents_dir.empty())) {
    return Status::InvalidArgument("--curve-secret and --agents-dir go together");
  }
  WF_RETURN_IF_ERROR(CheckTcpPort("--bind", options_.bind));
  if (!options_.admin.empty()) WF_RETURN_IF_ERROR(CheckTcpPort("--admin", options_.admin));
  const bool tcp_admin = options_.admin.rfind("tcp://", 0) == 0;
  // Only doors with a lock: ipc:// (the folder's permissions), tcp:// (CURVE, below), and
  // inproc:// (this process). Other transports (ws://, tipc://, ...) have neither.
  if (!options_.admin.empty() && !tcp_admin && !IsIpcEndpoint(options_.admin) &&
      options_.admin.rfind("inproc://", 0) != 0) {
    return Status::InvalidArgument("--admin " + options_.admin + ": the admin socket is ipc:// "
                                   "(a private folder) or tcp:// (with CURVE)");
  }
  if (!options_.admin_keys_dir.empty() && !curve) {
    return Status::InvalidArgument("--admin-keys needs CURVE (--curve-secret and --agents-dir)");
  }
  if (tcp_admin && (!curve || options_.admin_keys_dir.empty())) {
    // Over TCP, anyone who can reach the port could submit or cancel: only administrators'
    // enrolled keys may.
    return Status::InvalidArgument(
        "--admin " + options_.admin + ": a TCP admin socket needs CURVE and administrators' "
        "keys (--curve-secret, --agents-dir and --admin-keys DIR, from `wattfleet keys "
        "generate --admin NAME`); without them, leave --admin out for an ipc:// socket in a "
        "private folder (" + DefaultAdminEndpoint() + ")");
  }
  WF_RETURN_IF_ERROR(PreparePrivateIpc("--admin", options_.admin));
  if (!curve && !IsLoopbackEndpoint(options_.bind)) {
    return Status::InvalidArgument(
        "--bind " + options_.bind +
        ": without CURVE authentication the controller binds to loopback only");
  }
  CurveKeyPair server_keys;
  if (curve) {
    WF_ASSIGN_OR_RETURN(server_keys, ReadCurveKeyPair(options_.curve_secret_file));
    if (server_keys.secret_key.empty()) {
      return Status::InvalidArgument("--curve-secret " + options_.curve_secret_file +
                                     ": holds no secret key");
    }
    // The handler must answer before the first handshake, so it starts before the bind.
    WF_ASSIGN_OR_RETURN(zap_,
                        ZapHandler::Start(context_, options_.agents_dir, options_.admin_keys_dir));
  }
  curve_ = curve;
  try {
    router_ = zmq::socket_t(context_, zmq::socket_type::router);
    if (curve) {
      router_.set(zmq::sockopt::curve_server, 1);
      router_.set(zmq::sockopt::curve_secretkey, server_keys.secret_key);
      router_.set(zmq::sockopt::zap_domain, "wattfleet");
    }
    router_.set(zmq::sockopt::linger, 0);
    // Unroutable sends fail loudly instead of vanishing.
    router_.set(zmq::sockopt::router_mandatory, 1);
    // A reconnecting agent's fresh socket takes over its routing id. The agent makes that id
    // from its name and a random number drawn at its start, so no other peer can guess it;
    // a second peer under a connected agent's name has another id and is refused at READY.
    router_.set(zmq::sockopt::router_handover, 1);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxBodyBytes + 4096));
    router_.bind(options_.bind);
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("--bind " + options_.bind + ": " + e.what());
  }
  if (!options_.admin.empty()) {
    try {
      admin_ = zmq::socket_t(context_, zmq::socket_type::rep);
      admin_.set(zmq::sockopt::linger, 0);
      // Read on the dispatcher's thread: a frame beyond any campaign is never read.
      admin_.set(zmq::sockopt::maxmsgsize, kMaxAdminRequestBytes);
      if (tcp_admin) {
        admin_.set(zmq::sockopt::curve_server, 1);
        admin_.set(zmq::sockopt::curve_secretkey, server_keys.secret_key);
        admin_.set(zmq::sockopt::zap_domain, kAdminZapDomain);
      }
      admin_.bind(options_.admin);
      admin_endpoint_ = admin_.get(zmq::sockopt::last_endpoint);
      RestrictIpcSocket(admin_endpoint_);
    } catch (const zmq::error_t& e) {
      return Status::InvalidArgument("--admin " + options_.admin + ": " + e.what());
    }
  }
  if (curve) {
    spdlog::info("controller: agents connect to {} (CURVE: agents enrolled in {})", endpoint_,
                 options_.agents_dir);
  } else {
    spdlog::info("controller: agents connect to {} (no CURVE configured: loopback only)",
                 endpoint_);
  }
  return LoadJobs();
}

Status Dispatcher::LoadJobs() {
  WF_ASSIGN_OR_RETURN(std::vector<ActiveJob> active, store_.LoadActiveJobs());
  const double now = clock_.NowSeconds();
  const int64_t now_ms = clock_.UnixMillis();
  int64_t added = 0;
  for (ActiveJob& a : active) {
    const int64_t id = a.spec.job_id;
    if (jobs_.count(id)) continue;
    if (options_.only_campaign != 0 && a.spec.campaign_id != options_.only_campaign) continue;
    JobEntry e;
    e.job = std::move(a);
    if (e.job.state == JobState::kLeased) {
      e.holders[e.job.spec.attempt] = e.job.agent;
      // A lease from before a restart keeps its deadline: the agent may still deliver.
      e.deadline = now + std::max<int64_t>(0, e.job.lease_deadline_ms - now_ms) / 1000.0;
      e.identity.clear();
    } else {
      queues_[e.job.spec.device_class].PushBack(e.job.spec.campaign_id, id);
    }
    ++active_per_campaign_[e.job.spec.campaign_id];
    jobs_.emplace(id, std::move(e));
    ++added;
  }
  counters_.jobs_active.store(static_cast<int64_t>(jobs_.size()));
  if (added) spdlog::info("controller: {} active jobs loaded", added);
  return Status::OK();
}

bool Dispatcher::SendTo(const std::string& identity, Command command, std::string body) {
  return channel::SendTo(router_, identity, command, std::move(body));
}

void Dispatcher::CheckCampaigns() {
  if (!campaigns_changed_) return;
  campaigns_changed_ = false;
  for (auto it = active_per_campaign_.begin(); it != active_per_campaign_.end();) {
    if (it->second <= 0) {
      Status s = store_.FinishCampaign(it->first);
      if (s.code() == StatusCode::kInvalidArgument) {
        // Refused for good, not failed: its other jobs are held by another controller sharing
        // the store (which finishes the campaign when its last one ends), or the campaign was
        // cancelled there. Nothing of it is left here.
        spdlog::info("controller: campaign {} left to the store's other controllers: {}",
                     it->first, s.message());
        it = active_per_campaign_.erase(it);
        continue;
      }
      if (!s.ok()) {
        spdlog::error("controller: store: {}", s.ToString());
        campaigns_changed_ = true;  // try again next pass
        ++it;
        continue;
      }
      spdlog::info("controller: campaign {} finished", it->first);
      it = active_per_campaign_.erase(it);
    } else {
      ++it;
    }
  }
}

// What the agents sent, taken in one go: results arrive in bursts.
void Dispatcher::ReceiveAgentMessages() {
  for (int n = 0; n < 1024; ++n) {
    auto incoming = channel::Receive(router_, channel::Side::kRouter);
    if (!incoming.ok()) {
      spdlog::warn("controller: {}", incoming.status().message());
      break;
    }
    if (!incoming->has_value()) break;
    const std::string identity = std::move((*incoming)->identity);
    const Result<Envelope>& env = (*incoming)->message;
    if (Malformed(env.status(), "message", identity)) continue;
    try {
      // The ZAP handler's answer for this connection (the name its key is enrolled under),
      // only where CURVE authenticates connections.
      const std::string user = curve_ ? (*incoming)->user_id : std::string();
      HandleAgentMessage(identity, user, *env);
    } catch (const std::exception& e) {
      // Nothing a peer sends may take the controller down.
      ++counters_.malformed;
      spdlog::warn("controller: message from {} dropped: {}", PeerLabel(identity), e.what());
    }
  }
}

// An admin request waiting, and a submitted campaign whose planning has ended: each answered.
void Dispatcher::ServeAdmin(bool request_waiting) {
  if (request_waiting) {
    try {
      HandleAdmin();
    } catch (const std::exception& e) {
      spdlog::error("controller: admin request failed: {}", e.what());
    }
  }
  if (pending_submit_.valid() &&
      pending_submit_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    try {
      FinishSubmit();
    } catch (const std::exception& e) {
      spdlog::error("controller: admin request failed: {}", e.what());
    }
  }
}

// Whether the loop ends: every campaign has ended where the loop was to end with them, or a
// stop was requested and no result is in flight any more (or the drain's time is up).
bool Dispatcher::LoopEnds(double* drain_deadline) {
  if (options_.exit_when_campaigns_done && active_per_campaign_.empty() && !campaigns_changed_) {
    spdlog::info("controller: every campaign has ended");
    return true;
  }
  if (stop_.load()) {
    if (*drain_deadline < 0) {
      *drain_deadline = clock_.NowSeconds() + options_.drain_timeout_s;
      spdlog::info("controller: draining (no new jobs; waiting up to {:.0f} s for results)",
                   options_.drain_timeout_s);
    }
    bool in_flight = false;
    for (const auto& [id, a] : agents_) in_flight |= !a.in_flight.empty();
    if (!in_flight || clock_.NowSeconds() > *drain_deadline) {
      // A submit still being planned is answered (refused) before the loop ends.
      if (pending_submit_.valid()) {
        pending_submit_.wait();
        FinishSubmit();
      }
      return true;
    }
  }
  return false;
}

Status Dispatcher::Run() {
  double drain_deadline = -1;
  for (;;) {
    // While a submitted campaign is being planned, the admin socket owes that request its
    // reply (REP alternates strictly), so no other request is read meanwhile.
    const bool admin_readable = admin_ && !pending_submit_.valid();
    std::array<zmq::pollitem_t, 2> items{{{router_.handle(), 0, ZMQ_POLLIN, 0},
                                          {admin_ ? admin_.handle() : nullptr, 0,
                                           static_cast<short>(admin_readable ? ZMQ_POLLIN : 0),
                                           0}}};
    const auto wait = std::chrono::milliseconds(std::min<int64_t>(options_.heartbeat_ms / 4, 50));
    try {
      zmq::poll(items.data(), admin_ ? 2 : 1, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::Internal(std::string("poll: ") + e.what());
    }
    // One store transaction per pass: results arrive in bursts, and a commit per message would
    // cap throughput at the disk's commit rate.
    Status batch = store_.BeginBatch();
    if (!batch.ok()) spdlog::error("controller: store: {}", batch.ToString());
    if (items[0].revents & ZMQ_POLLIN) ReceiveAgentMessages();
    Tick();
    AddActiveJobs();
    Dispatch();
    CheckCampaigns();
    if (batch.ok()) {
      Status committed = store_.CommitBatch();
      if (!committed.ok()) {
        spdlog::error("controller: store: {}", committed.ToString());
        ReloadAfterFailedCommit();
      }
    }
    Flush();
    // Outside the batch: an admin reply (a submitted campaign's id, say) must not go out
    // before what it reports is committed. Each admin write is its own transaction.
    ServeAdmin(admin_readable && (items[1].revents & ZMQ_POLLIN) != 0);
    if (LoopEnds(&drain_deadline)) break;
  }
  // Tell agents to reconnect later rather than wait out their liveness.
  for (const auto& [identity, agent] : agents_) {
    SendTo(identity, Command::kDisconnect, Encode(DisconnectMsg{"controller stopping"}));
  }
  // Let the last ACKs and DISCONNECTs leave before the socket closes.
  router_.set(zmq::sockopt::linger, 500);
  return Status::OK();
}

}  // namespace wattfleet
