// Opening the PostgreSQL store (part of pg_store_test; a real server on loopback,
// tests/helpers/pg_server.h): malformed URIs and unreachable servers named without the
// password, the backend picked by the --db name, opening without creating a dataset (export),
// and a store whose server goes away and comes back.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pg_server.h"
#include "../unit/store_contract.h"
#include "../unit/temp_dir.h"

#include "pg_store.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet {
namespace {

using testing::MakeTestPlan;
using testing::PgQueryInt;
using testing::PgQueryText;
using testing::SharedPgServer;

TEST(PgStoreOpenTest, BadUriAndUnreachableServerAreClearErrorsWithoutThePassword) {
  auto bad = OpenPostgresStore("postgresql://user@%zz/db");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();

  auto port = testing::FreeLoopbackPort();  // nothing listens there
  ASSERT_TRUE(port.ok());
  const std::string uri = "postgresql://alice:s3cret@127.0.0.1:" + std::to_string(*port) +
                          "/lab?connect_timeout=3";
  auto down = OpenStore(uri);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();
  const std::string message = down.status().message();
  EXPECT_NE(message.find("postgresql://alice@127.0.0.1:" + std::to_string(*port) + "/lab"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  EXPECT_EQ(DatasetLabel(uri).find("s3cret"), std::string::npos);
}

TEST(PgStoreOpenTest, OpenStorePicksTheBackendByTheName) {
  EXPECT_EQ(BackendFor("postgresql://h/db").name, "postgresql");
  EXPECT_EQ(BackendFor("postgres://h/db").name, "postgresql");
  EXPECT_EQ(BackendFor("data/wattfleet.db").name, "sqlite");
  EXPECT_EQ(BackendFor("postgresql.db").name, "sqlite");
  // Only a local file is checked for before a read; a server's database when it is opened.
  EXPECT_FALSE(BackendFor("postgresql://h/db").local);
  EXPECT_TRUE(RequireExistingDataset("postgresql://h/db").ok());
  const Status missing = RequireExistingDataset("no/such/d.db");
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.message(), "--db no/such/d.db: no such dataset");
  // The --db help names every backend, the local file first.
  EXPECT_EQ(DatasetFlagHelp(), "SQLite file or postgresql:// URI");
  // A file name is an SQLite dataset.
  testing::TempDir dir;
  auto file = OpenStore(dir.File("d.db"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(testing::QueryText(dir.File("d.db"), "PRAGMA journal_mode"), "wal");

  testing::PgServer* server = SharedPgServer();
  ASSERT_NE(server, nullptr);
  auto uri = server->FreshDatabase();
  ASSERT_TRUE(uri.ok());
  // postgres:// is the same URI scheme to libpq.
  auto shared = OpenStore("postgres://" + uri->substr(std::string("postgresql://").size()));
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  EXPECT_EQ(PgQueryInt(*uri, "SELECT version FROM wattfleet_schema"), pg::kSchemaVersion);
}

TEST(PgStoreOpenTest, OpeningWithoutCreatingRefusesADatabaseWithoutTheSchema) {
  testing::PgServer* server = SharedPgServer();
  ASSERT_NE(server, nullptr);
  auto fresh = server->FreshDatabase();
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  const std::string uri = *fresh;
  const auto Int = [&](const std::string& sql) { return PgQueryInt(uri, sql); };
  const auto Text = [&](const std::string& sql) { return PgQueryText(uri, sql); };
  StoreOpenOptions read_only;
  read_only.create_if_missing = false;
  // A database that holds something else (or nothing): refused, and left as it was.
  testing::PgExec(uri, "CREATE TABLE notes(id INTEGER)");
  auto refused = OpenStore(uri, read_only);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("not a wattfleet dataset"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(Int("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'"), 1);
  EXPECT_EQ(Text("SELECT to_regclass('wattfleet_schema') IS NULL"), "t");
  // Once a controller has created it, the same open succeeds.
  ASSERT_TRUE(OpenStore(uri).ok());
  auto opened = OpenStore(uri, read_only);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto campaigns = (*opened)->ListCampaigns();
  ASSERT_TRUE(campaigns.ok()) << campaigns.status().ToString();
  EXPECT_TRUE(campaigns->empty());
}

// Accepts TCP connections on a loopback port and never answers, as an unreachable server
// behaves to a client waiting for its reply: each connect attempt lasts its whole
// connect_timeout. (A port nobody listens on refuses at once.)
class SilentListener {
 public:
  explicit SilentListener(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) return;
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    listening_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                 ::listen(fd_, 128) == 0;
  }
  ~SilentListener() { Close(); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  bool listening() const { return listening_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  bool listening_ = false;
};

TEST(PgStoreReconnectTest, WhileTheServerIsGoneCallsFailFastAndThenReconnect) {
  // A server of its own: this test stops it.
  auto server = testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto uri = (*server)->FreshDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  auto store = OpenPostgresStore(*uri + "?connect_timeout=2");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->CreateCampaign(MakeTestPlan()).ok());

  (*server)->Stop();
  SilentListener silent((*server)->port());
  ASSERT_TRUE(silent.listening()) << "cannot listen on port " << (*server)->port();
  // A dispatcher's loop pass makes many store calls. Each one that tried to reconnect would
  // block for connect_timeout (2 s here, 20 calls: 40 s); at most one attempt per 2 s keeps
  // the 20 within a few seconds.
  constexpr int kCalls = 20;
  int unavailable = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) {
    auto jobs = (*store)->LoadActiveJobs();
    if (!jobs.ok() && jobs.status().code() == StatusCode::kUnavailable) ++unavailable;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(unavailable, kCalls);
  EXPECT_LT(elapsed, 15.0) << kCalls << " calls while the server was gone";

  // Back: the store reconnects by itself (the next attempt is due 2 s after the last).
  silent.Close();
  ASSERT_TRUE((*server)->Resume().ok());
  bool reconnected = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!reconnected && std::chrono::steady_clock::now() < deadline) {
    auto jobs = (*store)->LoadActiveJobs();
    reconnected = jobs.ok() && jobs->size() == 5;
    if (!reconnected) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(reconnected);
}

}  // namespace
}  // namespace wattfleet
