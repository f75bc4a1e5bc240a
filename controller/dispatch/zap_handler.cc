#include "wattfleet/dispatch/zap_handler.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <chrono>
#include <map>
#include <vector>
#include <zmq_addon.hpp>

#include "wattfleet/common/curve_keys.h"
#include "wattfleet/dispatch/admin_protocol.h"

namespace wattfleet {
namespace {

// RFC 27: the endpoint libzmq sends ZAP requests to, on the socket's own context.
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// How long one poll waits: bounds how late the destructor's stop is noticed.
constexpr std::chrono::milliseconds kPollInterval{100};
// A refused agent reconnects (and is refused) again and again: one warning per peer per this
// many seconds keeps the log readable while still saying how often it happened.
constexpr double kDenialLogInterval_s = 10.0;

struct Decision {
  bool allow = false;
  std::string reason;   // status text
  std::string user_id;  // the enrolled agent name when allowed
};

std::string Z85(const std::string& binary_key) {
  char text[41];
  if (binary_key.size() != 32 ||
      zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(binary_key.data()), 32) == nullptr) {
    return "?";
  }
  return std::string(text, 40);
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, std::string agents_dir, std::string admins_dir)
    : context_(context), agents_dir_(std::move(agents_dir)), admins_dir_(std::move(admins_dir)) {}

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                      const std::string& agents_dir,
                                                      const std::string& admins_dir) {
  // A missing or broken allowlist is an operator error: say so at startup rather than by
  // refusing every agent later.
  auto allowlist = ReadAllowlist(agents_dir);
  if (!allowlist.ok()) return allowlist.status().WithContext("--agents-dir");
  if (allowlist->empty()) {
    spdlog::warn("controller: no agent enrolled in {} (no *.key file): every agent is refused "
                 "until one is",
                 agents_dir);
  } else {
    spdlog::info("controller: {} agent key(s) enrolled in {}", allowlist->size(), agents_dir);
  }
  // The constructor is private (only Start makes a running handler), so make_unique cannot
  // reach it; the pointer is owned from the first instant.
  if (!admins_dir.empty()) {
    auto admins = ReadAllowlist(admins_dir);
    if (!admins.ok()) return admins.status().WithContext("--admin-keys");
    spdlog::info("controller: {} administrator key(s) enrolled in {}", admins->size(), admins_dir);
  }
  std::unique_ptr<ZapHandler> handler(new ZapHandler(context, agents_dir, admins_dir));
  try {
    handler->socket_ = zmq::socket_t(handler->context_, zmq::socket_type::rep);
    handler->socket_.set(zmq::sockopt::linger, 0);
    handler->socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("ZAP handler: cannot bind ") + kZapEndpoint + ": " +
                            e.what());
  }
  // The socket was made on this thread and is used only by the handler's thread from now on
  // (thread creation is the memory barrier libzmq asks for when a socket changes threads).
  handler->thread_ = std::thread([h = handler.get()] { h->Loop(); });
  return handler;
}

ZapHandler::~ZapHandler() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  // socket_ closes after this body, on this thread, once the loop no longer touches it.
}

namespace {

// One ZAP request's answer: refused with a reason unless it is a CURVE handshake whose key is
// enrolled in `allowlist_dir`. `key_z85` gets the client's key where it sent one, `detail`
// why the allowlist could not be read where it could not.
Decision Decide(const std::vector<zmq::message_t>& request, const std::string& allowlist_dir,
                std::string* key_z85, std::string* detail) {
  auto frame = [&](size_t i) { return i < request.size() ? request[i].to_string() : ""; };
  const std::string mechanism = frame(5);
  Decision d;
  if (request.size() < 6 || frame(0) != "1.0") {
    d.reason = "malformed ZAP request";
  } else if (mechanism != "CURVE") {
    d.reason = "mechanism " + mechanism + " not allowed: CURVE only";
  } else if (request.size() != 7 || request[6].size() != 32) {
    d.reason = "malformed CURVE credentials";
  } else if (allowlist_dir.empty()) {
    d.reason = "no administrator keys enrolled";
  } else {
    *key_z85 = Z85(request[6].to_string());
    // Read on every request so enrolment and removal take effect without a restart; the
    // directory holds a handful of small files and handshakes are rare.
    auto allowlist = ReadAllowlist(allowlist_dir);
    if (!allowlist.ok()) {
      d.reason = "allowlist unavailable";
      *detail = allowlist.status().message();
    } else if (auto enrolled = allowlist->find(*key_z85); enrolled != allowlist->end()) {
      d.allow = true;
      d.reason = "OK";
      // Every message of this connection carries it as its "User-Id" property: the
      // dispatcher holds each one to the name the key was enrolled under.
      d.user_id = enrolled->second;
    } else {
      d.reason = "key not enrolled";
    }
  }
  return d;
}

// Refusals logged at most once per peer (address and key) every kDenialLogInterval_s, with a
// count of those left unlogged since: a peer retrying in a loop must not flood the log.
class DenialLog {
 public:
  void Refused(bool admin, const std::string& address, const std::string& key_z85,
               const std::string& reason, const std::string& detail) {
    // Peers from ever-new addresses must not grow this without bound.
    if (peers_.size() > 1024) peers_.clear();
    Peer& log = peers_[address + " " + key_z85];
    const double now = MonotonicSeconds();
    if (now - log.last_logged < kDenialLogInterval_s) {
      ++log.suppressed;
      return;
    }
    const std::string more =
        log.suppressed > 0
            ? " (" + std::to_string(log.suppressed) + " more refusals since last logged)"
            : std::string();
    const std::string key = key_z85.empty() ? std::string("(none)") : key_z85;
    if (detail.empty()) {
      spdlog::warn("controller: refused {} at {} with key {}: {}{}",
                   admin ? "administrator" : "agent", address, key, reason, more);
    } else {
      // Not the agent's fault: every agent is refused until the directory is fixed.
      spdlog::error("controller: refused {} at {} with key {}: cannot read the {} "
                    "allowlist: {}{}",
                    admin ? "administrator" : "agent", address, key,
                    admin ? "administrators'" : "agents'", detail, more);
    }
    log.last_logged = now;
    log.suppressed = 0;
  }

 private:
  struct Peer {
    double last_logged = -1e9;
    int64_t suppressed = 0;
  };
  std::map<std::string, Peer> peers_;
};

}  // namespace

void ZapHandler::Loop() {
  DenialLog denials;
  while (!stop_.load()) {
    std::vector<zmq::message_t> request;
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, kPollInterval);
      if (!(item.revents & ZMQ_POLLIN)) continue;
      if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
        continue;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;  // the context is going away: nothing left to guard
      spdlog::error("controller: ZAP handler: {}", e.what());
      continue;
    }

    // Frames: version, request id, domain, address, identity, mechanism, credentials...
    auto frame = [&](size_t i) { return i < request.size() ? request[i].to_string() : ""; };
    const std::string request_id = frame(1);
    const bool admin = frame(2) == kAdminZapDomain;
    const std::string address = frame(3);
    std::string key_z85, detail;
    const Decision d = Decide(request, admin ? admins_dir_ : agents_dir_, &key_z85, &detail);
    if (d.allow) {
      accepted_.fetch_add(1);
      spdlog::debug("controller: CURVE key {} from {} admitted", key_z85, address);
    } else {
      denied_.fetch_add(1);
      denials.Refused(admin, address, key_z85, d.reason, detail);
    }

    // A REP socket must answer every request it received, whatever it held.
    try {
      const std::string status_code = d.allow ? "200" : "400";
      std::vector<zmq::const_buffer> reply{zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                           zmq::buffer(status_code), zmq::buffer(d.reason),
                                           zmq::buffer(d.user_id), zmq::const_buffer()};
      (void)zmq::send_multipart(socket_, reply);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("controller: ZAP handler: cannot reply: {}", e.what());
    }
  }
}

}  // namespace wattfleet
