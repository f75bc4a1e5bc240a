// A real PostgreSQL server for tests: initdb into a temporary directory, then `postgres` on a
// free port of 127.0.0.1 (and a Unix socket in that directory), waited for until it accepts
// connections, and stopped (fast shutdown) with the object. Trust authentication, loopback
// only, fsync off: a throwaway server. A test may stop it and start it again (same data, same
// port) to see what clients do while it is gone.
//
// The server binaries come from Debian's postgresql package (/usr/lib/postgresql/N/bin);
// without them the test fails, saying so. PostgreSQL refuses to run as root: as root, the
// server runs as the `postgres` user the package creates (through setpriv, util-linux), and
// the directory is handed to that user.
//
// Also raw SQL helpers over libpq, for checks the Store interface does not expose.
#pragma once

#include <arpa/inet.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "wattfleet/common/status.h"

namespace wattfleet::testing {

struct PgBinaries {
  std::string initdb;
  std::string postgres;
};

inline bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// initdb and postgres from WATTFLEET_PG_BINDIR, else the newest Debian
// /usr/lib/postgresql/*/bin, else `pg_config --bindir`, else PATH.
inline Result<PgBinaries> FindPgBinaries() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("WATTFLEET_PG_BINDIR")) dirs.emplace_back(env);
  glob_t g{};
  if (::glob("/usr/lib/postgresql/*/bin", 0, nullptr, &g) == 0) {
    // Newest version first (numeric, so 15 comes before 9.6).
    std::vector<std::string> found(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
      return std::atof(a.c_str() + 20) > std::atof(b.c_str() + 20);  // after /usr/lib/postgresql/
    });
    dirs.insert(dirs.end(), found.begin(), found.end());
  }
  ::globfree(&g);
  if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    char buf[4096] = {0};
    if (std::fgets(buf, sizeof(buf), p) != nullptr) {
      std::string dir = buf;
      while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
      if (!dir.empty()) dirs.push_back(dir);
    }
    ::pclose(p);
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string dir; std::getline(ss, dir, ':');) dirs.push_back(dir);
  }
  for (const std::string& dir : dirs) {
    if (IsExecutable(dir + "/initdb") && IsExecutable(dir + "/postgres")) {
      return PgBinaries{dir + "/initdb", dir + "/postgres"};
    }
  }
  return Status::NotFound(
      "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, "
      "`pg_config --bindir` or PATH: install Debian package postgresql "
      "(scripts/bootstrap.sh does)");
}

// A port on 127.0.0.1 that was free a moment ago.
inline Result<int> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::IOError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return Status::IOError("cannot bind 127.0.0.1:0");
  return static_cast<int>(ntohs(addr.sin_port));
}

inline std::string TailOf(const std::string& path, size_t n = 3000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  return s.size() > n ? s.substr(s.size() - n) : s;
}

class PgServer {
 public:
  PgServer() = default;  // stopped: use Start()
  // initdb, start, wait until it accepts connections (each bounded by `timeout_s`).
  static Result<std::unique_ptr<PgServer>> Start(double timeout_s = 60) {
    WF_ASSIGN_OR_RETURN(const PgBinaries bin, FindPgBinaries());
    auto server = std::make_unique<PgServer>();
    char tmpl[] = "/tmp/wf-pg-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Status::IOError("mkdtemp failed");
    server->dir_ = tmpl;

    // As root, the server runs as `postgres`, which must own its directory.
    std::vector<std::string> as_user;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) {
        return Status::NotFound(
            "running as root, and PostgreSQL refuses to run as root: no `postgres` user to run "
            "it as; install Debian package postgresql (it creates the user)");
      }
      if (::chown(server->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return Status::IOError("cannot hand " + server->dir_ + " to the postgres user");
      }
      std::string setpriv = "/usr/bin/setpriv";
      if (!IsExecutable(setpriv)) setpriv = "/bin/setpriv";
      if (!IsExecutable(setpriv)) {
        return Status::NotFound("running as root needs setpriv: install Debian package util-linux");
      }
      as_user = {setpriv, "--reuid=" + std::to_string(pw->pw_uid),
                 "--regid=" + std::to_string(pw->pw_gid), "--init-groups", "--"};
    }
    const std::string data = server->dir_ + "/data";
    std::vector<std::string> initdb = as_user;
    for (const std::string& a : {bin.initdb, std::string("-D"), data, std::string("-U"),
                                 std::string("postgres"), std::string("-A"), std::string("trust"),
                                 std::string("-E"), std::string("UTF8"),
                                 std::string("--no-locale"), std::string("--no-sync")}) {
      initdb.push_back(a);
    }
    const std::string initdb_log = server->dir_ + "/initdb.log";
    {
      WF_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(initdb, initdb_log));
      auto code = child.Wait(timeout_s);
      if (!code.ok() || *code != 0) {
        return Status::Internal("initdb failed:\n" + TailOf(initdb_log));
      }
    }
    server->postgres_ = as_user;
    server->postgres_.push_back(bin.postgres);

    // The free port may be taken between the probe and the bind: a few tries.
    Status launched;
    for (int attempt = 0; attempt < 3; ++attempt) {
      WF_ASSIGN_OR_RETURN(const int port, FreeLoopbackPort());
      launched = server->Launch(port, timeout_s);
      if (launched.ok()) return server;
      if (launched.code() == StatusCode::kTimeout) break;  // started, but never answered
    }
    return launched;
  }

  ~PgServer() {
    Stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Fast shutdown: clients are disconnected (SIGTERM would wait for them).
  void Stop() {
    if (!process_) return;
    process_->Signal(SIGINT);
    if (!process_->Wait(30).ok()) process_->Stop(5);
    process_.reset();
  }
  // After Stop(): the same data directory on the same port again.
  Status Resume(double timeout_s = 60) {
    if (process_) return Status::Internal("the server is running");
    return Launch(port_, timeout_s);
  }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string Uri(const std::string& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

  // A new, empty database with a name of its own; its URI.
  Result<std::string> FreshDatabase(const std::string& prefix = "wf") {
    static std::atomic<int> counter{0};
    const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" +
                             std::to_string(counter.fetch_add(1));
    WF_RETURN_IF_ERROR(Run("postgres", "CREATE DATABASE " + name));
    return Uri(name);
  }
  // Drops a database, its connections with it.
  void DropDatabase(const std::string& name) {
    (void)Run("postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }

  // One statement on a connection of its own.
  Status Run(const std::string& database, const std::string& sql) {
    PGconn* conn = PQconnectdb((Uri(database) + "?connect_timeout=10").c_str());
    std::string error;
    if (PQstatus(conn) != CONNECTION_OK) {
      error = PQerrorMessage(conn);
    } else {
      PGresult* r = PQexec(conn, sql.c_str());
      if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        error = PQresultErrorMessage(r);
      }
      PQclear(r);
    }
    PQfinish(conn);
    if (!error.empty()) return Status::Internal(sql + ": " + error);
    return Status::OK();
  }

 private:
  std::string log() const { return dir_ + "/postgres.log"; }

  // Starts postgres on `port` and waits until it accepts connections. The wait asks through
  // the server's own Unix socket (in dir_): a TCP ping could be answered by another test's
  // server that holds the port, if this one failed to bind it. (This one does not keep
  // running without its TCP socket: postgres exits when it cannot listen on
  // listen_addresses.)
  Status Launch(int port, double timeout_s) {
    std::vector<std::string> argv = postgres_;
    for (const std::string& a :
         {std::string("-D"), dir_ + "/data", std::string("-k"), dir_, std::string("-p"),
          std::to_string(port), std::string("-c"), std::string("listen_addresses=127.0.0.1"),
          std::string("-c"), std::string("fsync=off"), std::string("-c"),
          std::string("synchronous_commit=off"), std::string("-c"),
          std::string("full_page_writes=off"), std::string("-c"),
          std::string("shared_buffers=32MB"), std::string("-c"),
          std::string("max_connections=100")}) {
      argv.push_back(a);
    }
    WF_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Start(argv, log()));
    process_.emplace(std::move(child));
    port_ = port;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    const std::string ping = "host=" + dir_ + " port=" + std::to_string(port) +
                             " user=postgres dbname=postgres connect_timeout=2";
    while (std::chrono::steady_clock::now() < deadline && process_->Running()) {
      if (PQping(ping.c_str()) == PQPING_OK) return Status::OK();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (process_->Running()) {
      Stop();
      return Status::Timeout("postgres did not accept connections within " +
                             std::to_string(timeout_s) + " s:\n" + TailOf(log()));
    }
    process_.reset();
    return Status::Internal("postgres did not start on port " + std::to_string(port) + ":\n" +
                            TailOf(log()));
  }

  std::string dir_;
  std::vector<std::string> postgres_;  // the server's command line up to its arguments
  std::optional<ChildProcess> process_;
  int port_ = 0;
};

// The server of this test binary: started on first use, stopped when the binary exits. Null,
// with the reason reported as a test failure, when it cannot start.
inline PgServer* SharedPgServer() {
  static Result<std::unique_ptr<PgServer>> server = PgServer::Start();
  if (!server.ok()) {
    ADD_FAILURE() << "cannot start a PostgreSQL server: " << server.status().ToString();
    return nullptr;
  }
  return server->get();
}

// The rows of `sql` (text format; NULL as nullopt) on a connection of its own. A failed
// statement is a test failure, and no rows.
inline std::vector<std::vector<std::optional<std::string>>> PgQuery(const std::string& uri,
                                                                     const std::string& sql) {
  std::vector<std::vector<std::optional<std::string>>> rows;
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << uri << ": " << PQerrorMessage(conn);
    PQfinish(conn);
    return rows;
  }
  PGresult* r = PQexec(conn, sql.c_str());
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::optional<std::string>> row;
      for (int j = 0; j < PQnfields(r); ++j) {
        if (PQgetisnull(r, i, j)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
        }
      }
      rows.push_back(std::move(row));
    }
  } else if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
  }
  PQclear(r);
  PQfinish(conn);
  return rows;
}

// The first column of the first row: -1 without a row.
inline int64_t PgQueryInt(const std::string& uri, const std::string& sql) {
  const auto rows = PgQuery(uri, sql);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return -1;
  return std::stoll(*rows[0][0]);
}

// As text: "<no row>" without a row, "<null>" for NULL.
inline std::string PgQueryText(const std::string& uri, const std::string& sql) {
  const auto rows = PgQuery(uri, sql);
  if (rows.empty() || rows[0].empty()) return "<no row>";
  return rows[0][0] ? *rows[0][0] : "<null>";
}

// A BYTEA column's bytes.
inline std::string PgQueryBytes(const std::string& uri, const std::string& sql) {
  const std::string text = PgQueryText(uri, sql);
  size_t n = 0;
  unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text.c_str()), &n);
  if (bytes == nullptr) return std::string();
  std::string out(reinterpret_cast<const char*>(bytes), n);
  PQfreemem(bytes);
  return out;
}

inline void PgExec(const std::string& uri, const std::string& sql) { (void)PgQuery(uri, sql); }

}  // namespace wattfleet::testing
