// Hostile agents against a real Dispatcher on loopback (no CURVE): results and NACKs for a
// lease another agent holds, READYs that borrow a connected agent's name, names and texts
// that would forge log lines or repaint a terminal. Each test fails without its defence.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "dispatcher_fixture.h"
#include "../unit/exported.h"

namespace wattfleet {
namespace {

using namespace std::chrono_literals;

using testing::Done;
using testing::FakeAgent;
using testing::Ready;

class ForgeryTest : public testing::DispatcherFixture {
 protected:
  // The next message that is not a JOB (an ACK, a DISCONNECT), or nullopt after `timeout`.
  static std::optional<Envelope> NextReply(FakeAgent& agent,
                                           std::chrono::milliseconds timeout = 5000ms) {
    std::optional<Envelope> m;
    do m = agent.Receive(timeout); while (m && m->command == Command::kJob);
    return m;
  }
  // `agent` sends its result for `job`: acknowledged, and (once the dispatcher stops) the one
  // measurement in the dataset, under its name, with its figure.
  void ExpectStoredFrom(FakeAgent& agent, const std::string& name, const JobSpec& job,
                        double energy) {
    agent.Send(Command::kResult, Encode(Done(job, energy)));
    auto ack = NextReply(agent);
    ASSERT_TRUE(ack);
    ASSERT_EQ(ack->command, Command::kAck);
    EXPECT_EQ(DecodeAck(ack->body)->job_id, job.job_id);
    EXPECT_EQ(dispatcher_->counters().results_stored.load(), 1);
    Stop();
    auto rows = testing::Exported(dir_ + "/d.db");
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].device, name);
    EXPECT_NEAR((*rows)[0].m.energy_per_iter_j, energy, 1e-12);
  }
  // Read while the dispatcher runs, so through a connection of the test's own.
  std::optional<CampaignJob> Job(int64_t job_id) {
    auto reader = ReadStore();
    if (!reader) return std::nullopt;
    auto jobs = reader->ListCampaignJobs(1, CampaignJobFilter{JobKind::kLayer, "", ""});
    EXPECT_TRUE(jobs.ok());
    auto models = reader->ListCampaignJobs(1, CampaignJobFilter{JobKind::kModel, "", ""});
    EXPECT_TRUE(models.ok());
    jobs->insert(jobs->end(), models->begin(), models->end());
    for (const CampaignJob& j : *jobs) {
      if (j.spec.job_id == job_id) return j;
    }
    return std::nullopt;
  }
};

TEST_F(ForgeryTest, AResultOrNackForAnotherAgentsLeaseIsRefusedAndTheGenuineOneStored) {
  AddCampaign();
  Start(/*heartbeat_ms=*/1000);  // both agents stay alive while the test works
  FakeAgent honest(ctx_, dispatcher_->endpoint(), "honest");
  JobSpec job;
  RegisterAndTake(honest, "honest", &job);
  FakeAgent mallory(ctx_, dispatcher_->endpoint(), "mallory");
  JobSpec own;
  RegisterAndTake(mallory, "mallory", &own);

  // A NACK that would fail the honest agent's job for good, then a forged measurement of it
  // (1000 times the real figure).
  JobResult nack;
  nack.job_id = job.job_id;
  nack.attempt = job.attempt;
  nack.outcome = Outcome::kFailed;
  nack.error = "forged";
  mallory.Send(Command::kNack, Encode(nack));
  mallory.Send(Command::kResult, Encode(Done(job, /*energy=*/0.885)));
  ASSERT_TRUE(Eventually([&] { return dispatcher_->counters().results_refused.load() == 2; }));
  EXPECT_FALSE(NextReply(mallory, 300ms)) << "a forged result was acknowledged";
  EXPECT_EQ(dispatcher_->counters().results_stored.load(), 0);
  EXPECT_EQ(dispatcher_->counters().failures.load(), 0);
  auto before = Job(job.job_id);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->state, JobState::kLeased) << "a forged NACK changed the job";
  EXPECT_FALSE(before->measured);

  // The agent that holds the lease is heard.
  ExpectStoredFrom(honest, "honest", job, /*energy=*/0.000885);
}

// A genuine result for an earlier attempt, arriving after the controller restarted: who held
// that attempt is in the dataset (stored when the lease was handed out), so the result is
// stored, not lost.
TEST_F(ForgeryTest, ALateResultForAnEarlierAttemptSurvivesARestart) {
  AddCampaign("name: one\ndevices: [{class: cpu}]\narchitectures:\n  - family: mlp\n"
              "    sweep: {depth: [1], width: [4], input: [4]}\nplan: {whole_models: false}\n");
  Start(/*heartbeat_ms=*/100);
  // The first agent takes a job, then goes silent: its lease is taken back.
  JobSpec late;
  {
    FakeAgent first(ctx_, dispatcher_->endpoint(), "slow~1");
    RegisterAndTake(first, "slow", &late);
  }
  ASSERT_EQ(late.attempt, 1);
  // Another agent measures the rest, and holds the second attempt of that job when the
  // controller stops.
  FakeAgent other(ctx_, dispatcher_->endpoint(), "other~1");
  other.Send(Command::kReady, Encode(Ready("other")));
  bool holds_it = false;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!holds_it && std::chrono::steady_clock::now() < until) {
    other.Send(Command::kHeartbeat, EncodeEmpty());  // alive, as an agent says every beat
    auto m = other.Receive(50ms);
    if (!m || m->command != Command::kJob) continue;
    auto job = DecodeJob(m->body);
    ASSERT_TRUE(job.ok());
    if (job->job_id == late.job_id) {
      EXPECT_EQ(job->attempt, 2);
      holds_it = true;
    } else {
      other.Send(Command::kResult, Encode(Done(*job)));
    }
  }
  ASSERT_TRUE(holds_it) << "the job was never handed out again";
  Stop();

  // Restarted: the first agent comes back with what it measured on its attempt.
  Start(/*heartbeat_ms=*/100);
  FakeAgent back(ctx_, dispatcher_->endpoint(), "slow~2");
  back.Send(Command::kReady, Encode(Ready("slow")));
  auto welcome = back.Receive();
  ASSERT_TRUE(welcome);
  ASSERT_EQ(welcome->command, Command::kWelcome);
  back.Send(Command::kResult, Encode(Done(late, /*energy=*/0.25)));
  std::optional<Envelope> ack;
  const auto ack_until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < ack_until) {
    back.Send(Command::kHeartbeat, EncodeEmpty());
    ack = back.Receive(50ms);
    if (ack && ack->command == Command::kAck) break;
  }
  ASSERT_TRUE(ack && ack->command == Command::kAck);
  EXPECT_EQ(DecodeAck(ack->body)->job_id, late.job_id);
  EXPECT_EQ(dispatcher_->counters().results_stored.load(), 1)
      << "the late result was refused: " << dispatcher_->counters().results_refused.load();
  EXPECT_EQ(dispatcher_->counters().results_refused.load(), 0);
  Stop();
  auto rows = testing::Exported(dir_ + "/d.db");
  ASSERT_TRUE(rows.ok());
  bool found = false;
  for (const ExportRow& r : *rows) {
    if (r.job_id != late.job_id) continue;
    found = true;
    EXPECT_EQ(r.attempt, 1);
    EXPECT_EQ(r.device, "slow");
    EXPECT_NEAR(r.m.energy_per_iter_j, 0.25, 1e-12);
  }
  EXPECT_TRUE(found);
}

TEST_F(ForgeryTest, AReadyUnderAConnectedAgentsNameIsRefusedAndItsLeasesStay) {
  AddCampaign();
  Start(/*heartbeat_ms=*/1000);
  // Agents' routing ids are their name and a number only they know.
  FakeAgent honest(ctx_, dispatcher_->endpoint(), "honest~5eb63bbbe01eeed0");
  JobSpec job;
  RegisterAndTake(honest, "honest", &job);

  // Another peer claiming the name, and the job as one it still holds.
  FakeAgent mallory(ctx_, dispatcher_->endpoint(), "honest~0");
  ReadyMsg claim = Ready("honest");
  claim.resumed_job_ids = {job.job_id};
  mallory.Send(Command::kReady, Encode(claim));
  auto refused = mallory.Receive();
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->command, Command::kDisconnect);
  EXPECT_NE(DecodeDisconnect(refused->body)->reason.find("in use"), std::string::npos);
  EXPECT_EQ(dispatcher_->counters().agents_refused.load(), 1);
  // Not registered: what it sends next is not stored.
  mallory.Send(Command::kResult, Encode(Done(job, 885.0)));
  refused = mallory.Receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->command, Command::kDisconnect);

  ExpectStoredFrom(honest, "honest", job, 0.5);
}

TEST_F(ForgeryTest, ARestartedAgentGetsItsNameBackOnceTheOldOneHasGone) {
  Start();
  FakeAgent first(ctx_, dispatcher_->endpoint(), "restarted~1");
  first.Send(Command::kReady, Encode(Ready("restarted")));
  ASSERT_EQ(first.Receive()->command, Command::kWelcome);
  FakeAgent second(ctx_, dispatcher_->endpoint(), "restarted~2");
  second.Send(Command::kReady, Encode(Ready("restarted")));
  auto later = second.Receive();
  ASSERT_TRUE(later);
  ASSERT_EQ(later->command, Command::kDisconnect);
  // "Try again", not "stop": it may well be the same agent restarted.
  EXPECT_NE(DecodeDisconnect(later->body)->reason.rfind("refused:", 0), 0u);
  // The old one goes silent (100 ms heartbeats, liveness 3); the new one gets in.
  std::optional<Envelope> welcome;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    second.Send(Command::kReady, Encode(Ready("restarted")));
    welcome = second.Receive(500ms);
    if (welcome && welcome->command == Command::kWelcome) break;
  }
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->command, Command::kWelcome);
}

TEST_F(ForgeryTest, NamesThatWouldForgeLogLinesAreRefused) {
  Start();
  const std::string evil = "a1\n[info] controller: agent root registered\x1b[31m";
  FakeAgent peer(ctx_, dispatcher_->endpoint(), evil);
  peer.Send(Command::kReady, Encode(Ready(evil)));
  auto refused = peer.Receive();
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->command, Command::kDisconnect);
  const std::string reason = DecodeDisconnect(refused->body)->reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  EXPECT_EQ(reason.find('\x1b'), std::string::npos) << reason;

  // A valid name with an escape in another field it reports.
  FakeAgent painter(ctx_, dispatcher_->endpoint(), "painter");
  ReadyMsg ready = Ready("painter");
  ready.hostname = "host\x1b[2J";
  painter.Send(Command::kReady, Encode(ready));
  refused = painter.Receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->command, Command::kDisconnect);
  EXPECT_EQ(dispatcher_->counters().agents_refused.load(), 2);
  EXPECT_EQ(dispatcher_->counters().agents_alive.load(), 0);
}

TEST_F(ForgeryTest, AnErrorMessageIsStoredEscaped) {
  AddCampaign();
  Start(/*heartbeat_ms=*/1000);
  FakeAgent agent(ctx_, dispatcher_->endpoint(), "a1");
  JobSpec job;
  RegisterAndTake(agent, "a1", &job);
  // Retryable twice (max_attempts 2): the second NACK quarantines it with its error.
  for (int attempt = 1; attempt <= 2; ++attempt) {
    JobResult nack;
    nack.job_id = job.job_id;
    nack.attempt = job.attempt;
    nack.outcome = Outcome::kTimeout;
    nack.error = "boom\n\x1b[2J\rcontroller: all good";
    agent.Send(Command::kNack, Encode(nack));
    if (attempt == 2) break;
    // The same job comes back as attempt 2 (there is no other agent).
    std::optional<Envelope> again;
    do {
      again = agent.Receive();
      if (again && again->command == Command::kJob) {
        auto j = DecodeJob(again->body);
        ASSERT_TRUE(j.ok());
        if (j->job_id == job.job_id) {
          job = *j;
          break;
        }
      }
    } while (again);
    ASSERT_EQ(job.attempt, 2);
  }
  ASSERT_TRUE(Eventually([&] { return dispatcher_->counters().jobs_quarantined.load() == 1; }));
  Stop();
  auto quarantined = store_->ListQuarantined(10);
  ASSERT_TRUE(quarantined.ok());
  ASSERT_EQ(quarantined->size(), 1u);
  const std::string& error = (*quarantined)[0].last_error;
  EXPECT_NE(error.find("boom"), std::string::npos) << error;
  for (char c : error) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << error;
}

}  // namespace
}  // namespace wattfleet
