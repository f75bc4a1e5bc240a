// The dispatcher's admin socket: requests from the CLI (submit, status, cancel; the protocol
// is admin_protocol.h), answered on the dispatcher's own thread so that the store has one
// user.
#include <spdlog/spdlog.h>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/dispatch/admin_protocol.h"
#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/plan/planner.h"
#include "wattfleet/common/sensor_character_json.h"

namespace wattfleet {

void Dispatcher::Reply(const nlohmann::json& reply) {
  try {
    admin_.send(zmq::buffer(reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
                zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    spdlog::error("controller: admin reply not sent: {}", e.what());
  }
}

void Dispatcher::HandleAdmin() {
  zmq::message_t request;
  if (!admin_.recv(request, zmq::recv_flags::dontwait)) return;
  nlohmann::json reply;
  try {
    Result<AdminRequest> req = ParseAdminRequest(request.to_string());
    if (!req.ok()) {
      ++counters_.malformed;
      reply = ErrorReply(req.status());
      // The exit code a version-1 CLI reads, so that it exits 2 and shows why.
      reply["code"] = 2;
    } else {
      switch (req->op) {
        case AdminOp::kSubmit:
          StartSubmit(*req);  // answered by FinishSubmit
          return;
        case AdminOp::kStatus:
          reply = AdminStatus();
          break;
        case AdminOp::kCancel:
          reply = AdminCancel(req->campaign_id);
          break;
      }
    }
  } catch (const std::exception& e) {
    // A REP socket that owes a reply reads nothing more: answer, whatever happened.
    reply = ErrorReply(ErrorKind::kFailed, std::string("admin request failed: ") + e.what());
  }
  Reply(reply);
}

void Dispatcher::StartSubmit(const AdminRequest& req) {
  std::string yaml = req.yaml;
  std::string path = req.path;
  // Parsing and planning touch neither the store nor the sockets.
  const PlanLimits limits{options_.max_campaign_jobs};
  pending_submit_ = std::async(
      std::launch::async,
      [yaml = std::move(yaml), path = std::move(path), limits,
       open = options_.open_submit_store]() -> Result<Submitted> {
        Submitted s;
        WF_ASSIGN_OR_RETURN(Campaign campaign, ParseCampaign(yaml, path));
        WF_ASSIGN_OR_RETURN(s.plan, MakePlan(campaign, limits));
        if (open) {
          // Storing failed is not the campaign's fault: kFailed, not a bad request.
          auto store = open();
          if (!store.ok()) return Status::Internal(store.status().message());
          auto id = (*store)->CreateCampaign(s.plan, &s.job_ids);
          if (!id.ok()) return Status::Internal(id.status().ToString());
          s.campaign_id = *id;
        }
        return s;
      });
}

void Dispatcher::QueueNewCampaign(const Submitted& s) {
  if (options_.only_campaign != 0 && s.campaign_id != options_.only_campaign) return;
  for (size_t i = 0; i < s.plan.jobs.size() && i < s.job_ids.size(); ++i) {
    const int64_t id = s.job_ids[i];
    if (jobs_.count(id)) continue;
    JobEntry e;
    e.job.spec = s.plan.jobs[i];
    e.job.spec.job_id = id;
    e.job.spec.campaign_id = s.campaign_id;
    e.job.spec.attempt = 0;
    e.job.state = JobState::kQueued;
    queues_[e.job.spec.device_class].PushBack(s.campaign_id, id);
    ++active_per_campaign_[s.campaign_id];
    jobs_.emplace(id, std::move(e));
  }
  counters_.jobs_active.store(static_cast<int64_t>(jobs_.size()));
}

// Without a connection of its own for submits, the plan is stored here, on this thread.
Status Dispatcher::StoreHere(Submitted* s) {
  if (s->campaign_id != 0) return Status::OK();
  WF_ASSIGN_OR_RETURN(s->campaign_id, store_.CreateCampaign(s->plan, &s->job_ids));
  return Status::OK();
}

void Dispatcher::FinishSubmit() {
  // get() leaves the future invalid, so the admin socket is read again; whatever happened on
  // the planning thread, the request is answered.
  Result<Submitted> submitted = [&]() -> Result<Submitted> {
    try {
      return pending_submit_.get();
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("cannot plan the campaign: ") + e.what());
    }
  }();
  nlohmann::json reply;
  try {
    if (!submitted.ok()) {
      const bool ours = submitted.status().code() == StatusCode::kInternal;
      reply = ErrorReply(ours ? ErrorKind::kFailed : ErrorKind::kBadRequest,
                         submitted.status().message());
    } else if (submitted->campaign_id == 0 && stop_.load()) {
      reply = ErrorReply(ErrorKind::kFailed, "the controller is stopping");
    } else if (Status stored = StoreHere(&*submitted); !stored.ok()) {
      reply = ErrorReply(ErrorKind::kFailed, stored.ToString());
    } else {
      // Stored already (its jobs run on the next start if this one is stopping).
      const Plan& plan = submitted->plan;
      if (!stop_.load()) QueueNewCampaign(*submitted);
      spdlog::info("controller: campaign {} '{}' submitted: {} jobs", submitted->campaign_id,
                   plan.campaign.name, plan.jobs.size());
      reply = SubmitReply{submitted->campaign_id, plan.campaign.name,
                          static_cast<int64_t>(plan.jobs.size())}
                  .ToJson();
    }
  } catch (const std::exception& e) {
    // A REP socket that owes a reply reads nothing more: answer, whatever happened.
    reply = ErrorReply(ErrorKind::kFailed, std::string("submit failed: ") + e.what());
  }
  Reply(reply);
}

nlohmann::json Dispatcher::AdminStatus() {
  auto campaigns = store_.ListCampaigns();
  if (!campaigns.ok()) return ErrorReply(ErrorKind::kFailed, campaigns.status().ToString());
  nlohmann::json out = {{"ok", true}};
  out["campaigns"] = nlohmann::json::array();
  for (const auto& c : *campaigns) {
    out["campaigns"].push_back({{"id", c.id},
                                {"name", c.name},
                                {"state", c.state},
                                {"jobs", c.jobs},
                                {"flagged", c.flagged},
                                {"flags", c.flags}});
  }
  out["agents"] = nlohmann::json::array();
  const double now = clock_.NowSeconds();
  for (const auto& [identity, a] : agents_) {
    out["agents"].push_back({{"name", a.ready.name},
                             {"alive", true},
                             {"device_class", a.ready.device_class},
                             {"sensor", a.ready.sensor},
                             {"sensor_character", SensorCharacterJson(a.ready.sensor_character)},
                             {"sensor_summary", DescribeSensor(a.ready.sensor_character)},
                             {"running", a.in_flight.size()},
                             {"last_seen_s", now - a.last_seen}});
  }
  for (const auto& [name, a] : departed_) {
    out["agents"].push_back({{"name", name},
                             {"alive", false},
                             {"device_class", a.ready.device_class},
                             {"sensor", a.ready.sensor},
                             {"running", 0},
                             {"last_seen_s", now - a.last_seen},
                             {"dropped", a.why}});
  }
  auto quarantined = store_.ListQuarantined(100);
  if (!quarantined.ok()) return ErrorReply(ErrorKind::kFailed, quarantined.status().ToString());
  out["quarantined"] = nlohmann::json::array();
  for (const QuarantinedJob& q : *quarantined) {
    out["quarantined"].push_back({{"job_id", q.job_id},
                                  {"campaign", q.campaign_id},
                                  {"kind", q.kind},
                                  {"subject", q.subject},
                                  {"attempts", q.attempts},
                                  {"last_error", q.last_error}});
  }
  out["counters"] = {{"results_stored", counters_.results_stored.load()},
                     {"duplicates", counters_.results_duplicate.load()},
                     {"failures", counters_.failures.load()},
                     {"retries", counters_.retries.load()},
                     {"lease_expiries", counters_.lease_expiries.load()},
                     {"malformed", counters_.malformed.load()},
                     {"results_refused", counters_.results_refused.load()},
                     {"agents_refused", counters_.agents_refused.load()}};
  return out;
}

nlohmann::json Dispatcher::AdminCancel(int64_t id) {
  Status s = store_.CancelCampaign(id);
  if (!s.ok()) return ErrorReply(s);
  std::vector<int64_t> ended;
  for (const auto& [job_id, e] : jobs_) {
    if (e.job.spec.campaign_id == id) ended.push_back(job_id);
  }
  for (int64_t job_id : ended) EndJob(job_id);
  active_per_campaign_.erase(id);
  return CancelReply{id, static_cast<int64_t>(ended.size())}.ToJson();
}

}  // namespace wattfleet
