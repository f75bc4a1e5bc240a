#include "wattfleet/dispatch/admin_protocol.h"

#include <array>
#include <utility>

#include "wattfleet/common/enum_names.h"

namespace wattfleet {
namespace {

constexpr EnumNames<AdminOp, 3> kOps{
    {{AdminOp::kSubmit, "submit"}, {AdminOp::kStatus, "status"}, {AdminOp::kCancel, "cancel"}}};

Status Bad(const std::string& what) {
  return Status::InvalidArgument("bad admin request: " + what);
}

}  // namespace

std::string_view AdminOpName(AdminOp op) { return NameIn(kOps, op); }

std::optional<AdminOp> ParseAdminOp(std::string_view name) { return ParseIn(kOps, name); }

nlohmann::json AdminRequest::ToJson() const {
  nlohmann::json j = {{"version", kAdminProtocolVersion}, {"op", AdminOpName(op)}};
  switch (op) {
    case AdminOp::kSubmit:
      j["yaml"] = yaml;
      j["path"] = path;
      break;
    case AdminOp::kCancel:
      j["id"] = campaign_id;
      break;
    case AdminOp::kStatus:
      break;
  }
  return j;
}

Result<AdminRequest> ParseAdminRequest(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Bad("not a JSON object");
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer()) {
    return Bad("admin protocol version 1 (no \"version\"); this controller speaks version " +
               std::to_string(kAdminProtocolVersion) + ": use a wattfleet of the same version");
  }
  if (version->get<int64_t>() != kAdminProtocolVersion) {
    return Bad("admin protocol version " + std::to_string(version->get<int64_t>()) +
               "; this controller speaks version " + std::to_string(kAdminProtocolVersion));
  }
  const auto op = j.find("op");
  if (op == j.end() || !op->is_string()) return Bad("no \"op\"");
  const std::optional<AdminOp> parsed = ParseAdminOp(op->get<std::string>());
  if (!parsed) return Bad("unknown admin op '" + op->get<std::string>() + "'");
  AdminRequest r;
  r.op = *parsed;
  switch (r.op) {
    case AdminOp::kSubmit: {
      const auto yaml = j.find("yaml");
      if (yaml == j.end() || !yaml->is_string()) return Bad("submit without \"yaml\" text");
      r.yaml = yaml->get<std::string>();
      const auto path = j.find("path");
      r.path = path != j.end() && path->is_string() ? path->get<std::string>() : "campaign";
      break;
    }
    case AdminOp::kCancel: {
      const auto id = j.find("id");
      if (id == j.end() || !id->is_number_integer()) return Bad("cancel without an integer \"id\"");
      r.campaign_id = id->get<int64_t>();
      break;
    }
    case AdminOp::kStatus:
      break;
  }
  return r;
}

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadRequest: return "bad_request";
    case ErrorKind::kFailed: return "failed";
  }
  return "failed";
}

nlohmann::json ErrorReply(ErrorKind kind, const std::string& error) {
  return {{"ok", false}, {"error_kind", ErrorKindName(kind)}, {"error", error}};
}

nlohmann::json ErrorReply(const Status& status) {
  const bool theirs = status.code() == StatusCode::kInvalidArgument ||
                      status.code() == StatusCode::kNotFound;
  return ErrorReply(theirs ? ErrorKind::kBadRequest : ErrorKind::kFailed,
                    theirs ? status.message() : status.ToString());
}

Status ReplyStatus(const nlohmann::json& reply) {
  if (!reply.is_object()) return Status::Corruption("the controller's reply is not an object");
  if (reply.value("ok", false)) return Status::OK();
  const std::string error = reply.value("error", std::string("unknown error"));
  // A version-1 controller says whose fault it was with the exit code as a number.
  const bool bad_request =
      reply.contains("error_kind")
          ? reply.value("error_kind", std::string()) == ErrorKindName(ErrorKind::kBadRequest)
          : reply.value("code", 1) == 2;
  return bad_request ? Status::InvalidArgument(error) : Status::Internal(error);
}

namespace {

// A successful reply's campaign id and its job count (the integer `count`); Corruption naming
// the `op`'s reply where either is missing.
Result<std::pair<int64_t, int64_t>> IdAndCount(const nlohmann::json& reply, const char* count,
                                               const char* op) {
  WF_RETURN_IF_ERROR(ReplyStatus(reply));
  const auto id = reply.find("id");
  const auto n = reply.find(count);
  if (id == reply.end() || !id->is_number_integer() || n == reply.end() ||
      !n->is_number_integer()) {
    return Status::Corruption(std::string("the controller's ") + op +
                              " reply lacks its id or job count");
  }
  return std::make_pair(id->get<int64_t>(), n->get<int64_t>());
}

}  // namespace

nlohmann::json SubmitReply::ToJson() const {
  return {{"ok", true}, {"id", campaign_id}, {"name", name}, {"jobs", jobs}};
}

Result<SubmitReply> SubmitReply::FromJson(const nlohmann::json& reply) {
  WF_ASSIGN_OR_RETURN(const auto id_jobs, IdAndCount(reply, "jobs", "submit"));
  return SubmitReply{id_jobs.first, reply.value("name", std::string()), id_jobs.second};
}

nlohmann::json CancelReply::ToJson() const {
  return {{"ok", true}, {"id", campaign_id}, {"cancelled_jobs", cancelled_jobs}};
}

Result<CancelReply> CancelReply::FromJson(const nlohmann::json& reply) {
  WF_ASSIGN_OR_RETURN(const auto id_jobs, IdAndCount(reply, "cancelled_jobs", "cancel"));
  return CancelReply{id_jobs.first, id_jobs.second};
}

}  // namespace wattfleet
