// Results and failures from agents: checked against the lease (only the agent an attempt was
// handed to may answer for it), stored once, acknowledged once stored (or when never
// storable, so that the agent's spool lets go), retried or ended.
#include <spdlog/spdlog.h>

#include "wattfleet/common/peer_text.h"
#include "wattfleet/dispatch/dispatcher.h"

namespace wattfleet {

void Dispatcher::HandleResult(const std::string& identity, const std::string& body, bool done) {
  auto result = DecodeJobResult(body);
  if (Malformed(result.status(), done ? "RESULT" : "NACK", identity)) return;
  auto agent = agents_.find(identity);
  if (agent == agents_.end()) {
    // Unknown peers must register first; their spool replays the result after WELCOME.
    SendTo(identity, Command::kDisconnect, Encode(DisconnectMsg{"not registered"}));
    return;
  }
  JobResult& r = *result;
  // What a peer says is printed by `status` and logged: never raw.
  r.error = Escaped(r.error);
  if (done != (r.outcome == Outcome::kDone)) {
    ++counters_.malformed;
    spdlog::warn("controller: {} from {} carries outcome {}; dropped", done ? "RESULT" : "NACK",
                 agent->second.ready.name, OutcomeName(r.outcome));
    return;
  }
  // The agent's slot frees when the job ends or is requeued (EndJob/Requeue), not on any
  // message: a stale attempt's answer must not free the slot of the attempt it now holds.
  if (!SenderHoldsAttempt(identity, agent->second.ready.name, r, done)) return;
  if (done) {
    StoreDone(identity, agent->second, r);
  } else {
    StoreFailure(identity, agent->second, r);
  }
}

bool Dispatcher::SenderHoldsAttempt(const std::string& identity, const std::string& name,
                                    const JobResult& r, bool done) {
  // A known holder that is not the sender makes this a forgery: refused, not acknowledged,
  // nothing changes. An attempt never handed out (a job no one leased, a made-up attempt) is
  // not stored either, but acknowledged, so that the sender's spool lets go of it.
  const std::string* holder = HolderOf(r.job_id, r.attempt);
  std::optional<std::string> recorded;
  if (holder == nullptr) {
    // Not in memory (this controller restarted since, or the job ended long ago): the dataset
    // keeps who held every attempt.
    auto stored = store_.LeaseHolder(r.job_id, r.attempt);
    if (!stored.ok()) {
      // Not acknowledged: the agent keeps it in its spool and sends it again.
      spdlog::error("controller: store: {}", stored.status().ToString());
      return false;
    }
    if (*stored) holder = &recorded.emplace(std::move(**stored));
  }
  if (holder != nullptr && *holder == name) return true;
  ++counters_.results_refused;
  if (holder != nullptr) {
    spdlog::warn("controller: refused {} from {} for job {} attempt {}, which was handed to {}",
                 done ? "RESULT" : "NACK", name, r.job_id, r.attempt, *holder);
    return false;
  }
  spdlog::warn("controller: {} from {} for job {} attempt {} not stored: this controller "
               "did not hand that attempt to it",
               done ? "RESULT" : "NACK", name, r.job_id, r.attempt);
  Defer(identity, Command::kAck, Encode(AckMsg{r.job_id, r.attempt}));
  return false;
}

void Dispatcher::StoreDone(const std::string& identity, const AgentState& agent,
                           const JobResult& r) {
  const std::string& name = agent.ready.name;
  const AckMsg ack{r.job_id, r.attempt};
  if (Status f = CheckPeerText(r.measurement); !f.ok()) {
    // Never storable: acknowledged so that the spool lets go of it, and counted.
    ++counters_.malformed;
    spdlog::warn("controller: result from {} for job {} not stored: {}", name, r.job_id,
                 f.message());
    Defer(identity, Command::kAck, Encode(ack));
    return;
  }
  auto outcome = store_.RecordResult(r, name);
  if (!outcome.ok()) {
    const StatusCode code = outcome.status().code();
    if (code == StatusCode::kNotFound || code == StatusCode::kInvalidArgument) {
      // Never storable (unknown job, an attempt never handed out): acknowledged so that the
      // agent's spool lets go of it, and counted.
      ++counters_.malformed;
      spdlog::warn("controller: result from {} not stored: {}", name, outcome.status().message());
      Defer(identity, Command::kAck, Encode(ack));
    } else {
      // Not acknowledged: the agent keeps it in its spool and sends it again.
      spdlog::error("controller: store: {}", outcome.status().ToString());
    }
    return;
  }
  // Counted before the ACK leaves, so that whoever sees the ACK sees the count.
  switch (*outcome) {
    case RecordOutcome::kStored: {
      ++counters_.results_stored;
      double joules = 0;
      for (const Repeat& w : r.measurement.repeats) joules += w.energy_j;
      counters_.by_agent.AddStored(name, agent.ready.device_class, joules,
                                   r.measurement.energy_is_estimate);
      NoteEnded(r.job_id);
      EndJob(r.job_id);
      break;
    }
    case RecordOutcome::kDuplicate:
    case RecordOutcome::kLate:
      ++counters_.results_duplicate;
      break;
    case RecordOutcome::kConflict:
      ++counters_.results_duplicate;
      spdlog::warn("controller: job {} attempt {} from {} differs from the stored result",
                   r.job_id, r.attempt, name);
      break;
  }
  // Every outcome but kStored means the job had already ended in the store. With one
  // controller it has ended here too; a job another controller sharing the store finished
  // may still be held here, and is forgotten.
  if (*outcome != RecordOutcome::kStored) EndJob(r.job_id);
  Defer(identity, Command::kAck, Encode(ack));
}

void Dispatcher::StoreFailure(const std::string& identity, const AgentState& agent,
                              const JobResult& r) {
  const std::string& name = agent.ready.name;
  const AckMsg ack{r.job_id, r.attempt};
  ++counters_.failures;
  auto job = jobs_.find(r.job_id);
  if (job == jobs_.end() || job->second.job.state != JobState::kLeased ||
      job->second.job.spec.attempt != r.attempt) {
    Defer(identity, Command::kAck, Encode(ack));  // a stale attempt: nothing to decide
    return;
  }
  const std::optional<JobState> final_state =
      FinalStateAfter(r.outcome, r.attempt, options_.max_attempts);
  Status s = store_.RecordFailure(r, name, final_state);
  if (!s.ok()) {
    spdlog::error("controller: store: {}", s.ToString());
    return;
  }
  // Counted once stored, for the attempt handed out: a NACK sent again is not another failure.
  counters_.by_agent.AddFailure(name, agent.ready.device_class);
  Defer(identity, Command::kAck, Encode(ack));
  spdlog::warn("controller: job {} attempt {} on {}: {}: {}{}", r.job_id, r.attempt, name,
               OutcomeName(r.outcome), r.error,
               final_state ? std::string(" -> ") + std::string(JobStateName(*final_state))
                           : std::string(" (will retry)"));
  if (final_state) {
    ++(*final_state == JobState::kFailed ? counters_.jobs_failed : counters_.jobs_quarantined);
    NoteEnded(r.job_id);
    EndJob(r.job_id);
    return;
  }
  ++counters_.retries;
  if (!job->second.identity.empty()) {
    auto holder = agents_.find(job->second.identity);
    if (holder != agents_.end()) holder->second.in_flight.erase(r.job_id);
  }
  job->second.job.state = JobState::kQueued;
  job->second.identity.clear();
  // Retries go first: a job that failed once should not wait behind the whole campaign.
  queues_[job->second.job.spec.device_class].PushFront(job->second.job.spec.campaign_id,
                                                       r.job_id);
}

}  // namespace wattfleet
