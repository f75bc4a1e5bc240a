#include "wattfleet/common/channel.h"

#include <array>
#include <iterator>
#include <string_view>
#include <vector>
#include <zmq_addon.hpp>

#include "wattfleet/common/peer_text.h"

namespace wattfleet::channel {

bool Send(zmq::socket_t& dealer, Command command, std::string body) {
  const auto frames = MakeFrames(command, std::move(body));
  std::array<zmq::const_buffer, 3> bufs{zmq::buffer(frames[0]), zmq::buffer(frames[1]),
                                        zmq::buffer(frames[2])};
  try {
    return zmq::send_multipart(dealer, bufs, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

bool SendTo(zmq::socket_t& router, const std::string& identity, Command command,
            std::string body) {
  const auto frames = MakeFrames(command, std::move(body));
  std::array<zmq::const_buffer, 4> bufs{zmq::buffer(identity), zmq::buffer(frames[0]),
                                        zmq::buffer(frames[1]), zmq::buffer(frames[2])};
  try {
    return zmq::send_multipart(router, bufs, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    // EHOSTUNREACH under router_mandatory: the peer is gone.
    return false;
  }
}

Result<std::optional<Incoming>> Receive(zmq::socket_t& socket, Side side) {
  // The protocol's shape: the routing id (on a ROUTER) and three frames, the body at most
  // kMaxBodyBytes. libzmq bounds each frame (ZMQ_MAXMSGSIZE) but not how many a message
  // has: frames past the shape are read one by one and let go, never kept, and the message
  // is refused.
  const size_t max_frames = (side == Side::kRouter ? 1 : 0) + 3;
  const size_t max_bytes = kMaxBodyBytes + kMaxAgentNameBytes + 1024;
  std::vector<zmq::message_t> frames;
  size_t count = 0, bytes = 0;
  std::string user;
  try {
    for (bool more = true; more; ++count) {
      zmq::message_t frame;
      // The first frame may be absent (nothing waits); the rest of a message never is.
      if (!socket.recv(frame, count == 0 ? zmq::recv_flags::dontwait : zmq::recv_flags::none)) {
        return std::optional<Incoming>();
      }
      more = frame.more();
      bytes += frame.size();
      // The ROUTER's routing-id frame carries no metadata; the peer's own frames do.
      if (user.empty()) {
        if (const char* u = zmq_msg_gets(frame.handle(), "User-Id")) user = u;
      }
      if (count < max_frames && bytes <= max_bytes) frames.push_back(std::move(frame));
    }
  } catch (const zmq::error_t& e) {
    return Status::IOError(std::string("receive: ") + e.what());
  }
  // Built once, in place: this runs for every message the controller receives.
  size_t first = 0;
  std::string identity;
  if (side == Side::kRouter && !frames.empty()) {
    identity = frames[0].to_string();
    first = 1;
  }
  if (count > max_frames || bytes > max_bytes) {
    return std::optional<Incoming>(Incoming{
        std::move(identity), std::move(user),
        Status::Corruption("a message of " + std::to_string(count) + " frames and " +
                           std::to_string(bytes) + " bytes, beyond the protocol's " +
                           std::to_string(max_frames) + " frames: dropped")});
  }
  std::vector<std::string_view> views;
  views.reserve(frames.size() - first);
  for (size_t i = first; i < frames.size(); ++i) {
    views.emplace_back(frames[i].data<char>(), frames[i].size());
  }
  Incoming in{std::move(identity), std::move(user), ParseFrames(views)};
  return std::optional<Incoming>(std::move(in));
}

}  // namespace wattfleet::channel
