// `wattfleet measure`: one window of the agent's meters (agent/monitor/include/wattfleet/monitor/window_monitor.h) around a
// child process.
#include "cli_measure.h"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "process.h"
#include "wattfleet/monitor/window_monitor.h"
#include "window_recorder.h"

namespace wattfleet {
namespace {

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsInterpreter(const std::string& base) {
  for (const char* prefix : {"python", "pypy"}) {
    if (base.rfind(prefix, 0) == 0) return true;
  }
  for (const char* name : {"bash", "sh", "zsh", "dash", "node", "ruby", "perl", "Rscript",
                           "julia"}) {
    if (base == name) return true;
  }
  return false;
}

nlohmann::json ReadingJson(const std::string& name, const WindowReading& r,
                           const WindowMonitor& m, const std::vector<std::string>& command,
                           int exit_code) {
  auto opt = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"name", name},
          {"command", command},
          {"exit_code", exit_code},
          {"energy_j", r.energy_j},
          {"energy_dynamic_j", opt(r.energy_dynamic_j)},
          {"idle_w", opt(m.idle_w())},
          {"time_s", r.time_s},
          {"sensor", r.sensor},
          {"domain", r.domain},
          {"energy_is_estimate", r.energy_is_estimate},
          {"energy_model", r.energy_model.empty() ? nlohmann::json(nullptr)
                                                  : nlohmann::json(r.energy_model)},
          {"interference", opt(r.interference)},
          {"energy_bound_j", r.energy_bound_j},
          {"quality_flags", r.flags}};
}

}  // namespace

std::string WindowName(const std::vector<std::string>& command) {
  if (command.empty()) return "command";
  const std::string program = BaseName(command[0]);
  if (!IsInterpreter(program)) return program;
  for (size_t i = 1; i < command.size(); ++i) {
    const std::string& arg = command[i];
    if ((arg == "-m") && i + 1 < command.size()) return command[i + 1];
    if (arg == "-c" || arg == "-e") return program;  // inline code has no file
    if (!arg.empty() && arg[0] == '-') continue;
    return BaseName(arg);
  }
  return program;
}

// The dataset the window goes to, opened before the command runs: a dataset that cannot be
// written is found out first.
Result<std::unique_ptr<WindowRecorder>> OpenRecorder(const MeasureOptions& o) {
  WindowDatasetOptions wo;
  wo.db = o.db;
  wo.campaign = o.campaign;
  wo.device_class = o.device.rfind("cuda", 0) == 0 ? "cuda" : "cpu";
  return WindowRecorder::Open(wo);
}

// As time(1): Ctrl-C and Ctrl-\ reach the command (same process group), which decides; this
// process waits for it and still reports. Ignored only once the child has started, so that it
// does not inherit the ignoring.
int WaitLikeTime(ChildProcess& child) {
  auto old_int = std::signal(SIGINT, SIG_IGN);
  auto old_quit = std::signal(SIGQUIT, SIG_IGN);
  const int code = child.WaitForExit();
  std::signal(SIGINT, old_int);
  std::signal(SIGQUIT, old_quit);
  return code;
}

// The reading for a person, on stderr: stdout is the command's.
void PrintReading(const MeasureOptions& o, const WindowReading& r, const WindowMonitor& m,
                  std::optional<int64_t> job_id) {
  if (job_id) {
    std::fprintf(stderr, "wattfleet: stored in %s as job %lld (campaign %s)\n", o.db.c_str(),
                 static_cast<long long>(*job_id), o.campaign.c_str());
  }
  const char* what = r.energy_is_estimate ? " (an estimate: no power sensor, modeled)" : "";
  std::fprintf(stderr, "wattfleet: %s: %.4g J in %.4g s on %s (%s)%s\n", o.command[0].c_str(),
               r.energy_j, r.time_s, r.sensor.c_str(), r.domain.c_str(), what);
  if (r.energy_dynamic_j) {
    std::fprintf(stderr, "wattfleet: idle %.4g W before it; %.4g J above idle\n", *m.idle_w(),
                 *r.energy_dynamic_j);
  } else if (m.idle_w()) {
    std::fprintf(stderr, "wattfleet: idle %.4g W before it; energy above idle unavailable: the "
                 "window drew no more than that (idle measured while other work ran?)\n",
                 *m.idle_w());
  }
  if (!r.flags.empty()) {
    std::string flags;
    for (const std::string& f : r.flags) flags += (flags.empty() ? "" : ", ") + f;
    std::fprintf(stderr, "wattfleet: quality flags: %s (docs/python.md)\n", flags.c_str());
  }
}

int CmdMeasure(const MeasureOptions& o) {
  if (o.command.empty()) {
    std::cerr << "wattfleet: measure: no command (wattfleet measure [OPTIONS] -- CMD ARGS...)\n";
    return 2;
  }
  if (!(o.idle_s >= 0)) {
    std::cerr << "wattfleet: --idle-s " << o.idle_s << ": must be >= 0\n";
    return 2;
  }
  MonitorOptions mo;
  mo.sensor = o.sensor;
  mo.roots.device = o.device;
  mo.roots.modeled.core_w = o.modeled_core_w;
  mo.children_are_own_work = true;
  auto monitor = WindowMonitor::Open(mo);
  if (!monitor.ok()) {
    const std::string& msg = monitor.status().message();
    const bool names_flag = msg.rfind("--sensor", 0) == 0;
    std::cerr << "wattfleet: " << (names_flag ? "" : "--sensor " + o.sensor + ": ") << msg << "\n";
    return 2;
  }
  WindowMonitor& m = **monitor;
  // Opened before the command runs: a dataset that cannot be written is found out first.
  std::unique_ptr<WindowRecorder> recorder;
  if (!o.db.empty()) {
    auto opened = OpenRecorder(o);
    if (!opened.ok()) {
      std::cerr << "wattfleet: --db " << o.db << ": " << opened.status().message() << "\n";
      return 2;
    }
    recorder = std::move(opened).value();
  }
  if (o.idle_s > 0) {
    if (auto idle = m.MeasureIdle(o.idle_s); !idle.ok()) {
      std::cerr << "wattfleet: idle power: " << idle.status().message() << "\n";
      return 1;
    }
  }
  const std::string name = o.name.empty() ? WindowName(o.command) : o.name;
  if (Status s = m.Begin(name); !s.ok()) {
    std::cerr << "wattfleet: " << s.message() << "\n";
    return 1;
  }
  // With --json, stdout carries the document alone: the command's stdout goes to stderr.
  auto child = ChildProcess::Start(o.command, "", /*search_path=*/true,
                                   /*stdout_to_stderr=*/o.json);
  if (!child.ok()) {
    std::cerr << "wattfleet: measure: " << child.status().message() << "\n";
    return 127;
  }
  const int code = WaitLikeTime(*child);
  auto r = m.End(name);
  if (!r.ok()) {
    std::cerr << "wattfleet: " << r.status().message() << " (the command exited " << code
              << ")\n";
    return 1;
  }
  std::optional<int64_t> job_id;
  if (recorder) {
    WindowReading stored = *r;
    stored.name = name;
    auto recorded = recorder->Record(stored, m.idle_w());
    if (!recorded.ok()) {
      std::cerr << "wattfleet: --db " << o.db << ": the window was not stored: "
                << recorded.status().message() << "\n";
      return 1;
    }
    job_id = *recorded;
  }
  if (o.json) {
    nlohmann::json doc = ReadingJson(name, *r, m, o.command, code);
    doc["job_id"] = job_id ? nlohmann::json(*job_id) : nlohmann::json(nullptr);
    std::cout << doc.dump(2) << "\n";
    return code;
  }
  PrintReading(o, *r, m, job_id);
  return code;
}

}  // namespace wattfleet
