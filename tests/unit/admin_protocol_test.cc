// Tests of the admin protocol's requests and replies (controller/dispatch/admin_protocol.cc).
#include "wattfleet/dispatch/admin_protocol.h"

#include <gtest/gtest.h>

namespace wattfleet {
namespace {

TEST(AdminProtocol, EveryRequestRoundTrips) {
  AdminRequest submit;
  submit.op = AdminOp::kSubmit;
  submit.yaml = "name: x\n";
  submit.path = "x.yaml";
  auto s = ParseAdminRequest(submit.ToJson().dump());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->op, AdminOp::kSubmit);
  EXPECT_EQ(s->yaml, "name: x\n");
  EXPECT_EQ(s->path, "x.yaml");

  auto c = ParseAdminRequest(AdminRequest{AdminOp::kCancel, "", "", 17}.ToJson().dump());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->op, AdminOp::kCancel);
  EXPECT_EQ(c->campaign_id, 17);

  auto st = ParseAdminRequest(AdminRequest{AdminOp::kStatus, "", "", 0}.ToJson().dump());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->op, AdminOp::kStatus);

  for (AdminOp op : {AdminOp::kSubmit, AdminOp::kStatus, AdminOp::kCancel}) {
    EXPECT_EQ(ParseAdminOp(AdminOpName(op)), op);
  }
}

TEST(AdminProtocol, BadRequestsSayWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not a JSON object"},
      {R"({"op": "status"})", "version 1"},
      {R"({"version": 99, "op": "status"})", "version 99"},
      {R"({"version": 2, "op": "drop"})", "unknown admin op 'drop'"},
      {R"({"version": 2})", "no \"op\""},
      {R"({"version": 2, "op": "submit"})", "yaml"},
      {R"({"version": 2, "op": "cancel", "id": "3"})", "integer \"id\""},
  };
  for (const auto& [text, says] : cases) {
    auto r = ParseAdminRequest(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find(says), std::string::npos) << r.status().message();
  }
}

TEST(AdminProtocol, AFailedReplySaysWhoseFaultItWas) {
  EXPECT_EQ(ReplyStatus(ErrorReply(Status::InvalidArgument("bad yaml"))).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ReplyStatus(ErrorReply(Status::NotFound("no campaign 4"))).code(),
            StatusCode::kInvalidArgument);
  const Status failed = ReplyStatus(ErrorReply(Status::IOError("disk full")));
  EXPECT_EQ(failed.code(), StatusCode::kInternal);
  EXPECT_NE(failed.message().find("disk full"), std::string::npos);
  EXPECT_EQ(ErrorReply(ErrorKind::kBadRequest, "x")["error_kind"], "bad_request");
  EXPECT_EQ(ReplyStatus(nlohmann::json::array()).code(), StatusCode::kCorruption);
  // A version-1 controller's refusals carry the exit code as a number.
  EXPECT_EQ(ReplyStatus({{"ok", false}, {"code", 2}, {"error", "bad yaml"}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ReplyStatus({{"ok", false}, {"code", 1}, {"error", "disk"}}).code(),
            StatusCode::kInternal);
}

TEST(AdminProtocol, TypedRepliesRoundTripAndRefuseWhatTheyLack) {
  auto s = SubmitReply::FromJson(SubmitReply{7, "quickstart", 28}.ToJson());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->campaign_id, 7);
  EXPECT_EQ(s->name, "quickstart");
  EXPECT_EQ(s->jobs, 28);
  auto c = CancelReply::FromJson(CancelReply{7, 3}.ToJson());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->cancelled_jobs, 3);
  EXPECT_EQ(SubmitReply::FromJson({{"ok", true}}).status().code(), StatusCode::kCorruption);
  // A failed reply is that failure, not a malformed success.
  EXPECT_EQ(CancelReply::FromJson(ErrorReply(Status::NotFound("no campaign 9"))).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace wattfleet
