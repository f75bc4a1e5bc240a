// wattfleet-agent: the device daemon (docs/design/cli.md).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/link/agent.h"
#include "wattfleet/monitor/characterise.h"
#include "wattfleet/monitor/cpu_activity.h"
#include "wattfleet/monitor/device_info.h"
#include "wattfleet/run/exec_worker.h"
#include "wattfleet/run/job_runner.h"
#include "wattfleet/common/version.h"
#include "wattfleet/common/cli_parse.h"
#include "wattfleet/common/curve_keys.h"
#include "wattfleet/common/peer_text.h"
#include "wattfleet/common/private_folder.h"
#include "wattfleet/common/sensor_character_json.h"

namespace {

std::atomic<wattfleet::Agent*> g_agent{nullptr};

extern "C" void OnStopSignal(int) {
  if (wattfleet::Agent* a = g_agent.load()) a->RequestStop();
}

wattfleet::Result<std::string> DefaultSpool(const std::string& name) {
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  if (state && *state) return std::string(state) + "/wattfleet/" + name + "/spool";
  if (home && *home) return std::string(home) + "/.local/state/wattfleet/" + name + "/spool";
  // No home: a folder of this user's own in /tmp. Another user may have made one of that
  // name first, to swap what is below it: then it is refused, not used.
  const std::string mine = "/tmp/wattfleet-" + std::to_string(::geteuid());
  WF_RETURN_IF_ERROR(wattfleet::MakePrivateFolder(mine, "the default spool"));
  return mine + "/" + name + "/spool";
}

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("wattfleet-agent");
}

// The exec-worker: runs jobs sent on stdin until EOF (exec_worker.h).
int ExecWorkerMain(const std::string& device, const std::string& sensor, int threads,
                   double sensor_period_s, const wattfleet::SensorRoots& roots) {
  using namespace wattfleet;
  // Dies with the agent (even a SIGKILLed one), and leaves stop signals to the agent, which
  // drains by letting the running job finish.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return 1;
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  std::string why;
  auto opened = OpenMeter(sensor, roots, &why);
  if (!opened.ok()) {
    spdlog::error("exec-worker: {}", opened.status().message());
    return 2;
  }
  // Windows sized from the period the agent characterised, not only the declared one.
  std::unique_ptr<Meter> meter = WithUpdatePeriod(**opened, sensor_period_s);
  auto executor = MakeExecutor(ExecutorOptions{device, threads});
  if (!executor.ok()) {
    spdlog::error("exec-worker: {}", executor.status().message());
    return 2;
  }
  std::unique_ptr<Telemetry> telemetry = OpenTelemetry(roots, &why);
  spdlog::debug("exec-worker: telemetry {}", why);
  // The workload runs in this process: its own CPU time is /proc/self's, its kernels are
  // this pid's.
  ProcCpuActivity activity(roots.proc_root);
  std::unique_ptr<InterferenceProbe> interference =
      OpenInterference(*meter, roots, activity, ::getpid(), &why);
  spdlog::info("exec-worker: interference {}", why);
  InProcessRunner runner(**executor, *meter, device, telemetry.get(), interference.get());
  return ServeExecWorker(runner);
}

// The meter `sensor` picks, characterised (characterise.h); its error when it cannot open.
wattfleet::Result<wattfleet::SensorCharacter> CharacteriseSensor(
    const std::string& sensor, const wattfleet::SensorRoots& roots, std::string* backend) {
  using namespace wattfleet;
  std::string why;
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Meter> meter, OpenMeter(sensor, roots, &why));
  *backend = meter->name();
  return Characterise(*meter, SystemClock());
}

int Probe(const wattfleet::SensorRoots& roots, const std::string& sensor, bool json) {
  using namespace wattfleet;
  DeviceInfo d = ProbeDevice(roots.proc_root);
  auto exec = MakeExecutor(ExecutorOptions{});
  const std::string torch = exec.ok() ? (*exec)->torch_version() : "";
  const BlasInfo blas = LoadedBlas(roots.proc_root);
  std::vector<std::string> dtypes;
  if (exec.ok()) {
    for (DType t : (*exec)->dtypes()) dtypes.emplace_back(DTypeName(t));
  }
  auto sensors = ProbeSensors(roots);
  std::string backend;
  auto character = CharacteriseSensor(sensor, roots, &backend);
  std::string telemetry_why;
  auto sample = OpenTelemetry(roots, &telemetry_why)->Read();
  const auto figure = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  if (json) {
    nlohmann::json j;
    j["device"] = roots.device;
    j["hostname"] = d.hostname;
    j["cpu_model"] = d.cpu_model;
    j["cores"] = d.cores;
    j["memory_bytes"] = d.memory_bytes;
    j["os"] = d.os;
    j["accelerator"] = nullptr;
    j["libtorch_version"] = torch.empty() ? nlohmann::json(nullptr) : nlohmann::json(torch);
    j["dtypes"] = dtypes;  // those the device computes in (float16/bfloat16 where it can)
    j["blas"] = blas.path.empty() ? nlohmann::json(nullptr)
                                  : nlohmann::json({{"path", blas.path}, {"kind", blas.kind}});
    j["agent_version"] = WATTFLEET_VERSION;
    j["sensors"] = nlohmann::json::array();
    for (const auto& s : sensors) {
      j["sensors"].push_back({{"backend", s.backend}, {"available", s.available}, {"reason", s.reason}});
    }
    // null figures: not exposed here.
    nlohmann::json t;
    t["source"] = sample.ok() && !sample->source.empty() ? nlohmann::json(sample->source)
                                                         : nlohmann::json(nullptr);
    t["temperature_c"] = sample.ok() ? figure(sample->temperature_c) : nlohmann::json(nullptr);
    t["clock_mhz"] = sample.ok() ? figure(sample->clock_mhz) : nlohmann::json(nullptr);
    t["reason"] = sample.ok() ? telemetry_why : telemetry_why + ": " + sample.status().message();
    j["telemetry"] = t;
    // The meter a job would use (--sensor), characterised by polling it.
    nlohmann::json m = {{"sensor", sensor}};
    if (character.ok()) {
      m["backend"] = backend;
      m["character"] = SensorCharacterJson(*character);
    } else {
      m["error"] = character.status().message();
    }
    j["meter"] = m;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "host        " << d.hostname << "\n"
            << "cpu         " << d.cpu_model << " (" << d.cores << " cores)\n"
            << "memory      " << d.memory_bytes / (1 << 20) << " MiB\n"
            << "libtorch    " << (torch.empty() ? "not built in" : torch) << "\n"
            << "dtypes      " << (dtypes.empty() ? "none" : "");
  for (size_t i = 0; i < dtypes.size(); ++i) std::cout << (i ? ", " : "") << dtypes[i];
  std::cout << "\n"
            << "blas        " << (blas.path.empty() ? "none mapped" : blas.kind + ", " + blas.path)
            << (blas.kind == "reference"
                    ? " (matrix products run many times slower than with an optimised BLAS: "
                      "docs/operations.md)"
                    : "")
            << "\n"
            << "sensors:\n";
  for (const auto& s : sensors) {
    std::cout << "  " << (s.available ? "[x] " : "[ ] ") << s.backend << ": " << s.reason << "\n";
  }
  std::cout << "meter       ";
  if (character.ok()) {
    std::cout << backend << ": " << DescribeSensor(*character) << "\n";
  } else {
    std::cout << sensor << ": " << character.status().message() << "\n";
  }
  std::cout << "telemetry   ";
  if (!sample.ok()) {
    std::cout << "unreadable: " << sample.status().message() << "\n";
  } else {
    if (sample->temperature_c) {
      std::cout << *sample->temperature_c << " C, ";
    } else {
      std::cout << "temperature not exposed, ";
    }
    if (sample->clock_mhz) {
      std::cout << *sample->clock_mhz << " MHz";
    } else {
      std::cout << "clock not exposed";
    }
    std::cout << " (" << telemetry_why << ")\n";
  }
  return 0;
}

}  // namespace

namespace wattfleet {
namespace {

// The agent's flags, as the command line sets them.
struct AgentFlags {
  std::string controller, name, device = "cpu", device_class, sensor = "auto", spool_dir;
  int prefetch = 1, threads = 0;
  int64_t heartbeat_ms = 1000, max_jobs = 0;
  std::string log_level = "info";
  SensorRoots roots;
  std::string curve_server_key, curve_keypair;
  std::vector<int> cpus;
  std::string isolation = "process";
  int64_t parent_pid = 0;
  bool probe_json = false;
  double sensor_period_s = 0;  // exec-worker: the agent's characterised update period
};

struct Subcommands {
  CLI::App* probe = nullptr;
  CLI::App* exec_worker = nullptr;
};

void AddConnectionOptions(CLI::App& app, AgentFlags& f) {
  app.add_option("--controller", f.controller, "controller endpoint, e.g. tcp://HOST:5555");
  app.add_option("--name", f.name, "agent name, unique in the fleet (default: HOST-DEVICE)");
  app.add_option("--device", f.device, "cpu | cuda:N")->capture_default_str();
  app.add_option("--device-class", f.device_class,
                 "queue this agent serves (default: cpu or cuda)");
  app.add_option("--sensor", f.sensor, MeterBackendChoices())->capture_default_str();
  app.add_option("--spool", f.spool_dir, "result spool directory");
  app.add_option("--prefetch", f.prefetch, "jobs held at once")->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--threads", f.threads, "intra-op threads (0: libtorch default)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--heartbeat-ms", f.heartbeat_ms, "heartbeat interval before WELCOME")
      ->check(CLI::Range(int64_t{10}, int64_t{60000}));
  app.add_option("--max-jobs", f.max_jobs, "exit after this many jobs (0: never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--curve-server-key", f.curve_server_key,
                 "controller's public key file (NAME.key)");
  app.add_option("--curve-keypair", f.curve_keypair, "this agent's key pair (NAME.key_secret)");
  app.add_option("--cpus", f.cpus, "pin the agent to these CPU cores (e.g. --cpus 0 1)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--isolation", f.isolation,
                 "process: each job runs in a child process that is killed when it crashes, "
                 "hangs or exhausts memory; none: in the agent itself")
      ->check(CLI::IsMember({"process", "none"}))
      ->capture_default_str();
  // Set by `wattfleet run`: the agent dies with that process, even when it is SIGKILLed.
  app.add_option("--parent-pid", f.parent_pid,
                 "exit when this process (the agent's parent) ends")
      ->check(CLI::PositiveNumber)->group("");
}

void AddSensorOptions(CLI::App& app, AgentFlags& f) {
  SensorRoots& roots = f.roots;
  app.add_option("--sysfs-root", roots.sysfs_root, "root of sysfs (tests point it at a fake tree)")
      ->capture_default_str();
  app.add_option("--proc-root", roots.proc_root, "root of procfs")->capture_default_str();
  app.add_option("--nvml-library", roots.nvml_library, "NVML library loaded at run time")
      ->capture_default_str();
  // What the modeled meter assumes, shown by probe and stored with each measurement.
  app.add_option("--modeled-core-w", roots.modeled.core_w,
                 "modeled meter: power of one fully busy core in W (0: 15)")
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--modeled-package-w", roots.modeled.tdp_w,
                 "modeled meter: power of the whole CPU at full load in W, instead of "
                 "--modeled-core-w x cores (0: not set)")
      ->check(CLI::Range(0.0, 100000.0));
  app.add_option("--modeled-idle-fraction", roots.modeled.idle_fraction,
                 "modeled meter: idle power as a fraction of full load")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
}

Subcommands AddSubcommands(CLI::App& app, AgentFlags& f) {
  Subcommands sub;
  sub.probe = app.add_subcommand("probe", "what this device is and which sensors work");
  sub.probe->add_flag("--json", f.probe_json, "one JSON document on stdout");
  // The child process of --isolation process; not for direct use.
  sub.exec_worker = app.add_subcommand("exec-worker", "")->group("");
  sub.exec_worker->add_option("--sensor-period", f.sensor_period_s)
      ->check(CLI::NonNegativeNumber);
  return sub;
}

// Before connecting: the parent watch, the name (stable across restarts, and so the spool
// derived from it: results a crashed agent left behind are replayed by its successor), the
// device class, the spool and the cores. A message and the exit code on failure.
std::optional<int> Settle(AgentFlags& f, const DeviceInfo& info) {
  if (f.controller.empty()) {
    std::cerr << "--controller is required (e.g. --controller tcp://127.0.0.1:5555)\n";
    return 2;
  }
  if (f.parent_pid > 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died before the line above: then it will never signal.
    if (::getppid() != static_cast<pid_t>(f.parent_pid)) {
      std::cerr << "--parent-pid " << f.parent_pid << ": that process has already ended\n";
      return 1;
    }
  }
  if (f.name.empty()) {
    f.name = info.hostname + "-" + f.device;
    for (char& c : f.name) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f || c == '/' || c == ':') c = '-';
    }
    if (f.name.size() > kMaxAgentNameBytes) f.name.resize(kMaxAgentNameBytes);
  }
  // The controller refuses a READY whose name breaks this rule: say so before connecting.
  if (Status s = CheckAgentName(f.name); !s.ok()) {
    std::cerr << "--name: " << s.message() << "\n";
    return 2;
  }
  if (f.device_class.empty()) f.device_class = f.device.rfind("cuda", 0) == 0 ? "cuda" : "cpu";
  if (f.spool_dir.empty()) {
    auto spool = DefaultSpool(f.name);
    if (!spool.ok()) {
      std::cerr << spool.status().message() << " (or give --spool)\n";
      return 2;
    }
    f.spool_dir = std::move(spool).value();
  }
  if (!f.cpus.empty()) {
    // Pinned agents do not migrate between cores mid-window, nor share one with each other.
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : f.cpus) CPU_SET(c, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) {
      std::cerr << "--cpus: cannot pin to the given cores: " << std::strerror(errno) << "\n";
      return 2;
    }
  }
  return std::nullopt;
}

// What the meter can resolve, measured before any job relies on it.
SensorCharacter CharacteriseAtStart(Meter& meter) {
  auto c = Characterise(meter, SystemClock());
  if (!c.ok()) {
    spdlog::warn("agent: sensor not characterised: {}", c.status().message());
    return SensorCharacter{};
  }
  if (c->stuck) {
    spdlog::warn("agent: sensor: {}", DescribeSensor(*c));
  } else {
    spdlog::info("agent: sensor: {}", DescribeSensor(*c));
  }
  return std::move(c).value();
}

// Short runs (about 0.8 s in all) before registering: what the device can attain.
void MeasurePeaks(Executor& executor, ReadyMsg& ready) {
  if (auto peak = executor.MeasurePeakFlops(0.3); peak.ok()) {
    ready.peak_flops = *peak;
    spdlog::info("agent: peak {:.1f} GFLOP/s (float32 matrix product)", *peak / 1e9);
  } else {
    spdlog::info("agent: peak throughput unknown: {}", peak.status().message());
  }
  if (auto conv = executor.MeasurePeakConvFlops(0.3); conv.ok()) {
    ready.peak_conv_flops = *conv;
    spdlog::info("agent: peak {:.1f} GFLOP/s (float32 3x3 convolution)", *conv / 1e9);
  }
  if (auto pointwise = executor.MeasurePointwiseFlops(0.2); pointwise.ok()) {
    ready.pointwise_flops = *pointwise;
    spdlog::info("agent: {:.1f} GFLOP/s (float32 batch-1 1x1 convolution)", *pointwise / 1e9);
  }
}

// The exec-worker's command line: this agent's executor and meter flags; its logs share this
// agent's stderr.
std::vector<std::string> WorkerArgv(const AgentFlags& f, double sensor_period_s) {
  const SensorRoots& roots = f.roots;
  return {SelfExe(),
          "--device", f.device,
          "--sensor", f.sensor,
          "--threads", std::to_string(f.threads),
          "--sysfs-root", roots.sysfs_root,
          "--proc-root", roots.proc_root,
          "--nvml-library", roots.nvml_library,
          "--modeled-core-w", std::to_string(roots.modeled.core_w),
          "--modeled-package-w", std::to_string(roots.modeled.tdp_w),
          "--modeled-idle-fraction", std::to_string(roots.modeled.idle_fraction),
          "--log-level", f.log_level,
          "exec-worker", "--sensor-period", std::to_string(sensor_period_s)};
}

// The connection's options; InvalidArgument naming the flag for unusable CURVE keys.
Result<AgentOptions> ConnectionOptions(const AgentFlags& f) {
  AgentOptions options;
  if (f.curve_server_key.empty() != f.curve_keypair.empty()) {
    return Status::InvalidArgument("--curve-server-key and --curve-keypair go together");
  }
  if (!f.curve_server_key.empty()) {
    auto server = ReadCurvePublicKey(f.curve_server_key);
    if (!server.ok()) {
      return Status::InvalidArgument("--curve-server-key: " + server.status().message());
    }
    auto mine = ReadCurveKeyPair(f.curve_keypair);
    if (!mine.ok() || mine->secret_key.empty()) {
      return Status::InvalidArgument(
          "--curve-keypair: " +
          (mine.ok() ? f.curve_keypair + " holds no secret key" : mine.status().message()));
    }
    options.curve_server_public = server->public_key;
    options.curve_public = mine->public_key;
    options.curve_secret = mine->secret_key;
  }
  options.controller = f.controller;
  options.heartbeat_ms = f.heartbeat_ms;
  options.max_jobs = f.max_jobs;
  return options;
}

// Registers with the controller and runs jobs until a stop signal.
int RunDaemon(AgentFlags f) {
  const DeviceInfo info = ProbeDevice(f.roots.proc_root);
  if (auto code = Settle(f, info)) return *code;
  std::string why;
  auto meter = OpenMeter(f.sensor, f.roots, &why);
  if (!meter.ok()) {
    std::cerr << meter.status().message() << "\n";
    return 2;
  }
  spdlog::info("agent: sensor {} ({})", (*meter)->name(), why);
  const SensorCharacter character = CharacteriseAtStart(**meter);
  std::unique_ptr<Meter> sized = WithUpdatePeriod(**meter, character.EffectivePeriod());
  auto executor = MakeExecutor(ExecutorOptions{f.device, f.threads});
  if (!executor.ok()) {
    std::cerr << executor.status().message() << "\n";
    return 2;
  }
  auto spool = Spool::Open(f.spool_dir);
  if (!spool.ok()) {
    std::cerr << "--spool: " << spool.status().message() << "\n";
    return 2;
  }
  auto options = ConnectionOptions(f);
  if (!options.ok()) {
    std::cerr << options.status().message() << "\n";
    return 2;
  }

  ReadyMsg ready;
  ready.name = f.name;
  ready.device_class = f.device_class;
  ready.device = f.device;
  ready.sensor = (*meter)->name();
  ready.hostname = info.hostname;
  ready.cores = info.cores;
  ready.memory_bytes = info.memory_bytes;
  ready.agent_version = WATTFLEET_VERSION;
  ready.torch_version = (*executor)->torch_version();
  ready.prefetch = f.prefetch;
  ready.sensor_character = character;
  MeasurePeaks(**executor, ready);

  // Opened here for the log line and the in-process runner; an exec-worker opens its own.
  std::string telemetry_why;
  std::unique_ptr<Telemetry> telemetry = OpenTelemetry(f.roots, &telemetry_why);
  spdlog::info("agent: telemetry {}", telemetry_why);
  std::unique_ptr<JobRunner> runner;
  // For the in-process runner; the exec-worker opens its own (its pid runs the jobs).
  ProcCpuActivity activity(f.roots.proc_root);
  std::unique_ptr<InterferenceProbe> interference;
  if (f.isolation == "process") {
    ChildRunnerOptions child;
    child.argv = WorkerArgv(f, character.EffectivePeriod());
    runner = MakeChildProcessRunner(child);
  } else {
    std::string interference_why;
    interference = OpenInterference(*sized, f.roots, activity, ::getpid(), &interference_why);
    spdlog::info("agent: interference {}", interference_why);
    runner = std::make_unique<InProcessRunner>(**executor, *sized, f.device, telemetry.get(),
                                               interference.get());
  }

  // A worker that died mid-write must not take the agent down with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  Agent agent(*options, ready, *runner, *spool);
  g_agent.store(&agent);
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGINT, OnStopSignal);
  spdlog::info("agent: {} ({}, {}) connecting to {}", f.name, f.device_class, f.device,
               f.controller);
  Status s = agent.Run();
  g_agent.store(nullptr);
  if (!s.ok()) {
    spdlog::error("agent: {}", s.ToString());
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  spdlog::info("agent: stopped");
  return 0;
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  using namespace wattfleet;
  CLI::App app{"wattfleet-agent: runs layer jobs on this device and reports their energy"};
  app.set_version_flag("--version", VersionLine("wattfleet-agent", ExecutorLibtorchVersion()),
                       "print the version, git revision and libtorch, and exit");
  app.require_subcommand(0, 1);
  AgentFlags f;
  AddConnectionOptions(app, f);
  AddSensorOptions(app, f);
  const Subcommands sub = AddSubcommands(app, f);
  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  f.roots.device = f.device;
  // Logs go to stderr: stdout is for --json documents.
  spdlog::set_default_logger(spdlog::stderr_color_mt("agent", LogColours()));
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  if (sub.probe->parsed()) return Probe(f.roots, f.sensor, f.probe_json);
  if (sub.exec_worker->parsed()) {
    return ExecWorkerMain(f.device, f.sensor, f.threads, f.sensor_period_s, f.roots);
  }
  return RunDaemon(std::move(f));
}
