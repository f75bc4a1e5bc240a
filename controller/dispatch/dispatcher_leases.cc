// Leases and liveness: jobs that end or go back to the queue (a lease that expired, an agent
// that went silent, disconnected or cannot be reached), and the periodic checks that find
// them.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "wattfleet/dispatch/dispatcher.h"

namespace wattfleet {

bool Dispatcher::ForgottenAsTaken(const Status& s, int64_t job_id) {
  if (s.code() != StatusCode::kAlreadyExists) return false;
  spdlog::info("controller: job {} dropped: {}", job_id, s.message());
  EndJob(job_id);
  return true;
}

void Dispatcher::EndJob(int64_t job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  const int64_t campaign = it->second.job.spec.campaign_id;
  if (!it->second.identity.empty()) {
    auto a = agents_.find(it->second.identity);
    if (a != agents_.end()) a->second.in_flight.erase(job_id);
  }
  if (!it->second.holders.empty()) {
    constexpr size_t kEndedHoldersKept = 1 << 16;
    ended_holders_[job_id] = std::move(it->second.holders);
    ended_order_.push_back(job_id);
    while (ended_order_.size() > kEndedHoldersKept) {
      ended_holders_.erase(ended_order_.front());
      ended_order_.pop_front();
    }
  }
  jobs_.erase(it);  // queues drop it lazily
  if (--active_per_campaign_[campaign] <= 0) campaigns_changed_ = true;
  counters_.jobs_active.store(static_cast<int64_t>(jobs_.size()));
}

const std::string* Dispatcher::HolderOf(int64_t job_id, int32_t attempt) const {
  const std::map<int32_t, std::string>* holders = nullptr;
  if (auto j = jobs_.find(job_id); j != jobs_.end()) {
    holders = &j->second.holders;
  } else if (auto e = ended_holders_.find(job_id); e != ended_holders_.end()) {
    holders = &e->second;
  }
  if (holders == nullptr) return nullptr;
  auto h = holders->find(attempt);
  return h == holders->end() ? nullptr : &h->second;
}

void Dispatcher::Requeue(int64_t job_id, const std::string& why, bool spend) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.job.state != JobState::kLeased) return;
  JobEntry& e = it->second;
  // The store holds the lease under this number, whether or not the attempt counts.
  const int32_t leased = e.job.spec.attempt;
  const int32_t spent = spend ? leased : leased - 1;
  // A lost lease is retryable: it ends the job only once the attempts are spent.
  if (FinalStateAfter(Outcome::kLost, spent, options_.max_attempts)) {
    JobResult r;
    r.job_id = job_id;
    r.attempt = leased;
    r.outcome = Outcome::kLost;
    r.error = why + " (after " + std::to_string(spent) + " attempts)";
    Status s = store_.RecordFailure(r, "", JobState::kQuarantined);
    if (!s.ok()) {
      // Memory follows the store: the job stays leased and the next tick tries again.
      spdlog::error("controller: store: {}", s.ToString());
      return;
    }
    spdlog::warn("controller: job {} quarantined: {}", job_id, r.error);
    ++counters_.jobs_quarantined;
    NoteEnded(job_id);
    EndJob(job_id);
    return;
  }
  Status s = store_.Requeue(job_id, leased, why);
  // The store no longer holds this lease: its result was stored, or another controller
  // sharing the store leased the job again after this one's copy of the lease ran out.
  if (ForgottenAsTaken(s, job_id)) return;
  if (!s.ok()) {
    spdlog::error("controller: store: {}", s.ToString());
    return;
  }
  e.job.spec.attempt = spent;  // the next MarkLeased stores the corrected count
  if (!e.identity.empty()) {
    auto a = agents_.find(e.identity);
    if (a != agents_.end()) a->second.in_flight.erase(job_id);
  }
  ++counters_.retries;
  e.job.state = JobState::kQueued;
  e.identity.clear();
  queues_[e.job.spec.device_class].PushFront(e.job.spec.campaign_id, job_id);
}

void Dispatcher::DropAgent(const std::string& identity, const std::string& why) {
  auto it = agents_.find(identity);
  if (it == agents_.end()) return;
  spdlog::warn("controller: agent {} dropped: {}", it->second.ready.name, why);
  departed_[it->second.ready.name] = DepartedAgent{it->second.ready, it->second.last_seen, why};
  constexpr size_t kDepartedKept = 64;
  if (departed_.size() > kDepartedKept) {
    departed_.erase(std::min_element(departed_.begin(), departed_.end(),
                                     [](const auto& a, const auto& b) {
                                       return a.second.last_seen < b.second.last_seen;
                                     }));
  }
  const std::set<int64_t> held = it->second.in_flight;
  agents_.erase(it);
  for (int64_t id : held) Requeue(id, "agent lost: " + why);
  counters_.agents_alive.store(static_cast<int64_t>(agents_.size()));
}

void Dispatcher::Tick() {
  const double now = clock_.NowSeconds();
  const double hb = options_.heartbeat_ms / 1000.0;
  if (last_tick_ >= 0 && now - last_tick_ > hb) {
    // This loop was busy (a long store write, a large submit): the agents' heartbeats may be
    // waiting unread, so their silence is ours, not theirs.
    for (auto& [identity, agent] : agents_) agent.last_seen = std::max(agent.last_seen, now);
  }
  last_tick_ = now;
  if (now - last_gauges_ >= 0.2) {
    last_gauges_ = now;
    int64_t queued = 0, leased = 0;
    for (const auto& [id, e] : jobs_) {
      (e.job.state == JobState::kLeased ? leased : queued) += 1;
    }
    counters_.jobs_queued.store(queued);
    counters_.jobs_leased.store(leased);
    if (zap_) counters_.auth_denied.store(zap_->denied());
  }
  std::vector<std::string> dead;
  for (auto& [identity, agent] : agents_) {
    if (now - agent.last_seen > hb * options_.liveness) {
      dead.push_back(identity);
    } else if (now - agent.last_sent >= hb) {
      SendTo(identity, Command::kHeartbeat, EncodeEmpty());
      agent.last_sent = now;
    }
  }
  for (const auto& id : dead) DropAgent(id, "silent for " + std::to_string(options_.liveness) + " heartbeats");

  // Leases are minutes long: scanning every job ten times a second is plenty.
  if (now - last_lease_scan_ < 0.1) return;
  last_lease_scan_ = now;
  std::vector<int64_t> expired;
  for (const auto& [id, e] : jobs_) {
    if (e.job.state == JobState::kLeased && e.deadline < now) expired.push_back(id);
  }
  for (int64_t id : expired) {
    ++counters_.lease_expiries;
    Requeue(id, "lease expired");
  }
}

}  // namespace wattfleet
