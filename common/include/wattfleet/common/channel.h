// One wattfleet message over a ZeroMQ socket, written once for both ends: the agent's DEALER
// and the controller's ROUTER. A message is the three frames of protocol.h (magic, command,
// body), behind the peer's routing id on a ROUTER. Nothing here blocks: sends are queued or
// refused, receives take what is waiting.
#pragma once

#include <optional>
#include <string>
#include <zmq.hpp>

#include "wattfleet/common/protocol.h"
#include "wattfleet/common/status.h"

namespace wattfleet::channel {

// Queues one message on a DEALER. False when the socket cannot take it now (its pipe is full:
// the peer is gone or not keeping up).
bool Send(zmq::socket_t& dealer, Command command, std::string body);
// Queues one message to `identity` on a ROUTER. False when it cannot be queued (a full pipe,
// or — under ZMQ_ROUTER_MANDATORY — a peer that is no longer connected).
bool SendTo(zmq::socket_t& router, const std::string& identity, Command command,
            std::string body);

// What one receive took.
struct Incoming {
  std::string identity;  // the sender's routing id (ROUTER sockets; empty on a DEALER)
  // The connection's ZAP User-Id (libzmq attaches it to every frame of a connection a ZAP
  // handler authenticated; the name a CURVE key is enrolled under); empty without one.
  std::string user_id;
  Result<Envelope> message;  // Corruption for frames that are no wattfleet message
};

enum class Side { kDealer, kRouter };

// One waiting message, or nullopt when none waits. An error when the socket itself failed
// (IOError with ZeroMQ's words).
Result<std::optional<Incoming>> Receive(zmq::socket_t& socket, Side side);

}  // namespace wattfleet::channel
