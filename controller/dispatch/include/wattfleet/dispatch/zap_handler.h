// ZAP (ZeroMQ RFC 27) handler admitting only CURVE clients whose public key is enrolled in an
// allowlist directory. It runs its own thread with a REP socket bound to
// inproc://zeromq.zap.01 on the controller's context, so it must be started before the
// ROUTER binds with curve_server set.
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "wattfleet/common/status.h"

namespace wattfleet {

class ZapHandler {
 public:
  // Reads the allowlist (DIR/*.key); the directory is read again on every request so that an
  // agent enrolled (or removed) while the controller runs takes effect at its next connect.
  // Connections in the admin domain (kAdminZapDomain) are checked against `admins_dir`
  // instead; with none, every one is refused.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   const std::string& agents_dir,
                                                   const std::string& admins_dir = "");
  ~ZapHandler();  // stops and joins the thread
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  int64_t accepted() const { return accepted_.load(); }
  int64_t denied() const { return denied_.load(); }

 private:
  ZapHandler(zmq::context_t& context, std::string agents_dir, std::string admins_dir);
  void Loop();
  zmq::context_t& context_;
  std::string agents_dir_;
  std::string admins_dir_;
  zmq::socket_t socket_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> denied_{0};
  std::thread thread_;
};

}  // namespace wattfleet
