// A Dispatcher on loopback with a real SQLite file in a temporary directory, for tests that
// play agents with raw DEALER sockets (fake_agent.h).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/dispatch/dispatcher.h"
#include "fake_agent.h"
#include "wattfleet/plan/planner.h"
#include "wattfleet/store/store.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet::testing {

class DispatcherFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wattfleet-dispatcher-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = OpenSqliteStore(dir_ + "/d.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    Stop();
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void AddCampaign(const std::string& yaml = "") {
    auto campaign = yaml.empty() ? LoadCampaignFile(std::string(WATTFLEET_SOURCE_DIR) +
                                                    "/experiments/quickstart.yaml")
                                 : ParseCampaign(yaml, "inline.yaml");
    ASSERT_TRUE(campaign.ok()) << campaign.status().ToString();
    auto plan = MakePlan(*campaign);
    ASSERT_TRUE(plan.ok());
    planned_ = plan->jobs.size();
    ASSERT_TRUE(store_->CreateCampaign(*plan).ok());
  }
  void Start(int64_t heartbeat_ms = 100) {
    DispatcherOptions o;
    o.bind = "tcp://127.0.0.1:*";
    o.admin = "ipc://" + dir_ + "/admin";
    o.heartbeat_ms = heartbeat_ms;
    o.liveness = 3;
    o.max_attempts = 2;
    dispatcher_ = std::make_unique<Dispatcher>(o, *store_);
    ASSERT_TRUE(dispatcher_->Start().ok());
    loop_ = std::thread([this] { loop_status_ = dispatcher_->Run(); });
  }
  void Stop() {
    if (!dispatcher_) return;
    dispatcher_->RequestStop();
    loop_.join();
    EXPECT_TRUE(loop_status_.ok());
    dispatcher_.reset();
  }
  // A connection of its own onto the dataset, as `export` or `status` would open: the store
  // the dispatcher writes through is its alone while it runs (one SQLite connection is not
  // shared between threads).
  std::unique_ptr<Store> ReadStore() {
    StoreOpenOptions read;
    read.create_if_missing = false;
    auto store = OpenSqliteStore(dir_ + "/d.db", read);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // Registers `agent` as `name` and takes the first job the dispatcher hands it.
  void RegisterAndTake(FakeAgent& agent, const std::string& name, JobSpec* job) {
    agent.Send(Command::kReady, Encode(Ready(name)));
    auto welcome = agent.Receive();
    ASSERT_TRUE(welcome);
    ASSERT_EQ(welcome->command, Command::kWelcome);
    auto frame = agent.Receive();
    ASSERT_TRUE(frame);
    auto decoded = DecodeJob(frame->body);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    *job = std::move(decoded).value();
  }
  template <typename Pred>
  bool Eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::thread loop_;
  Status loop_status_;
  size_t planned_ = 0;
  zmq::context_t ctx_{1};
};

}  // namespace wattfleet::testing
