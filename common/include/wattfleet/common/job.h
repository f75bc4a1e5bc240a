// What a job asks an agent to measure, and what a measurement reports back.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/common/architecture.h"

namespace wattfleet {

enum class Mode { kInference, kTraining };
enum class DType { kFloat32, kFloat16, kBFloat16 };
// layer: one layer alone; model: a whole architecture; probe: a THOR probe model.
// kWindow: a span of a user's own code measured with the agent's meters (docs/python.md),
// stored like a job's result but never planned or dispatched.
enum class JobKind { kLayer, kModel, kProbe, kWindow };
// How a job ended (docs/design/protocol.md, failure classes).
enum class Outcome { kDone, kFailed, kTimeout, kKilled, kLost, kSensor };
// A training step's optimiser and loss (a campaign's `optimizer:` and `loss:`,
// docs/campaign.md). Inference jobs carry the defaults and ignore them.
enum class Optimizer { kSgd, kSgdMomentum, kAdam, kAdamW };
enum class Loss { kCrossEntropy, kMse };

std::string_view ModeName(Mode m);        // "inference" | "training"
std::string_view DTypeName(DType d);      // "float32" | "float16" | "bfloat16"
std::string_view JobKindName(JobKind k);  // "layer" | "model" | "probe" | "window"
std::string_view OutcomeName(Outcome o);  // "DONE" | "FAILED" | ...
std::optional<Mode> ParseMode(std::string_view s);
std::optional<DType> ParseDType(std::string_view s);
std::optional<JobKind> ParseJobKind(std::string_view s);
std::optional<Outcome> ParseOutcome(std::string_view s);
std::string_view OptimizerName(Optimizer o);  // "sgd" | "sgd-momentum" | "adam" | "adamw"
std::string_view LossName(Loss l);            // "cross-entropy" | "mse"
std::optional<Optimizer> ParseOptimizer(std::string_view s);
std::optional<Loss> ParseLoss(std::string_view s);
// Infrastructure failures are retried; FAILED (the job itself is bad) never is.
bool IsRetryable(Outcome o);

// The measurement protocol's knobs (docs/measurement.md). Defaults are the documented ones.
struct MeasurementSettings {
  int64_t warmup_ms = 200;       // untimed warm-up, at least this long
  int64_t min_window_ms = 500;   // one window lasts at least this (and >= 10 sensor periods)
  double target_rel_ci = 0.05;   // stop when the 95 % CI half-width / mean is below this
  int64_t min_repeats = 3;       // a CI needs a few windows
  int64_t max_repeats = 20;      // ... and stops here even when the target is missed
  int64_t cooldown_ms = 100;     // pause after the job
  // A window during which other work kept more than this many cores busy (on average) is
  // discarded and measured again, at most max_repeats times per job; past that the windows
  // are kept and the measurement is flagged "interference".
  double max_interference = 0.25;
  bool operator==(const MeasurementSettings& o) const {
    return warmup_ms == o.warmup_ms && min_window_ms == o.min_window_ms &&
           target_rel_ci == o.target_rel_ci && min_repeats == o.min_repeats &&
           max_repeats == o.max_repeats && cooldown_ms == o.cooldown_ms &&
           max_interference == o.max_interference;
  }
};

// Which agents of a device class may take a job (a campaign's `devices:` entry). Empty fields
// match anything; a job with several selectors goes to an agent matching any of them.
struct AgentSelector {
  std::string name_glob;    // fnmatch pattern on the agent's name
  std::string accelerator;  // the agent's device type: "cpu", "cuda", ...
  std::string sensor;       // the agent's meter backend
  bool operator==(const AgentSelector& o) const {
    return name_glob == o.name_glob && accelerator == o.accelerator && sensor == o.sensor;
  }
};

struct JobSpec {
  int64_t job_id = 0;
  int32_t attempt = 0;  // 1 for the first dispatch; retries increment it
  int64_t campaign_id = 0;
  JobKind kind = JobKind::kLayer;
  Mode mode = Mode::kInference;
  DType dtype = DType::kFloat32;
  int64_t batch = 1;
  std::string device_class;  // e.g. "cpu"
  std::vector<AgentSelector> selectors;  // empty: any agent of the class
  // Layer jobs: the layer's canonical key. Model jobs: the architecture's name.
  std::string subject;
  // What to run: a single node for layer jobs, the whole graph for model jobs.
  Architecture graph;
  MeasurementSettings settings;
  int64_t lease_ms = 0;  // the controller requeues the job when this runs out
  // Training: what a whole-model or probe job's step runs after the backward pass, and what
  // its loss is (layer jobs run their layer's forward and backward alone; the loss and the
  // update are layer jobs of their own, training_step.h).
  Optimizer optimizer = Optimizer::kSgd;
  Loss loss = Loss::kCrossEntropy;
};

// One timed window.
struct Repeat {
  int64_t iterations = 0;
  double time_s = 0;    // wall time of the window
  double energy_j = 0;  // meter energy over the window (raw, idle included)
};

struct Measurement {
  std::string sensor;        // meter backend, e.g. "modeled", "rapl"
  std::string domain;        // what it measures, e.g. "package", "cpu-estimate"
  bool energy_is_estimate = false;  // modeled energy is an estimate, never a measurement
  // What an estimated energy rests on (the modeled meter's power at full load and idle);
  // empty for measured energy, or from an agent that predates it.
  std::string energy_model;
  std::vector<Repeat> repeats;
  int64_t iterations_per_window = 0;
  double time_per_iter_s = 0;       // mean over repeats
  double time_std_s = 0;            // sample standard deviation over repeats
  double energy_per_iter_j = 0;     // raw, mean over repeats
  double energy_std_j = 0;
  double energy_dynamic_per_iter_j = 0;  // idle power subtracted
  double idle_w = 0;                // idle baseline used
  double rel_ci = 0;                // 95 % CI half-width / mean of energy per iteration
  double time_rel_ci = 0;           // the same for time per iteration
  bool ci_met = false;              // rel_ci <= target_rel_ci
  // Cores kept busy by other work during the kept windows, on average (NaN: not measured),
  // and how many windows were discarded for interference.
  double interference = std::numeric_limits<double>::quiet_NaN();
  int64_t windows_discarded = 0;
  // What a reviewer should know before trusting it (QualityFlag names): empty when nothing.
  std::vector<std::string> flags;
  // What the sensor itself cannot resolve, per iteration (J): one update period of the
  // window's power plus one counter step, over the window's iterations (docs/measurement.md,
  // "Sensor resolution"). A bound beside the statistical CI, not part of it. NaN: recorded by
  // an agent that predates it. And the sensor's update period the window was sized from (s).
  double energy_bound_j = std::numeric_limits<double>::quiet_NaN();
  double sensor_update_period_s = std::numeric_limits<double>::quiet_NaN();
  // Provenance.
  std::string agent_name;
  std::string agent_version;
  std::string torch_version;
  std::string device;               // "cpu", "cuda:0"
  int64_t threads = 0;
  // Device temperature (degrees C) and clock (MHz) right before the protocol starts and right
  // after its last window (docs/measurement.md, rule 5). NaN: not exposed by the device, or sent
  // by an agent that predates these fields (a missing key keeps the default).
  double temperature_before_c = std::numeric_limits<double>::quiet_NaN();
  double temperature_after_c = std::numeric_limits<double>::quiet_NaN();
  double clock_before_mhz = std::numeric_limits<double>::quiet_NaN();
  double clock_after_mhz = std::numeric_limits<double>::quiet_NaN();
  std::string telemetry_source;     // e.g. "nvml:gpu0", "sysfs:x86_pkg_temp+cpufreq"; "": none
};

// Quality flags a measurement may carry.
inline constexpr const char* kFlagCi = "ci";                      // CI target missed
inline constexpr const char* kFlagInterference = "interference";  // shared the machine
inline constexpr const char* kFlagBelowIdle = "below-idle";       // dynamic energy < 0
inline constexpr const char* kFlagIdleStale = "idle-stale";  // idle measured shared, or long ago
// A program's window shorter than ten sensor updates (window_monitor.h).
inline constexpr const char* kFlagShortWindow = "short-window";
// A whole model whose layers' times sum to far more or less than its own: derived where the
// measurements meet (fit, the run summary), never sent by an agent.
inline constexpr const char* kFlagLayerSum = "layer-sum";
// What a flag means, in a few words for a summary line ("other work shared the machine in
// every window"); the flag itself for one this build does not know.
std::string QualityFlagMeaning(std::string_view flag);
// The flags of `m`: its own, and "ci" for one stored before flags existed.
std::vector<std::string> QualityFlags(const Measurement& m);
// The same as one text, ';'-separated ("ci;interference"); empty when there are none. The
// export's quality_flags column and the measurements table's hold this form.
std::string QualityFlagsText(const Measurement& m);

// What an agent sends back for one job attempt.
struct JobResult {
  int64_t job_id = 0;
  int32_t attempt = 0;
  Outcome outcome = Outcome::kDone;
  std::string error;         // for anything but DONE
  Measurement measurement;   // for DONE
};

}  // namespace wattfleet
