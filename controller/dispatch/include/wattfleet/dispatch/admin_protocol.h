// The admin protocol between the CLI and a running controller (`wattfleet submit`, `status`,
// `cancel` against `wattfleet serve --admin`): one JSON request and one JSON reply over a
// REQ/REP socket (docs/design/protocol.md, "The admin socket"). Typed on both ends: the
// operations are an enum, every request carries the protocol version, and a failed reply says
// whose fault it was (ErrorKind), from which the CLI takes its exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "wattfleet/common/status.h"

namespace wattfleet {

// Version 1 had no version field, bare operation strings and the CLI's exit code as a number
// in the reply; a controller answers it with an error that an old CLI still shows.
inline constexpr int kAdminProtocolVersion = 2;

// The largest admin request read: a campaign (at most 1 MiB) escaped into JSON. A larger
// frame is dropped by libzmq before it is read into memory.
inline constexpr int64_t kMaxAdminRequestBytes = 4 << 20;
// The ZAP domain of a CURVE-authenticated admin socket (agents use "wattfleet").
inline constexpr const char* kAdminZapDomain = "wattfleet-admin";

enum class AdminOp { kSubmit, kStatus, kCancel };
std::string_view AdminOpName(AdminOp op);  // "submit" | "status" | "cancel"
std::optional<AdminOp> ParseAdminOp(std::string_view name);

struct AdminRequest {
  AdminOp op = AdminOp::kStatus;
  // kSubmit: the campaign file's text and its path (for messages).
  std::string yaml;
  std::string path;
  // kCancel.
  int64_t campaign_id = 0;

  nlohmann::json ToJson() const;
};
// InvalidArgument naming what is wrong: not JSON, another version, an unknown operation, a
// field missing or of the wrong type.
Result<AdminRequest> ParseAdminRequest(std::string_view text);

// Whose fault a failed request was.
enum class ErrorKind {
  kBadRequest,  // the request (the campaign, the id): the CLI exits 2
  kFailed,      // the controller could not do it: the CLI exits 1
};
std::string_view ErrorKindName(ErrorKind kind);  // "bad_request" | "failed"

// A failed reply: {"ok": false, "error_kind": ..., "error": ...}.
nlohmann::json ErrorReply(ErrorKind kind, const std::string& error);
// A Status as a failed reply: InvalidArgument and NotFound are the request's fault.
nlohmann::json ErrorReply(const Status& status);
// A reply as a Status: OK, InvalidArgument (bad request) or Internal (failed). An unreadable
// reply is Corruption.
Status ReplyStatus(const nlohmann::json& reply);

// kSubmit's reply.
struct SubmitReply {
  int64_t campaign_id = 0;
  std::string name;
  int64_t jobs = 0;
  nlohmann::json ToJson() const;
  static Result<SubmitReply> FromJson(const nlohmann::json& reply);
};

// kCancel's reply.
struct CancelReply {
  int64_t campaign_id = 0;
  int64_t cancelled_jobs = 0;
  nlohmann::json ToJson() const;
  static Result<CancelReply> FromJson(const nlohmann::json& reply);
};

// kStatus's reply is one document (campaigns, agents, quarantined jobs, counters) read by
// `wattfleet status --json` users as it is; its fields are listed in docs/design/protocol.md.

}  // namespace wattfleet
