// Shared by the integration tests that start the real binaries: a temporary directory, file
// helpers, and waiting for a controller's ready file.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "process.h"

namespace wattfleet::testing {

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A fresh directory under /tmp, removed at the end unless the test failed (then its logs are
// kept and named).
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wattfleet-it-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    if (::testing::Test::HasFailure()) {
      std::cerr << "logs kept in " << path_ << "\n";
    } else {
      std::string cmd = "rm -rf '" + path_ + "'";
      if (std::system(cmd.c_str()) != 0) std::cerr << "cannot remove " << path_ << "\n";
    }
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Endpoints {
  std::string endpoint;
  std::string admin;
};

// Waits (bounded) for `wattfleet serve --ready-file` to appear and reads it.
inline std::optional<Endpoints> WaitForReady(ChildProcess& serve, const std::string& ready,
                                             const std::string& log, double timeout_s = 20) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!Exists(ready) && std::chrono::steady_clock::now() < deadline) {
    if (!serve.Running()) {
      ADD_FAILURE() << "controller exited:\n" << Slurp(log);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!Exists(ready)) {
    ADD_FAILURE() << "controller never listened";
    return std::nullopt;
  }
  const auto j = nlohmann::json::parse(Slurp(ready));
  return Endpoints{j["endpoint"], j["admin"]};
}

// Runs the CLI to completion (bounded); output in `log`; returns the exit code or -1.
inline int RunCli(const std::vector<std::string>& args, const std::string& log,
                  double timeout_s) {
  std::vector<std::string> argv{WATTFLEET_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = ChildProcess::Start(argv, log);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().ToString();
    return -1;
  }
  auto code = child->Wait(timeout_s);
  if (!code.ok()) {
    ADD_FAILURE() << "timed out: wattfleet " << args[0];
    return -1;
  }
  return *code;
}

// A CLI run with its stdout (where --json documents go) and stderr kept apart.
struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `wattfleet ARGS` to completion (bounded), stdout and stderr in `dir`'s out.txt and
// err.txt.
inline CliRun RunCliSplit(const std::string& dir, const std::vector<std::string>& args,
                          double timeout_s = 120) {
  std::string command = std::string("exec '") + WATTFLEET_BIN + "'";
  for (const std::string& a : args) command += " '" + a + "'";
  command += " > '" + dir + "/out.txt' 2> '" + dir + "/err.txt'";
  CliRun run;
  auto child = ChildProcess::Start({"/bin/sh", "-c", command});
  if (!child.ok()) {
    ADD_FAILURE() << child.status().ToString();
    return run;
  }
  auto code = child->Wait(timeout_s);
  if (!code.ok()) {
    ADD_FAILURE() << "timed out: " << command;
    return run;
  }
  run.code = *code;
  run.out = Slurp(dir + "/out.txt");
  run.err = Slurp(dir + "/err.txt");
  return run;
}

}  // namespace wattfleet::testing
