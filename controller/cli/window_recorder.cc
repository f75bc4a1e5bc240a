// Windows stored as results of `window` jobs (window_recorder.h).
#include "window_recorder.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/common/clock.h"
#include "wattfleet/common/version.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet {
namespace {

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= kMaxCampaignNameLength &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '.' || c == '-';
         });
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

Result<std::unique_ptr<WindowRecorder>> WindowRecorder::Open(const WindowDatasetOptions& o) {
  if (!ValidName(o.campaign)) {
    return Status::InvalidArgument("campaign '" + o.campaign + "': must be 1 to " +
                                   std::to_string(kMaxCampaignNameLength) +
                                   " letters, digits, '_', '.' or '-'");
  }
  if (!ValidName(o.device_class)) {
    return Status::InvalidArgument("device class '" + o.device_class +
                                   "': must be letters, digits, '_', '.' or '-'");
  }
  WindowDatasetOptions options = o;
  if (options.agent.empty()) options.agent = HostName();
  auto store = OpenStore(options.db);
  if (!store.ok()) return store.status().WithContext("dataset");
  // A campaign of no architectures: its jobs are the windows, added as they end.
  Plan plan;
  plan.campaign.name = options.campaign;
  plan.campaign.devices.push_back(DeviceSelector{options.device_class, "", "", ""});
  plan.campaign.source_text = "# windows of a program's own code (docs/python.md)\nname: " +
                              options.campaign + "\ndevices: [{class: " +
                              options.device_class + "}]\n";
  WF_ASSIGN_OR_RETURN(const int64_t id, (*store)->CreateCampaign(plan));
  return std::make_unique<WindowRecorder>(std::move(store).value(), std::move(options), id);
}

WindowRecorder::WindowRecorder(std::unique_ptr<Store> store, WindowDatasetOptions options,
                               int64_t campaign)
    : store_(std::move(store)), options_(std::move(options)), campaign_id_(campaign) {}

WindowRecorder::~WindowRecorder() {
  if (Status s = store_->FinishCampaign(campaign_id_); !s.ok()) {
    spdlog::warn("windows: campaign {} not finished: {}", campaign_id_, s.message());
  }
}

Result<int64_t> WindowRecorder::Record(const WindowReading& w, std::optional<double> idle_w) {
  JobSpec job;
  job.kind = JobKind::kWindow;
  job.subject = w.name;
  job.device_class = options_.device_class;
  job.batch = 1;  // one window is one "iteration"
  job.graph.name = w.name;
  WF_ASSIGN_OR_RETURN(const ActiveJob added, store_->AddJob(campaign_id_, job));
  const int64_t job_id = added.spec.job_id;
  WF_RETURN_IF_ERROR(store_->MarkLeased(job_id, 1, options_.agent,
                                        SystemClock().UnixMillis() + 60000));
  JobResult r;
  r.job_id = job_id;
  r.attempt = 1;
  r.outcome = Outcome::kDone;
  Measurement& m = r.measurement;
  m.sensor = w.sensor;
  m.domain = w.domain;
  m.energy_is_estimate = w.energy_is_estimate;
  m.energy_model = w.energy_model;
  m.iterations_per_window = 1;
  m.repeats = {{1, w.time_s, w.energy_j}};
  m.time_per_iter_s = w.time_s;
  m.energy_per_iter_j = w.energy_j;
  // Without a dynamic figure (no idle, or at or below it) 0: the export shows it as missing.
  m.energy_dynamic_per_iter_j = w.energy_dynamic_j.value_or(0.0);
  m.idle_w = idle_w.value_or(0);
  m.ci_met = true;  // one window: there is no confidence target to miss
  m.energy_bound_j = w.energy_bound_j;
  if (w.interference) m.interference = *w.interference;
  m.flags = w.flags;
  m.agent_name = options_.agent;
  m.agent_version = std::string(Version());
  m.device = options_.device_class;
  WF_ASSIGN_OR_RETURN(const RecordOutcome outcome, store_->RecordResult(r, options_.agent));
  if (outcome != RecordOutcome::kStored) {
    return Status::Internal("window '" + w.name + "' was not stored: its job already had a "
                            "result");
  }
  return job_id;
}

}  // namespace wattfleet
