// Handing jobs out: which agent may take which queued job (selectors, retry preference, fair
// per-campaign queues), leases, and the outbox whose JOBs and ACKs leave only after the
// store batch of the loop pass has committed.
#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include "wattfleet/dispatch/dispatcher.h"

namespace wattfleet {

bool Dispatcher::Matches(const AgentState& agent, const JobSpec& job) {
  if (job.selectors.empty()) return true;
  const std::string& device = agent.ready.device;
  const std::string accelerator = device.substr(0, device.find(':'));
  for (const AgentSelector& s : job.selectors) {
    if (!s.name_glob.empty() && ::fnmatch(s.name_glob.c_str(), agent.ready.name.c_str(), 0) != 0) {
      continue;
    }
    if (!s.accelerator.empty() && s.accelerator != accelerator) continue;
    if (!s.sensor.empty() && s.sensor != agent.ready.sensor) continue;
    return true;
  }
  return false;
}

void Dispatcher::Dispatch() {
  if (stop_.load()) return;  // draining: nothing new goes out
  const int64_t now_ms = clock_.UnixMillis();
  const double now = clock_.NowSeconds();
  for (auto& [identity, agent] : agents_) {
    auto q = queues_.find(agent.ready.device_class);
    if (q == queues_.end()) continue;
    // Other agents of this class, for "retry preferably elsewhere"; found only when a retry
    // needs them.
    std::vector<const AgentState*> peers;
    bool peers_known = false;
    auto other_agents = [&]() -> const std::vector<const AgentState*>& {
      if (!peers_known) {
        for (const auto& [other_id, other] : agents_) {
          if (other_id != identity && other.ready.device_class == agent.ready.device_class) {
            peers.push_back(&other);
          }
        }
        peers_known = true;
      }
      return peers;
    };
    while (static_cast<int32_t>(agent.in_flight.size()) < agent.ready.prefetch &&
           !q->second.empty()) {
      auto judge = [&](int64_t id) {
        auto j = jobs_.find(id);
        if (j == jobs_.end() || j->second.job.state != JobState::kQueued) {
          return JobQueue::Verdict::kDrop;  // ended or already leased
        }
        const JobEntry& e = j->second;
        if (!Matches(agent, e.job.spec)) return JobQueue::Verdict::kSkip;
        if (e.tried.count(agent.ready.name)) {
          for (const AgentState* p : other_agents()) {
            if (!e.tried.count(p->ready.name) && Matches(*p, e.job.spec)) {
              return JobQueue::Verdict::kSkip;  // someone else may succeed where it did not
            }
          }
        }
        return JobQueue::Verdict::kTake;
      };
      std::optional<int64_t> next = q->second.Next(judge);
      if (!next) break;
      const int64_t id = *next;
      JobEntry& e = jobs_.at(id);
      const int32_t attempt = e.job.spec.attempt + 1;
      // A prefetched job waits behind the ones already held: its lease covers that wait.
      const int64_t lease_ms =
          std::max<int64_t>(e.job.spec.lease_ms, 1000) *
          static_cast<int64_t>(agent.in_flight.size() + 1);
      Status s = store_.MarkLeased(id, attempt, agent.ready.name, now_ms + lease_ms);
      // No longer queued in the store: the agent's slot goes to the next job.
      if (ForgottenAsTaken(s, id)) continue;
      if (!s.ok()) {
        // Back at the head of its queue; the next pass tries again.
        spdlog::error("controller: store: {}", s.ToString());
        q->second.PushFront(e.job.spec.campaign_id, id);
        return;
      }
      e.job.spec.attempt = attempt;
      Defer(identity, Command::kJob, Encode(e.job.spec), id);
      e.job.state = JobState::kLeased;
      e.job.agent = agent.ready.name;
      e.holders[attempt] = agent.ready.name;
      e.identity = identity;
      e.deadline = now + lease_ms / 1000.0;
      e.tried.insert(agent.ready.name);
      agent.in_flight.insert(id);
      agent.last_sent = now;
    }
  }
}

void Dispatcher::NoteEnded(int64_t job_id) {
  auto it = jobs_.find(job_id);
  if (it != jobs_.end() && options_.job_source) options_.job_source->JobEnded(it->second.job.spec);
}

void Dispatcher::AddActiveJobs() {
  JobSource* source = options_.job_source;
  if (!source || source->idle()) return;
  for (ActiveJob& added : source->Run()) {
    const int64_t id = added.spec.job_id;
    if (jobs_.count(id)) continue;
    JobEntry e;
    e.job = std::move(added);
    queues_[e.job.spec.device_class].PushBack(e.job.spec.campaign_id, id);
    ++active_per_campaign_[e.job.spec.campaign_id];
    jobs_.emplace(id, std::move(e));
    ++counters_.jobs_added;
  }
  counters_.jobs_active.store(static_cast<int64_t>(jobs_.size()));
}

void Dispatcher::Defer(const std::string& identity, Command command, std::string body,
                       int64_t job_id) {
  outbox_.push_back(Outgoing{identity, command, std::move(body), job_id});
}

void Dispatcher::Flush() {
  std::vector<Outgoing> out;
  out.swap(outbox_);
  std::set<std::string> unreachable;
  for (Outgoing& o : out) {
    if (unreachable.count(o.identity)) {
      if (o.command == Command::kJob) Requeue(o.job_id, "agent unreachable", /*spend=*/false);
      continue;
    }
    if (SendTo(o.identity, o.command, std::move(o.body))) continue;
    if (o.command == Command::kJob) {
      // It never left: the lease is undone without spending an attempt.
      Requeue(o.job_id, "send failed", /*spend=*/false);
      unreachable.insert(o.identity);
    }
  }
  for (const std::string& identity : unreachable) DropAgent(identity, "unreachable");
}

void Dispatcher::ReloadAfterFailedCommit() {
  spdlog::error("controller: a store batch failed to commit; reloading jobs from the store");
  outbox_.clear();
  jobs_.clear();
  queues_.clear();
  active_per_campaign_.clear();
  for (auto& [identity, agent] : agents_) agent.in_flight.clear();
  Status s = LoadJobs();
  if (!s.ok()) spdlog::error("controller: store: {}", s.ToString());
}

}  // namespace wattfleet
