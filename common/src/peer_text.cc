#include "wattfleet/common/peer_text.h"

#include <initializer_list>
#include <utility>

namespace wattfleet {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

Status CheckAgentName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("agent name is empty");
  if (name.size() > kMaxAgentNameBytes) {
    return Status::InvalidArgument("agent name is " + std::to_string(name.size()) +
                                   " bytes long; at most " + std::to_string(kMaxAgentNameBytes));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c <= 0x20 || c >= 0x7f || c == '/') {
      return Status::InvalidArgument(
          "agent name '" + Escaped(name.substr(0, 64)) + "' has " +
          (c == '/' ? std::string("'/'") : Escaped(name.substr(i, 1))) + " at character " +
          std::to_string(i + 1) + ": only printable ASCII without space or '/' is allowed");
    }
  }
  return Status::OK();
}

Status CheckPeerField(std::string_view field, std::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes) {
    return Status::InvalidArgument(std::string(field) + " is " + std::to_string(value.size()) +
                                   " bytes long; at most " + std::to_string(max_bytes));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (IsControl(static_cast<unsigned char>(value[i]))) {
      return Status::InvalidArgument(std::string(field) + " '" + Escaped(value, 64) +
                                     "' has a control character at byte " +
                                     std::to_string(i + 1));
    }
  }
  return Status::OK();
}

namespace {

Status CheckAll(std::initializer_list<std::pair<const char*, const std::string*>> fields) {
  for (const auto& [field, value] : fields) WF_RETURN_IF_ERROR(CheckPeerField(field, *value));
  return Status::OK();
}

}  // namespace

Status CheckPeerText(const ReadyMsg& r) {
  return CheckAll({{"device class", &r.device_class},
                   {"device", &r.device},
                   {"sensor", &r.sensor},
                   {"hostname", &r.hostname},
                   {"agent version", &r.agent_version},
                   {"torch version", &r.torch_version},
                   {"sensor method", &r.sensor_character.method},
                   {"sensor note", &r.sensor_character.note}});
}

Status CheckPeerText(const Measurement& m) {
  WF_RETURN_IF_ERROR(CheckAll({{"sensor", &m.sensor},
                               {"domain", &m.domain},
                               {"device", &m.device},
                               {"agent version", &m.agent_version},
                               {"torch version", &m.torch_version},
                               {"telemetry source", &m.telemetry_source},
                               {"energy model", &m.energy_model}}));
  // Flags are names: printable, short, and without the ';' that joins them in a column.
  if (m.flags.size() > kMaxPeerFlags) {
    return Status::InvalidArgument(std::to_string(m.flags.size()) + " quality flags; at most " +
                                   std::to_string(kMaxPeerFlags));
  }
  for (const std::string& flag : m.flags) {
    WF_RETURN_IF_ERROR(CheckPeerField("quality flag", flag, kMaxPeerFlagBytes));
    if (flag.empty() || flag.find_first_of("; ") != std::string::npos) {
      return Status::InvalidArgument("quality flag \"" + Escaped(flag, 64) +
                                     "\" is not a name (empty, or with ';' or a space)");
    }
  }
  return Status::OK();
}

std::string Escaped(std::string_view text, size_t max_bytes) {
  static const char* hex = "0123456789abcdef";
  const bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out;
  out.reserve(text.size() + 3);
  for (unsigned char c : text) {
    if (IsControl(c)) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace wattfleet
