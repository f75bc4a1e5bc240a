// CurveZMQ authentication end to end in one process: a real Dispatcher with CURVE on (its ZAP
// handler reading a real allowlist directory), a real SQLite store, and raw DEALER sockets
// playing enrolled, unknown and unauthenticated agents.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/dispatch/dispatcher.h"
#include "wattfleet/plan/planner.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/curve_keys.h"
#include "wattfleet/common/protocol.h"
#include "fake_agent.h"
#include "../unit/exported.h"

namespace wattfleet {
namespace {

using namespace std::chrono_literals;

using testing::Done;
using testing::Ready;
using CurvePeer = testing::FakeAgent;

class CurveAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(zmq_has("curve")) << "libzmq without CURVE";
    char tmpl[] = "/tmp/wattfleet-curve-auth-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    agents_dir_ = dir_ + "/agents";
    ASSERT_EQ(::mkdir(agents_dir_.c_str(), 0755), 0);
    auto store = OpenSqliteStore(dir_ + "/d.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);

    server_ = NewPair("controller");
    enrolled_ = NewPair("enrolled");
    stranger_ = NewPair("stranger");
    Enrol("a1", enrolled_);
  }
  void TearDown() override {
    Stop();
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  CurveKeyPair NewPair(const std::string& name) {
    auto pair = GenerateCurveKeyPair();
    EXPECT_TRUE(pair.ok()) << pair.status().ToString();
    if (!pair.ok()) return {};
    EXPECT_TRUE(WriteCurveKeyPair(dir_, name, *pair).ok());
    return *pair;
  }
  void Enrol(const std::string& name, const CurveKeyPair& pair) {
    std::ofstream f(agents_dir_ + "/" + name + ".key");
    f << pair.public_key << "\n";
  }
  void AddCampaign() {
    auto campaign =
        LoadCampaignFile(std::string(WATTFLEET_SOURCE_DIR) + "/experiments/quickstart.yaml");
    ASSERT_TRUE(campaign.ok());
    auto plan = MakePlan(*campaign);
    ASSERT_TRUE(plan.ok());
    ASSERT_TRUE(store_->CreateCampaign(*plan).ok());
  }
  DispatcherOptions Options(const std::string& bind = "tcp://127.0.0.1:*") {
    DispatcherOptions o;
    o.bind = bind;
    // Slow heartbeats: an agent under test stays alive (and keeps its lease) while the test
    // waits for a reply that must not come.
    o.heartbeat_ms = 1000;
    o.liveness = 5;
    o.drain_timeout_s = 0.5;  // no test here is about draining: don't wait for leased jobs
    o.curve_secret_file = dir_ + "/controller.key_secret";
    o.agents_dir = agents_dir_;
    return o;
  }
  void Start() {
    dispatcher_ = std::make_unique<Dispatcher>(Options(), *store_);
    Status s = dispatcher_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    loop_ = std::thread([this] { loop_status_ = dispatcher_->Run(); });
  }
  void Stop() {
    if (!dispatcher_) return;
    dispatcher_->RequestStop();
    loop_.join();
    EXPECT_TRUE(loop_status_.ok()) << loop_status_.ToString();
    dispatcher_.reset();
  }
  // What the dataset holds, read through a connection of the test's own while the dispatcher
  // runs (its store's connection is not shared between threads).
  Result<std::vector<ExportRow>> StoredRows() {
    return testing::Exported(dir_ + "/d.db");
  }
  template <typename Pred>
  bool Eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  std::string dir_, agents_dir_;
  CurveKeyPair server_, enrolled_, stranger_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::thread loop_;
  Status loop_status_;
  zmq::context_t ctx_{1};
};

TEST_F(CurveAuthTest, EnrolledAgentIsWelcomed) {
  Start();
  CurvePeer agent(ctx_, dispatcher_->endpoint(), "a1", server_.public_key, enrolled_);
  agent.Send(Command::kReady, Encode(Ready("a1")));
  auto welcome = agent.Receive();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->command, Command::kWelcome);
  EXPECT_TRUE(Eventually([&] { return dispatcher_->counters().agents_alive.load() == 1; }));
  EXPECT_EQ(dispatcher_->counters().auth_denied.load(), 0);
}

TEST_F(CurveAuthTest, UnenrolledAgentIsRefusedAndItsResultsAreNotStored) {
  AddCampaign();
  Start();
  // The enrolled agent holds a lease, so a result for that job would be accepted from it.
  CurvePeer agent(ctx_, dispatcher_->endpoint(), "a1", server_.public_key, enrolled_);
  agent.Send(Command::kReady, Encode(Ready("a1")));
  ASSERT_EQ(agent.Receive()->command, Command::kWelcome);
  auto leased = agent.Receive();
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->command, Command::kJob);
  auto job = DecodeJob(leased->body);
  ASSERT_TRUE(job.ok());

  // A stranger with a valid CURVE key that is not enrolled, posing under the same routing id
  // with a result for that very job: only authentication stands in its way.
  CurvePeer stranger(ctx_, dispatcher_->endpoint(), "a1", server_.public_key, stranger_);
  stranger.Send(Command::kReady, Encode(Ready("a1")));
  stranger.Send(Command::kResult, Encode(Done(*job)));
  EXPECT_FALSE(stranger.Receive(1000ms)) << "a non-enrolled agent got an answer";
  EXPECT_TRUE(Eventually([&] { return dispatcher_->counters().auth_denied.load() >= 1; }));
  EXPECT_EQ(dispatcher_->counters().results_stored.load(), 0);
  auto rows = StoredRows();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_TRUE(rows->empty());

  // The enrolled agent's own result goes through: the pipeline was open all along.
  agent.Send(Command::kResult, Encode(Done(*job)));
  std::optional<Envelope> ack;
  do ack = agent.Receive(); while (ack && ack->command == Command::kJob);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->command, Command::kAck);
  EXPECT_EQ(dispatcher_->counters().results_stored.load(), 1);
}

TEST_F(CurveAuthTest, AKeySpeaksOnlyForTheNameItWasEnrolledUnder) {
  AddCampaign();
  Enrol("bob", stranger_);
  Start();
  CurvePeer alice(ctx_, dispatcher_->endpoint(), "a1", server_.public_key, enrolled_);
  alice.Send(Command::kReady, Encode(Ready("a1")));
  ASSERT_EQ(alice.Receive()->command, Command::kWelcome);
  auto leased = alice.Receive();
  ASSERT_TRUE(leased);
  auto job = DecodeJob(leased->body);
  ASSERT_TRUE(job.ok());

  // Bob's key (enrolled, so the handshake succeeds) under another name: refused and told why.
  CurvePeer posing(ctx_, dispatcher_->endpoint(), "a2", server_.public_key, stranger_);
  posing.Send(Command::kReady, Encode(Ready("a2")));
  auto refused = posing.Receive();
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->command, Command::kDisconnect);
  const std::string reason = DecodeDisconnect(refused->body)->reason;
  EXPECT_NE(reason.find("enrolled as 'bob'"), std::string::npos) << reason;

  // Bob's key taking over alice's very routing id: every message is held to the key's name,
  // so a result for alice's lease is refused, not stored.
  CurvePeer impostor(ctx_, dispatcher_->endpoint(), "a1", server_.public_key, stranger_);
  impostor.Send(Command::kReady, Encode(Ready("a1")));
  impostor.Send(Command::kResult, Encode(Done(*job, 885.0)));
  refused = impostor.Receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->command, Command::kDisconnect);
  EXPECT_TRUE(Eventually([&] { return dispatcher_->counters().agents_refused.load() >= 2; }));
  EXPECT_EQ(dispatcher_->counters().results_stored.load(), 0);
  auto rows = StoredRows();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_TRUE(rows->empty());
}

TEST_F(CurveAuthTest, AgentWithoutCurveGetsNothing) {
  Start();
  CurvePeer plain(ctx_, dispatcher_->endpoint(), "plain");
  plain.Send(Command::kReady, Encode(Ready("plain")));
  EXPECT_FALSE(plain.Receive(1000ms));
  EXPECT_EQ(dispatcher_->counters().agents_alive.load(), 0);
}

TEST_F(CurveAuthTest, AgentWithTheWrongServerKeyGetsNothing) {
  Start();
  // Right client keys, but it trusts another controller: the handshake cannot complete.
  CurvePeer confused(ctx_, dispatcher_->endpoint(), "confused", stranger_.public_key, enrolled_);
  confused.Send(Command::kReady, Encode(Ready("confused")));
  EXPECT_FALSE(confused.Receive(1000ms));
  EXPECT_EQ(dispatcher_->counters().agents_alive.load(), 0);
}

TEST_F(CurveAuthTest, EnrolmentAndRemovalTakeEffectWithoutRestart) {
  Start();
  Enrol("late", stranger_);
  {
    CurvePeer late(ctx_, dispatcher_->endpoint(), "late", server_.public_key, stranger_);
    late.Send(Command::kReady, Encode(Ready("late")));
    auto welcome = late.Receive();
    ASSERT_TRUE(welcome);
    EXPECT_EQ(welcome->command, Command::kWelcome);
  }
  ASSERT_EQ(::unlink((agents_dir_ + "/late.key").c_str()), 0);
  CurvePeer again(ctx_, dispatcher_->endpoint(), "late", server_.public_key, stranger_);
  again.Send(Command::kReady, Encode(Ready("late")));
  EXPECT_FALSE(again.Receive(1000ms));
  EXPECT_TRUE(Eventually([&] { return dispatcher_->counters().auth_denied.load() >= 1; }));
}

TEST_F(CurveAuthTest, UnreadableAllowlistRefusesEveryone) {
  Start();
  // A broken enrolment file makes the whole list invalid: refusing is the safe answer.
  {
    std::ofstream f(agents_dir_ + "/broken.key");
    f << "not a key\n";
  }
  CurvePeer agent(ctx_, dispatcher_->endpoint(), "a1", server_.public_key, enrolled_);
  agent.Send(Command::kReady, Encode(Ready("a1")));
  EXPECT_FALSE(agent.Receive(1000ms));
  EXPECT_TRUE(Eventually([&] { return dispatcher_->counters().auth_denied.load() >= 1; }));
}

TEST_F(CurveAuthTest, WithCurveAnyAddressMayBeBound) {
  Dispatcher d(Options("tcp://0.0.0.0:*"), *store_);
  Status s = d.Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(d.endpoint().rfind("tcp://0.0.0.0:", 0), 0u) << d.endpoint();
}

TEST_F(CurveAuthTest, CurveMisconfigurationIsRefusedAtStart) {
  {
    DispatcherOptions o = Options();
    o.agents_dir.clear();  // one without the other
    Dispatcher d(o, *store_);
    EXPECT_EQ(d.Start().code(), StatusCode::kInvalidArgument);
  }
  {
    DispatcherOptions o = Options();
    o.agents_dir = dir_ + "/no-such-dir";
    Dispatcher d(o, *store_);
    Status s = d.Start();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(o.agents_dir), std::string::npos) << s.message();
  }
  {
    DispatcherOptions o = Options();
    o.curve_secret_file = dir_ + "/controller.key";  // the public half: no secret in it
    Dispatcher d(o, *store_);
    Status s = d.Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("secret"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace wattfleet
