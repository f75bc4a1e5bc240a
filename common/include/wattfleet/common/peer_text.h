// Text that arrives from peers (agent names, device and sensor names, versions, error
// messages) ends up in log lines, terminal tables, CSV cells, ZeroMQ routing ids and file
// names. A newline or an ANSI escape in it could forge a log line or repaint a terminal, so
// names are checked where they enter, and everything else a peer says is escaped before it
// is printed or stored.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "wattfleet/common/job.h"
#include "wattfleet/common/protocol.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// An agent name is its ZeroMQ routing id, its spool folder, the stem of its enrolled key file
// and a column in every table: 1 to this many characters.
inline constexpr size_t kMaxAgentNameBytes = 128;
// Other short strings a peer reports (device, sensor, hostname, versions).
inline constexpr size_t kMaxPeerFieldBytes = 256;
// A measurement's quality flags: how many, and how long each name may be.
inline constexpr size_t kMaxPeerFlags = 16;
inline constexpr size_t kMaxPeerFlagBytes = 32;
// Error messages a peer reports for a failed job: longer ones are cut.
inline constexpr size_t kMaxPeerErrorBytes = 4096;

// Printable ASCII without space or '/', 1 to kMaxAgentNameBytes long. The error names the
// first offending character by position.
Status CheckAgentName(std::string_view name);
// Printable (no control character, no DEL), at most `max_bytes`; `field` names it in the
// error. Bytes >= 0x80 are allowed (UTF-8 host names and versions).
Status CheckPeerField(std::string_view field, std::string_view value,
                      size_t max_bytes = kMaxPeerFieldBytes);
// CheckPeerField over every short text a peer reports in a READY (device class, device,
// sensor, host name, versions) or in a measurement (sensor, domain, device, versions,
// telemetry source); the first that fails.
Status CheckPeerText(const ReadyMsg& ready);
Status CheckPeerText(const Measurement& m);

// `text` with every control byte (and DEL) written as \xNN and cut to `max_bytes` (marked
// with "..."): safe to print on a terminal or to log.
std::string Escaped(std::string_view text, size_t max_bytes = kMaxPeerErrorBytes);

}  // namespace wattfleet
