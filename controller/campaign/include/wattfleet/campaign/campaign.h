// A campaign as written by a researcher: parsed from YAML, validated, architectures expanded.
//
// Every error names `file:line:column: what is wrong` (yaml-cpp marks are 0-based; messages
// are 1-based). A campaign that fails validation is never stored.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// Which devices run the campaign. Today only `class` decides the queue; the other selectors
// are kept for the dispatcher's capability matching.
struct DeviceSelector {
  std::string device_class;  // "cpu", "cuda", "jetson", ...
  std::string name_glob;     // optional
  std::string accelerator;   // optional
  std::string sensor;        // optional
};

// plan.active: THOR's probes chosen while the campaign runs (active_profiler.h).
struct ActiveOptions {
  // Probe jobs per kind and device class at most, the seed included.
  int64_t budget_jobs = 0;
  // A kind is finished once the relative posterior std of every target (aiming at the
  // grid: of every candidate probe) is under this.
  double target_rel_std = 0.05;
  // What the probes are chosen for (active_profiler.h). kNetworks: the campaign's own
  // networks that THOR predicts (its targets), or, when it has none, the grid; kGrid: the
  // whole probe grid, for a model meant for networks the campaign does not list.
  enum class Aim { kNetworks, kGrid };
  Aim aim = Aim::kNetworks;
};

struct PlanOptions {
  bool distinct_layers = true;  // plan.layers: distinct (each distinct layer once per class)
  bool layers = true;           // plan.layers: none (whole models only) sets it false
  bool whole_models = true;     // plan.whole_models
  bool thor_probes = false;     // plan.thor_probes: THOR's 1-, 2- and 3-layer probe models
  // plan.thor_probes.widths: the width grid of the probes (channels or units).
  std::vector<int64_t> probe_widths = {8, 16, 32, 64};
  // plan.active (only with thor_probes): start from a seed, then measure the most uncertain
  // probe of the grid until the target or the budget is reached.
  std::optional<ActiveOptions> active;
};

// The largest batch a campaign (or a prediction) may ask for: beyond what any device runs in
// one iteration, and far below where per-iteration features would overflow.
inline constexpr int64_t kMaxBatchSize = 65536;
// The most batches one campaign may sweep (each multiplies its jobs).
inline constexpr size_t kMaxBatchSizes = 16;
// The most device selectors (each class multiplies the jobs): a fleet has a handful.
inline constexpr size_t kMaxDeviceSelectors = 32;
// A campaign file larger than this is refused before it is parsed: a real one (even 10 000
// architectures listed one by one) is a few hundred KiB.
inline constexpr size_t kMaxCampaignBytes = 1 << 20;
// The longest campaign name, and the longest other name (device class, family, a file path)
// a campaign may give.
inline constexpr size_t kMaxCampaignNameLength = 128;
inline constexpr size_t kMaxNameLength = 4096;

struct Campaign {
  std::string name;
  Mode mode = Mode::kInference;
  // Training: the step's optimiser and loss (`optimizer:`, `loss:`; training_step.h).
  Optimizer optimizer = Optimizer::kSgd;
  Loss loss = Loss::kCrossEntropy;
  DType dtype = DType::kFloat32;
  // Every batch the architectures are planned at (`batch_size: 16` or `batch_size: [1, 8, 32]`),
  // in file order, distinct; batch_size is the first (the campaigns table's column). A campaign
  // built in code may set batch_size only: Batches() is what to plan.
  std::vector<int64_t> batch_sizes;
  int64_t batch_size = 1;
  std::vector<int64_t> Batches() const {
    return batch_sizes.empty() ? std::vector<int64_t>{batch_size} : batch_sizes;
  }
  std::vector<DeviceSelector> devices;  // at least one
  MeasurementSettings measurement;
  std::vector<Architecture> architectures;  // expanded, unique names, in file order
  PlanOptions plan;
  std::vector<std::string> estimators;
  std::string source_path;  // as given
  std::string source_text;  // the YAML itself, stored with the campaign
};

// Parses and validates a campaign. `path` is used in messages.
Result<Campaign> ParseCampaign(const std::string& yaml_text, const std::string& path);
// Reads the file, then ParseCampaign. A missing file is InvalidArgument naming the path.
Result<Campaign> LoadCampaignFile(const std::string& path);
// The `plan` section of a campaign that was validated when it was stored, without expanding
// its architectures (which may be large sweeps or TorchScript files): the controller reads
// a running campaign's plan.active from the YAML stored with it.
Result<PlanOptions> ParseCampaignPlan(const std::string& yaml_text, const std::string& path);

}  // namespace wattfleet
