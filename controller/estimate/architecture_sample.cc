// Mirrors the two queries of training_data.cc: its layer query for the catalog entries, its
// model query (the architectures table holds Totals()) for the model sample.
#include "wattfleet/estimate/architecture_sample.h"

#include <algorithm>

#include "wattfleet/common/training_step.h"
#include "wattfleet/plan/thor_signature.h"

namespace wattfleet {
namespace {

double Param(const LayerSpec& spec, const char* name) {
  auto it = spec.params.find(name);
  return it != spec.params.end() ? it->second : 0.0;
}

}  // namespace

Result<LayerSample> MakeLayerSample(const LayerSpec& spec, int64_t batch,
                                    const std::string& device_class, const std::string& mode) {
  if (batch < 1) return Status::InvalidArgument("batch must be at least 1");
  WF_ASSIGN_OR_RETURN(LayerFeatures f, ComputeFeatures(spec));
  LayerSample s;
  s.device_class = device_class;
  s.mode = mode;
  s.key = CanonicalKey(spec);
  s.type = std::string(LayerTypeName(spec.type));
  s.batch = batch;
  SetPricedFeatures(f, IsOptimizerStep(spec.type),
                    [&spec](const char* name) { return Param(spec, name); }, &s);
  return s;
}

Result<ArchitectureSample> MakeArchitectureSample(const Architecture& arch, int64_t batch,
                                                  const std::string& device_class,
                                                  const std::string& mode,
                                                  Optimizer optimizer, Loss loss) {
  if (batch < 1) return Status::InvalidArgument("batch must be at least 1");
  ArchitectureSample out;
  ModelSample& m = out.model;
  m.device_class = device_class;
  m.mode = mode;
  m.name = arch.name;
  m.family = arch.family;
  m.kind = JobKind::kModel;
  m.batch = batch;
  const LayerFeatures totals = arch.Totals();
  const double b = static_cast<double>(batch);
  m.macs = static_cast<double>(totals.macs) * b;
  m.flops = static_cast<double>(totals.flops) * b;
  m.params = static_cast<double>(totals.params);
  m.input_size = static_cast<double>(NumElements(arch.input_shape));
  // THOR predicts only the chains its probes are made of; others keep an empty view.
  if (Result<ThorSignature> signature = ThorSignatureOf(arch); signature.ok()) {
    m.thor_kind = signature->kind.name;
    m.thor_widths = signature->widths;
  }
  std::vector<StepPart> nodes;
  nodes.reserve(arch.nodes.size() + 2);
  for (const ArchNode& node : arch.nodes) nodes.push_back({node.name, node.spec});
  if (mode == ModeName(Mode::kTraining)) {
    WF_ASSIGN_OR_RETURN(std::vector<StepPart> parts, TrainingStepParts(arch, optimizer, loss));
    for (StepPart& part : parts) nodes.push_back(std::move(part));
  }
  for (const StepPart& node : nodes) {
    auto s = MakeLayerSample(node.spec, batch, device_class, mode);
    if (!s.ok()) return s.status().WithContext("node '" + node.name + "' of " + arch.name);
    m.layer_keys.push_back(s->key);
    out.catalog.emplace(s->key, *s);
    out.nodes.push_back(std::move(s).value());
    out.node_names.push_back(node.name);
  }
  return out;
}

}  // namespace wattfleet
