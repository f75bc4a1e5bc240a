#include "wattfleet/common/channel.h"

#include <array>
#include <iterator>
#include <string_view>
#include <vector>
#include <zmq_addon.hpp>

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
  std::vector<zmq::message_t> frames;
  try {
    if (!zmq::recv_multipart(socket, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      return std::optional<Incoming>();
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
  std::vector<std::string_view> views;
  views.reserve(frames.size() - first);
  for (size_t i = first; i < frames.size(); ++i) {
    views.emplace_back(frames[i].data<char>(), frames[i].size());
  }
  std::string user;
  if (!frames.empty()) {
    if (const char* u = zmq_msg_gets(frames.back().handle(), "User-Id")) user = u;
  }
  Incoming in{std::move(identity), std::move(user), ParseFrames(views)};
  return std::optional<Incoming>(std::move(in));
}

}  // namespace wattfleet::channel
