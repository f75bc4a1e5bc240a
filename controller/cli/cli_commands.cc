#include "cli_commands.h"
#include "plan_history.h"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include <nlohmann/json.hpp>

#include "wattfleet/common/text.h"
#include "wattfleet/campaign/architecture_source.h"
#include "wattfleet/campaign/campaign.h"
#include "wattfleet/active/active_profiler.h"
#include "wattfleet/common/curve_keys.h"
#include "wattfleet/dispatch/admin_protocol.h"
#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/store/export.h"
#include "wattfleet/dispatch/metrics_server.h"
#include "wattfleet/plan/planner.h"
#include "progress.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/store_open.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

int ExitCode(const Status& s) { return s.code() == StatusCode::kInvalidArgument ? 2 : 1; }

// The ids `campaign` names in `campaigns`: an id, else every campaign of that name. The error
// says `what` was asked ("--campaign x") and lists what `where` holds.
Result<std::vector<int64_t>> CampaignIds(const std::vector<CampaignStatus>& campaigns,
                                         const std::string& campaign, const std::string& what,
                                         const std::string& where) {
  if (const std::optional<int64_t> id = ParseInt(campaign)) {
    for (const CampaignStatus& c : campaigns) {
      if (c.id == *id) return std::vector<int64_t>{*id};
    }
  }
  std::vector<int64_t> ids;
  for (const CampaignStatus& c : campaigns) {
    if (c.name == campaign) ids.push_back(c.id);
  }
  if (!ids.empty()) return ids;
  std::string known;
  for (size_t i = 0; i < campaigns.size() && i < 20; ++i) {
    known += (i ? ", " : "") + campaigns[i].name + " (#" + std::to_string(campaigns[i].id) + ")";
  }
  if (campaigns.size() > 20) known += ", ...";
  return Status::InvalidArgument(what + ": no campaign of that name or id in " + where +
                                 (known.empty() ? " (it holds none)"
                                                : "; its campaigns: " + known));
}

// The campaigns of a controller's status reply: id, name and state.
std::vector<CampaignStatus> CampaignsOf(const nlohmann::json& status) {
  std::vector<CampaignStatus> out;
  for (const auto& c : status.value("campaigns", nlohmann::json::array())) {
    CampaignStatus s;
    s.id = c.value("id", int64_t{0});
    s.name = c.value("name", "");
    s.state = c.value("state", "");
    out.push_back(std::move(s));
  }
  return out;
}

int Fail(const Status& s) {
  std::cerr << "wattfleet: " << s.message() << "\n";
  return ExitCode(s);
}

std::atomic<Dispatcher*> g_serving{nullptr};
extern "C" void OnServeStop(int) {
  if (Dispatcher* d = g_serving.load()) d->RequestStop();
}

// One request/reply with the controller's admin socket, bounded in time.
Result<nlohmann::json> Ask(const AdminClient& admin, const AdminRequest& request,
                           double timeout_s = 10) {
  const std::string& endpoint = admin.endpoint;
  zmq::context_t ctx(1);
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  if (IsIpcEndpoint(endpoint)) {
    // Whoever owns the folder owns the door: one another user made first could answer
    // status with made-up figures and read the campaigns submitted to it.
    WF_RETURN_IF_ERROR(CheckPrivateIpc("--admin", endpoint));
  } else if (endpoint.rfind("tcp://", 0) != 0) {
    return Status::InvalidArgument("--admin " + endpoint + ": the admin socket is ipc:// or "
                                   "tcp://");
  } else {
    // A TCP admin socket admits enrolled administrators only (CURVE).
    if (admin.key_file.empty() || admin.controller_key_file.empty()) {
      return Status::InvalidArgument(
          "--admin " + endpoint + ": a TCP admin socket needs --admin-key (this "
          "administrator's NAME.key_secret) and --controller-key (controller.key)");
    }
    WF_ASSIGN_OR_RETURN(CurveKeyPair mine, ReadCurveKeyPair(admin.key_file));
    if (mine.secret_key.empty()) {
      return Status::InvalidArgument("--admin-key " + admin.key_file + ": holds no secret key");
    }
    WF_ASSIGN_OR_RETURN(CurveKeyPair controller, ReadCurvePublicKey(admin.controller_key_file));
    req.set(zmq::sockopt::curve_serverkey, controller.public_key);
    req.set(zmq::sockopt::curve_publickey, mine.public_key);
    req.set(zmq::sockopt::curve_secretkey, mine.secret_key);
  }
  try {
    req.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("--admin " + endpoint + ": " + e.what());
  }
  req.send(zmq::buffer(request.ToJson().dump()), zmq::send_flags::none);
  zmq::pollitem_t item{req.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)));
  if (!(item.revents & ZMQ_POLLIN)) {
    return Status::Unavailable("no answer from the controller at " + endpoint +
                               " (is `wattfleet serve` running, as this user, with that "
                               "--admin?)");
  }
  zmq::message_t reply;
  if (!req.recv(reply)) return Status::Unavailable("no answer from " + endpoint);
  try {
    return nlohmann::json::parse(reply.to_string());
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("unreadable answer from the controller: ") + e.what());
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json LayerJson(const ArchNode& node, const LayerFeatures& f) {
  return {{"name", node.name},
          {"type", std::string(LayerTypeName(node.spec.type))},
          {"input_shape", node.spec.input_shape},
          {"output_shape", f.output_shape},
          {"macs", f.macs},
          {"flops", f.flops},
          {"params", f.params},
          {"key", CanonicalKey(node.spec)}};
}

// Jobs that have ended (any state but planned, queued and leased) of all the campaign's jobs,
// with the count of each state and of the agents alive.
void UpdateCampaignProgress(const nlohmann::json& campaign, const nlohmann::json& agents,
                            Progress* progress) {
  int64_t total = 0, ended = 0;
  std::string states;
  for (const auto& [state, n] : campaign["jobs"].items()) {
    const int64_t count = n.get<int64_t>();
    total += count;
    if (state != "planned" && state != "queued" && state != "leased") ended += count;
    states += (states.empty() ? "" : ", ") + state + " " + std::to_string(count);
  }
  int64_t alive = 0;
  for (const auto& a : agents) alive += a.value("alive", false) ? 1 : 0;
  progress->SetTotal(total);
  progress->Update(ended, "jobs ended (" + states + "), " + Count(alive, "agent") + " alive");
}

}  // namespace

int CmdServe(const ServeArgs& args) {
  auto store = OpenStore(args.db);
  // A PostgreSQL store's errors name the server themselves (without the password).
  if (!store.ok()) {
    return Fail(store.status().WithContext(BackendFor(args.db).local ? "--db " + args.db : "--db"));
  }
  DispatcherOptions options;
  options.bind = args.bind;
  options.admin = args.admin;
  options.admin_keys_dir = args.admin_keys;
  options.heartbeat_ms = args.heartbeat_ms;
  options.liveness = args.liveness;
  options.max_attempts = args.max_attempts;
  options.max_campaign_jobs = args.max_campaign_jobs;
  options.curve_secret_file = args.curve_secret;
  options.agents_dir = args.agents_dir;
  // Submitted campaigns are stored on a connection of their own, off the dispatcher's thread.
  options.open_submit_store = [db = args.db]() {
    StoreOpenOptions existing;
    existing.create_if_missing = false;
    return OpenStore(db, existing);
  };
  ActiveProfiler active(**store);  // plan.active: probes chosen while campaigns run
  options.job_source = &active;
  Dispatcher dispatcher(options, **store);
  Status s = dispatcher.Start();
  if (!s.ok()) return Fail(s);
  // Started before the ready file is written so that the file can carry its port; kept alive
  // until Run() returns, since it reads the dispatcher's counters.
  std::unique_ptr<MetricsServer> metrics;
  if (!args.metrics.empty()) {
    auto started = MetricsServer::Start(args.metrics, dispatcher.counters());
    if (!started.ok()) {
      const Status& err = started.status();
      return Fail(Status::InvalidArgument("--metrics: " + err.message()));
    }
    metrics = std::move(started).value();
    spdlog::info("controller: metrics on http://{}:{}/metrics",
                 args.metrics.substr(0, args.metrics.rfind(':')), metrics->port());
  }
  // Before the ready file: whoever reads it may stop the controller at once, and a SIGTERM
  // must drain it then too (RequestStop before Run makes Run drain and return).
  g_serving.store(&dispatcher);
  std::signal(SIGTERM, OnServeStop);
  std::signal(SIGINT, OnServeStop);
  if (!args.ready_file.empty()) {
    // Written whole, then renamed: a reader never sees half of it.
    const std::string tmp = args.ready_file + ".tmp";
    {
      nlohmann::json ready{{"endpoint", dispatcher.endpoint()},
                           {"admin", dispatcher.admin_endpoint()},
                           {"pid", ::getpid()}};
      if (metrics) ready["metrics_port"] = metrics->port();
      std::ofstream f(tmp);
      f << ready.dump() << "\n";
    }
    if (std::rename(tmp.c_str(), args.ready_file.c_str()) != 0) {
      g_serving.store(nullptr);  // the dispatcher goes away with this return
      return Fail(Status::InvalidArgument("--ready-file " + args.ready_file + ": cannot write"));
    }
  }
  spdlog::info("controller: serving {} (admin {})", dispatcher.endpoint(),
               dispatcher.admin_endpoint());
  s = dispatcher.Run();
  g_serving.store(nullptr);
  if (!s.ok()) return Fail(s);
  spdlog::info("controller: stopped");
  return 0;
}

int CmdRun(const EmbeddedOptions& options) {
  EmbeddedOptions with_display = options;
  with_display.progress_bar = ::isatty(STDOUT_FILENO) == 1;
  Status s = RunEmbedded(with_display, std::cout);
  return s.ok() ? 0 : Fail(s);
}

int CmdSubmit(const std::string& campaign_path, const AdminClient& admin, bool wait, bool json) {
  // Validated here first, so that errors name this machine's file and nothing is sent.
  auto campaign = LoadCampaignFile(campaign_path);
  if (!campaign.ok()) return Fail(campaign.status());
  AdminRequest submit;
  submit.op = AdminOp::kSubmit;
  submit.yaml = ReadFile(campaign_path);
  submit.path = campaign_path;
  auto reply = Ask(admin, submit);
  if (!reply.ok()) return Fail(reply.status());
  auto submitted = SubmitReply::FromJson(*reply);
  if (!submitted.ok()) return Fail(submitted.status());
  const int64_t id = submitted->campaign_id;
  if (!json) std::cout << id << "\n";
  if (!wait) {
    if (json) std::cout << reply->dump() << "\n";
    return 0;
  }
  std::cout.flush();
  // stdout carries the id (or the document) that scripts read: progress lines go to stderr
  // unless stdout is a terminal, where a bar follows the id.
  Progress progress = MakeCliProgress("campaign " + std::to_string(id), submitted->jobs, json,
                                      std::cerr);
  // A campaign the controller no longer lists (its dataset replaced, say) ends the wait.
  int missing = 0;
  constexpr int kMissingPolls = 20;
  for (;;) {
    auto status = Ask(admin, AdminRequest{AdminOp::kStatus, "", "", 0});
    if (!status.ok()) {
      progress.Finish();
      return Fail(status.status());
    }
    if (Status st = ReplyStatus(*status); !st.ok()) {
      progress.Finish();
      return Fail(st);
    }
    bool listed = false;
    for (const auto& c : (*status)["campaigns"]) {
      if (c.value("id", int64_t{0}) != id) continue;
      listed = true;
      const std::string state = c.value("state", "");
      UpdateCampaignProgress(c, (*status)["agents"], &progress);
      if (state != "running") {
        progress.Finish();
        if (json) {
          std::cout << c.dump() << "\n";
        } else {
          std::cerr << "campaign " << id << " " << state << ": " << c["jobs"].dump() << "\n";
        }
        // As `run`: a campaign that ended with jobs unmeasured, or was cancelled, is not a
        // success.
        const auto& jobs = c["jobs"];
        const int64_t unmeasured = jobs.value("failed", int64_t{0}) +
                                   jobs.value("quarantined", int64_t{0}) +
                                   jobs.value("cancelled", int64_t{0});
        if (state != "done" || unmeasured > 0) {
          std::cerr << "wattfleet: campaign " << id << " ended " << state << " with "
                    << unmeasured << " job(s) unmeasured (wattfleet status shows why)\n";
          return 1;
        }
        return 0;
      }
    }
    if (!listed && ++missing >= kMissingPolls) {
      progress.Finish();
      std::cerr << "wattfleet: campaign " << id << " is no longer listed by the controller at "
                << admin.endpoint << "\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int CmdStatus(const std::optional<std::string>& campaign, const AdminClient& admin, bool json) {
  auto reply = Ask(admin, AdminRequest{AdminOp::kStatus, "", "", 0});
  if (!reply.ok()) return Fail(reply.status());
  Status s = ReplyStatus(*reply);
  if (!s.ok()) return Fail(s);
  nlohmann::json out = *reply;
  out.erase("ok");
  if (campaign) {
    // By id, or every campaign of that name.
    auto ids = CampaignIds(CampaignsOf(out), *campaign, "status " + *campaign,
                           "the controller at " + admin.endpoint);
    if (!ids.ok()) return Fail(ids.status());
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& c : out["campaigns"]) {
      const int64_t id = c.value("id", int64_t{0});
      if (std::find(ids->begin(), ids->end(), id) != ids->end()) kept.push_back(c);
    }
    out["campaigns"] = kept;
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-5s %-24s %-10s %s\n", "id", "campaign", "state", "jobs");
  for (const auto& c : out["campaigns"]) {
    std::string jobs;
    for (const auto& [state, n] : c["jobs"].items()) {
      jobs += (jobs.empty() ? "" : ", ") + state + " " + std::to_string(n.get<int64_t>());
    }
    std::printf("%-5lld %-24s %-10s %s\n", static_cast<long long>(c.value("id", int64_t{0})),
                c.value("name", "").c_str(), c.value("state", "").c_str(), jobs.c_str());
    // Measured, but not to be trusted blindly: how many and why (docs/measurement.md).
    if (const int64_t flagged = c.value("flagged", int64_t{0}); flagged > 0) {
      std::string why;
      for (const auto& [flag, n] : c["flags"].items()) {
        why += (why.empty() ? "" : ", ") + flag + " " + std::to_string(n.get<int64_t>());
      }
      std::printf("      %lld measurement(s) flagged (%s); fit leaves them out\n",
                  static_cast<long long>(flagged), why.c_str());
    }
  }
  if (!out["quarantined"].empty()) {
    std::printf("\nquarantined jobs (not dispatched again):\n");
    for (const auto& q : out["quarantined"]) {
      std::printf("  job %lld (campaign %lld, %s, %d attempts): %s\n",
                  static_cast<long long>(q.value("job_id", int64_t{0})),
                  static_cast<long long>(q.value("campaign", int64_t{0})),
                  q.value("kind", "").c_str(), q.value("attempts", 0),
                  q.value("last_error", "").c_str());
    }
  }
  std::printf("\n%-28s %-6s %-8s %-10s %-8s %s\n", "agent", "alive", "class", "sensor",
              "running", "last seen");
  for (const auto& a : out["agents"]) {
    // A dropped agent says why it was dropped.
    const std::string why = a.value("dropped", "");
    std::printf("%-28s %-6s %-8s %-10s %-8lld %.1f s ago%s\n", a.value("name", "").c_str(),
                a.value("alive", false) ? "yes" : "no", a.value("device_class", "").c_str(),
                a.value("sensor", "").c_str(), static_cast<long long>(a.value("running", int64_t{0})),
                a.value("last_seen_s", 0.0), why.empty() ? "" : ("  (" + why + ")").c_str());
    // What its meter resolves (characterised when the agent started).
    if (const std::string sensor = a.value("sensor_summary", ""); !sensor.empty()) {
      std::printf("    sensor: %s\n", sensor.c_str());
    }
  }
  return 0;
}

int CmdCancel(const std::string& campaign, const AdminClient& admin, bool json) {
  // An id as it is; a name is the one running campaign of that name.
  int64_t id = 0;
  const size_t digits_from = !campaign.empty() && campaign[0] == '-' ? 1 : 0;
  if (campaign.size() > digits_from &&
      campaign.find_first_not_of("0123456789", digits_from) == std::string::npos) {
    // A number past int64 must not become another campaign's id.
    const std::optional<int64_t> number = ParseInt(campaign);
    if (!number || *number < 1) {
      return Fail(Status::InvalidArgument("cancel: '" + campaign + "' is not a campaign id (a "
                                          "whole number from 1 to " +
                                          std::to_string(INT64_MAX) + ")"));
    }
    id = *number;
  } else {
    auto status = Ask(admin, AdminRequest{AdminOp::kStatus, "", "", 0});
    if (!status.ok()) return Fail(status.status());
    if (Status st = ReplyStatus(*status); !st.ok()) return Fail(st);
    const std::vector<CampaignStatus> campaigns = CampaignsOf(*status);
    auto ids = CampaignIds(campaigns, campaign, "cancel " + campaign,
                           "the controller at " + admin.endpoint);
    if (!ids.ok()) return Fail(ids.status());
    std::vector<int64_t> running;
    std::string named;
    for (const CampaignStatus& c : campaigns) {
      if (std::find(ids->begin(), ids->end(), c.id) == ids->end()) continue;
      named += (named.empty() ? "#" : ", #") + std::to_string(c.id) + " " + c.state;
      if (c.state == "running") running.push_back(c.id);
    }
    if (running.size() != 1) {
      return Fail(Status::InvalidArgument(
          "cancel " + campaign + ": " +
          (running.empty() ? "no campaign of that name is running (" + named + ")"
                           : "several campaigns of that name are running (" + named +
                                 "): cancel one by its id")));
    }
    id = running.front();
  }
  auto reply = Ask(admin, AdminRequest{AdminOp::kCancel, "", "", id});
  if (!reply.ok()) return Fail(reply.status());
  auto cancelled = CancelReply::FromJson(*reply);
  if (!cancelled.ok()) return Fail(cancelled.status());
  if (json) {
    std::cout << nlohmann::json{{"id", cancelled->campaign_id},
                                {"cancelled_jobs", cancelled->cancelled_jobs}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "campaign " << id << " cancelled (" << Count(cancelled->cancelled_jobs, "job")
            << " no longer dispatched)\n";
  return 0;
}

int CmdPlan(const std::string& campaign_path, bool json, const std::string& history_db,
            int64_t max_campaign_jobs) {
  auto campaign = LoadCampaignFile(campaign_path);
  if (!campaign.ok()) return Fail(campaign.status());
  auto plan = MakePlan(*campaign, PlanLimits{max_campaign_jobs});
  if (!plan.ok()) return Fail(plan.status());
  // The device time: from the dataset's history with --db, else the protocol's minimum.
  PlanTimeEstimate time;
  time.seconds = plan->estimated_device_seconds;
  time.basis = "the protocol's minimum (warm-up, min_repeats + 1 windows of min_window_ms, "
               "cool-down per job); --db FILE estimates from a dataset's history";
  if (!history_db.empty()) {
    auto estimated = EstimatePlanTime(*plan, history_db);
    if (!estimated.ok()) return Fail(estimated.status().WithContext("--db"));
    time = *estimated;
  }
  const auto by_kind = plan->JobsByKind();
  if (json) {
    nlohmann::json archs = nlohmann::json::array();
    for (const Architecture& a : campaign->architectures) {
      const LayerFeatures t = a.Totals();
      archs.push_back({{"name", a.name}, {"family", a.family}, {"layers", a.nodes.size()},
                       {"macs", t.macs}, {"params", t.params}});
    }
    nlohmann::json out = {{"name", campaign->name},
                          {"architectures", campaign->architectures.size()},
                          {"architecture_list", archs},
                          {"layers_total", plan->layers_total},
                          {"layers_distinct", plan->layers.size()},
                          {"batch_sizes", campaign->Batches()},
                          {"jobs", by_kind},
                          {"jobs_total", plan->jobs.size()},
                          {"probe_kinds", plan->probe_kinds},
                          {"probe_kinds_skipped", plan->probe_kinds_skipped},
                          {"estimated_device_seconds", time.seconds},
                          {"estimate_basis", time.basis},
                          {"protocol_minimum_seconds", plan->estimated_device_seconds}};
    if (const auto& active = campaign->plan.active) {
      // `jobs` holds the seed: the controller adds probes up to the budget while it runs.
      out["active"] = {{"budget_jobs", active->budget_jobs},
                       {"target_rel_std", active->target_rel_std},
                       {"aim", active->aim == ActiveOptions::Aim::kGrid ? "grid" : "networks"},
                       {"probe_jobs_max", plan->ActiveProbeJobsMax()}};
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "campaign " << campaign->name << "\n"
            << "  architectures       " << campaign->architectures.size() << "\n"
            << "  layers (total)      " << plan->layers_total << "\n"
            << "  layers (distinct)   " << plan->layers.size() << "\n";
  std::cout << "  batches            ";
  for (int64_t b : campaign->Batches()) std::cout << " " << b;
  std::cout << "\n";
  for (const auto& [kind, n] : by_kind) std::cout << "  jobs: " << kind << "  " << n << "\n";
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.0f", time.seconds);
  std::cout << "  estimated device time " << seconds << " s on one agent (an estimate: "
            << time.basis << ")\n";
  for (const std::string& k : plan->probe_kinds) std::cout << "  THOR probe kind " << k << "\n";
  if (const auto& active = campaign->plan.active) {
    std::cout << "  active profiling: probe jobs are the seed; up to " << active->budget_jobs
              << " per kind and device class (" << plan->ActiveProbeJobsMax()
              << " in all) until the relative std is under " << active->target_rel_std << "\n";
  }
  // Long campaigns skip many architectures (every strided stem): a few lines say why, --json
  // lists them all.
  const size_t shown = std::min<size_t>(plan->probe_kinds_skipped.size(), 3);
  for (size_t i = 0; i < shown; ++i) {
    std::cout << "  no THOR probes for " << plan->probe_kinds_skipped[i] << "\n";
  }
  if (plan->probe_kinds_skipped.size() > shown) {
    std::cout << "  ... and " << plan->probe_kinds_skipped.size() - shown
              << " more architectures without THOR probes (see --json)\n";
  }
  for (const Architecture& a : campaign->architectures) {
    const LayerFeatures t = a.Totals();
    std::printf("  %-28s %3zu layers %14lld MACs %12lld params\n", a.name.c_str(),
                a.nodes.size(), static_cast<long long>(t.macs), static_cast<long long>(t.params));
  }
  return 0;
}

Result<std::vector<int64_t>> OpenDatasetCampaigns(const std::string& db,
                                                  const std::vector<std::string>& campaigns) {
  WF_RETURN_IF_ERROR(RequireExistingDataset(db));
  // These commands only read: a mistyped name must not become a new, empty dataset.
  StoreOpenOptions open;
  open.create_if_missing = false;
  auto store = OpenStore(db, open);
  // Both backends' errors name the dataset themselves (a URI without its password).
  if (!store.ok()) return store.status().WithContext("--db");
  std::vector<int64_t> ids;
  if (campaigns.empty()) return ids;
  WF_ASSIGN_OR_RETURN(const std::vector<CampaignStatus> listed, (*store)->ListCampaigns());
  for (const std::string& campaign : campaigns) {
    // An unknown campaign is a typo, not an empty export (as `status CAMPAIGN` says too).
    WF_ASSIGN_OR_RETURN(const std::vector<int64_t> of,
                        CampaignIds(listed, campaign, "--campaign " + campaign, DatasetLabel(db)));
    for (const int64_t id : of) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  }
  return ids;
}

Result<std::vector<ExportRow>> ReadExportRows(const std::string& db,
                                              const std::optional<std::string>& campaign) {
  // The Store upgrades an older dataset and is closed again; the rows come from the read
  // side, one snapshot for every campaign asked for.
  std::vector<std::string> asked;
  if (campaign) asked.push_back(*campaign);
  WF_ASSIGN_OR_RETURN(const std::vector<int64_t> ids, OpenDatasetCampaigns(db, asked));
  WF_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, OpenDatasetReader(db));
  if (!campaign) return reader->ExportRows(std::nullopt);
  std::vector<ExportRow> rows;
  for (const int64_t id : ids) {
    WF_ASSIGN_OR_RETURN(std::vector<ExportRow> of, reader->ExportRows(id));
    rows.insert(rows.end(), std::make_move_iterator(of.begin()), std::make_move_iterator(of.end()));
  }
  return rows;
}

int CmdExport(const std::string& db, const std::optional<std::string>& campaign,
              const std::string& format, const std::string& out) {
  auto rows = ReadExportRows(db, campaign);
  if (!rows.ok()) return Fail(rows.status());
  // `--out -`: the export on stdout, for a pipe; the count (a report, not data) on stderr
  // either way, as every command keeps stdout for what a script reads.
  if (out == "-") {
    if (format == "csv") {
      WriteCsv(*rows, std::cout);
    } else if (format == "jsonl") {
      WriteJsonLines(*rows, std::cout);
    } else {
      return Fail(Status::InvalidArgument("unknown export format '" + format +
                                          "' (expected csv or jsonl)"));
    }
    std::cout.flush();
    if (!std::cout) return Fail(Status::IOError("stdout: the export could not be written"));
    std::cerr << Count(static_cast<int64_t>(rows->size()), "measurement") << " written\n";
    return 0;
  }
  Status s = WriteExportFile(*rows, format, out);
  if (!s.ok()) return Fail(s);
  std::cerr << Count(static_cast<int64_t>(rows->size()), "measurement") << " written to " << out
            << "\n";
  return 0;
}

Result<nlohmann::json> InspectArchitecture(const ArchitectureSource& source) {
  WF_ASSIGN_OR_RETURN(const ResolvedArchitecture resolved, ResolveArchitecture(source));
  const Architecture& arch = resolved.architecture;
  nlohmann::json layers = nlohmann::json::array();
  for (const ArchNode& node : arch.nodes) {
    WF_ASSIGN_OR_RETURN(const LayerFeatures f, ComputeFeatures(node.spec));
    layers.push_back(LayerJson(node, f));
  }
  const LayerFeatures total = arch.Totals();
  return nlohmann::json{{"name", arch.name},     {"family", arch.family},
                        {"input_shape", arch.input_shape},
                        {"macs", total.macs},     {"flops", total.flops},
                        {"params", total.params}, {"layers", layers},
                        {"unsupported", resolved.unsupported}};
}

int CmdInspect(const ArchitectureSource& source, bool json) {
  auto inspected = InspectArchitecture(source);
  if (!inspected.ok()) return Fail(inspected.status());
  const nlohmann::json& doc = *inspected;
  if (json) {
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  const nlohmann::json& layers = doc["layers"];
  std::printf("%s (%s), input %s\n", doc["name"].get<std::string>().c_str(),
              doc["family"].get<std::string>().c_str(),
              ShapeToString(doc["input_shape"].get<Shape>()).c_str());
  std::printf("%-12s %-18s %-16s %-16s %14s %10s\n", "name", "type", "input", "output", "MACs",
              "params");
  for (const auto& l : layers) {
    std::printf("%-12s %-18s %-16s %-16s %14lld %10lld\n", l["name"].get<std::string>().c_str(),
                l["type"].get<std::string>().c_str(),
                ShapeToString(l["input_shape"].get<Shape>()).c_str(),
                ShapeToString(l["output_shape"].get<Shape>()).c_str(),
                static_cast<long long>(l["macs"].get<int64_t>()),
                static_cast<long long>(l["params"].get<int64_t>()));
  }
  std::printf("total: %lld MACs, %lld FLOPs, %lld params\n",
              static_cast<long long>(doc["macs"].get<int64_t>()),
              static_cast<long long>(doc["flops"].get<int64_t>()),
              static_cast<long long>(doc["params"].get<int64_t>()));
  if (!doc["unsupported"].empty()) {
    std::printf("unsupported operators (not in the layers or totals above):\n");
    for (const auto& op : doc["unsupported"]) {
      std::printf("  %s\n", op.get<std::string>().c_str());
    }
  }
  return 0;
}

int CmdInspectFamily(const std::string& family, bool json) {
  const std::map<std::string, std::string> params = FamilyParameters(family);
  if (params.empty()) {
    std::string known;
    for (const std::string& name : FamilyNames()) known += (known.empty() ? "" : ", ") + name;
    return Fail(Status::InvalidArgument("--family: unknown family '" + family + "'; known: " +
                                        known));
  }
  if (json) {
    nlohmann::json doc{{"family", family}, {"parameters", nlohmann::json::array()}};
    for (const auto& [name, help] : params) {
      doc["parameters"].push_back({{"name", name}, {"help", help}});
    }
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  std::printf("%s: the parameters of its sweeps\n", family.c_str());
  for (const auto& [name, help] : params) std::printf("  %-14s %s\n", name.c_str(), help.c_str());
  return 0;
}

}  // namespace wattfleet
