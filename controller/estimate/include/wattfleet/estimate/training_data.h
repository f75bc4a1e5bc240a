// What the estimators learn from: the dataset's DONE measurements as layer samples (one per
// measured layer job, with the layer's features) and model samples (one per measured whole
// architecture or probe, with the layer keys it is made of), per device class.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/common/layer.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

class DatasetReader;

// Features of one layer job, per iteration (per-sample features x batch).
struct LayerSample {
  std::string device_class;
  std::string mode;
  std::string campaign;  // the campaign that measured it; "import:SOURCE" for imported rows
  std::string key;   // canonical key
  std::string type;  // "Conv2d", ...
  int64_t batch = 1;
  double macs = 0, flops = 0, params = 0, input_elements = 0, output_elements = 0;
  double kernel = 0, stride = 0, groups = 0;  // 0 where the type has none
  // Calls of its kernels per iteration: an optimiser's update runs its kernels once per
  // parameter tensor (its `tensors`), a recurrent layer once per step, layer and direction,
  // every other layer once. What a call costs on its own (launch, dispatch) is paid this
  // many times.
  double calls = 1;
  // An optimiser's update: its parameters in tensors the allocator maps on its own
  // (`large_params`, common/training_step.h), whose temporaries fault in afresh every step.
  double mapped_params = 0;
  double energy_j = 0;          // raw, per iteration
  double energy_dynamic_j = 0;  // idle power subtracted
  double time_s = 0;            // per iteration
  bool energy_is_estimate = false;  // modeled energy (no power sensor): measured time only
  // It carries quality flags (QualityFlags in job.h): only ever here when flagged
  // measurements were kept (TrainingDataOptions::include_flagged), to be shown marked.
  bool flagged = false;
};

// Sets what `s` is priced by, per iteration at `s->batch`, from a layer's per-sample features
// and its spec's parameters (`param` gives one by name, 0 where it has none): the dataset's
// layers and a predicted architecture's are priced alike. An optimiser's update works per
// parameter whatever the batch, and pays a call per parameter tensor.
void SetPricedFeatures(const LayerFeatures& per_sample, bool optimizer_step,
                       const std::function<double(const char*)>& param, LayerSample* s);

// What a layer type's `calls` count (LayerSample::calls): its calls, its parameter tensors (an
// optimiser's update) or its time steps per layer and direction (a recurrent layer). A curve's
// per-call term prices another type's calls only where both count the same thing.
enum class CallUnit { kCall, kTensor, kStep };
CallUnit CallUnitOf(std::string_view type);

// What the measuring agent reported about its device (the devices table's capabilities_json);
// 0 where it did not report the figure.
struct DeviceFeatures {
  double cores = 0;
  double memory_bytes = 0;
  double peak_flops = 0;   // attainable float32 FLOP/s (a matrix product)
  double max_power_w = 0;  // power limit (board TDP, RAPL constraint)
  double peak_conv_flops = 0;  // attainable float32 FLOP/s through a 3x3 convolution
  double pointwise_flops = 0;  // float32 FLOP/s of a batch-1 1x1 convolution
};

// One whole architecture (or probe) measured on a device class.
struct ModelSample {
  std::string device_class;
  std::string mode;
  std::string campaign;  // the campaign that measured it; "import:SOURCE" for imported rows
  std::string name;
  std::string family;
  JobKind kind = JobKind::kModel;  // kModel or kProbe
  int64_t batch = 1;
  double macs = 0, flops = 0, params = 0;  // per iteration
  std::vector<std::string> layer_keys;     // one per node, in order (empty for probes)
  // THOR's view (thor_signature.h): the probe kind of the network and its widths C_1 …
  // C_{n-1}, for architectures THOR can predict and for probes; empty otherwise.
  std::string thor_kind;
  std::vector<int64_t> thor_widths;
  std::string probe_role;  // probes: "output" | "input" | "hidden"; empty for models
  double energy_j = 0, energy_dynamic_j = 0, time_s = 0;
  bool energy_is_estimate = false;  // modeled energy (no power sensor): measured time only
  bool flagged = false;             // as LayerSample::flagged
  // Elements of one input sample (product of the architecture's input shape); 0 unknown.
  double input_size = 0;
  DeviceFeatures device;  // of the agent that measured it
};

struct TrainingData {
  std::vector<LayerSample> layers;
  std::vector<ModelSample> models;
  // The features of every layer the dataset knows by key, measured or not, at batch 1 (no
  // device, mode or measured values): what a whole model's layers are looked up in when
  // they were never measured on their own.
  std::map<std::string, LayerSample> layer_features;
  // Measurements left out because they carry quality flags (TrainingDataOptions), whole-model
  // measurements that failed the layer-sum check (layer_sum.h) included; those alone too.
  int64_t flagged_left_out = 0;
  int64_t layer_sum_left_out = 0;
  // The ids of the dataset's measurements these samples come from, by (device class, mode),
  // in storage order, flagged ones included: what a stored model's fingerprint is taken over
  // (model_store.h), so that any new measurement means a new fit.
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> measurement_ids;
  // Whether flagged measurements were kept (TrainingDataOptions::include_flagged).
  bool include_flagged = false;
  // Device classes with samples, sorted.
  std::vector<std::string> DeviceClasses() const;
};

struct TrainingDataOptions {
  // Keep measurements with quality flags (a missed CI target, interference, energy below
  // idle: QualityFlags in job.h; and whole models failing the layer-sum check, layer_sum.h). By default they train nothing: a number the protocol itself
  // doubts must not pull an estimator.
  bool include_flagged = false;
};

// Reads the dataset `db` names (an SQLite file or a postgresql:// URI), read-only.
// InvalidArgument when it is missing or not a wattfleet dataset.
Result<TrainingData> LoadTrainingData(const std::string& db,
                                      const TrainingDataOptions& options = {});
// The same from an open reader.
Result<TrainingData> LoadTrainingData(DatasetReader& reader,
                                      const TrainingDataOptions& options = {});

}  // namespace wattfleet
