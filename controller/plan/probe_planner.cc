// THOR probe planning: kinds from the campaign's input layers, probes over a width grid.
#include "wattfleet/plan/probe_planner.h"

#include <algorithm>

namespace wattfleet {
namespace {

bool IsProbeType(LayerType t) {
  return t == LayerType::kConv1d || t == LayerType::kConv2d || t == LayerType::kLinear ||
         t == LayerType::kLSTM || t == LayerType::kGRU;
}

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "conv2d-k3-p1-3x32x32-c10": everything that distinguishes two kinds.
std::string KindName(const ProbeKind& k) {
  std::string name = Lower(LayerTypeName(k.type));
  for (const auto& [param, value] : k.fixed) {
    name += "-" + param.substr(0, 1) + std::to_string(static_cast<int64_t>(value));
  }
  name += "-";
  for (size_t i = 0; i < k.input_shape.size(); ++i) {
    name += (i ? "x" : "") + std::to_string(k.input_shape[i]);
  }
  return name + "-c" + std::to_string(k.classes);
}

}  // namespace

Result<ProbeKind> ProbeKindOf(const Architecture& arch) {
  const auto first = std::find_if(arch.nodes.begin(), arch.nodes.end(), [](const ArchNode& n) {
    return IsProbeType(n.spec.type);
  });
  if (first == arch.nodes.end()) {
    return Status::NotFound("no Conv1d, Conv2d, Linear, LSTM or GRU layer");
  }
  // Only reshaping may come before the input layer: a network that starts with, say, an
  // Embedding has its cost there, and a deeper Linear is not THOR's input layer.
  for (auto it = arch.nodes.begin(); it != first; ++it) {
    if (it->spec.type != LayerType::kFlatten && it->spec.type != LayerType::kDropout) {
      return Status::InvalidArgument("its first layer is " +
                                     std::string(LayerTypeName(it->spec.type)) +
                                     ", not a layer THOR can probe");
    }
  }
  const LayerSpec& s = first->spec;
  ProbeKind kind;
  kind.type = s.type;
  // The probe's input is what the input layer reads (after a Flatten, say), which must be
  // the network input or a reshaping of it.
  kind.input_shape = s.input_shape;
  const Shape out = arch.OutputShape();
  if (out.size() != 1) {
    return Status::InvalidArgument("its output " + ShapeToString(out) +
                                   " is not a vector of class scores");
  }
  kind.classes = out[0];
  if (s.type == LayerType::kConv1d || s.type == LayerType::kConv2d) {
    const int64_t k = s.Int("kernel_size"), d = s.Int("dilation", 1);
    if (s.Int("stride", 1) != 1 || s.Int("padding") * 2 != d * (k - 1) || s.Int("groups", 1) != 1) {
      return Status::InvalidArgument("its input layer " + CanonicalKey(s) +
                                     " is not a 'same' stride-1 ungrouped convolution");
    }
    kind.fixed = {{"kernel_size", static_cast<double>(k)},
                  {"padding", static_cast<double>(s.Int("padding"))}};
    if (d != 1) kind.fixed["dilation"] = static_cast<double>(d);
  } else if (s.type == LayerType::kLSTM || s.type == LayerType::kGRU) {
    // A stack (num_layers > 1) is probed as single layers: the stack computes exactly a
    // chain of them, which THOR's hidden probes measure.
    if (s.Int("bidirectional") != 0) {
      return Status::InvalidArgument("its input layer " + CanonicalKey(s) +
                                     " is bidirectional");
    }
  } else if (s.input_shape.size() != 1) {
    return Status::InvalidArgument("its input Linear reads " + ShapeToString(s.input_shape) +
                                   ", not a flat vector");
  }
  kind.name = KindName(kind);
  return kind;
}

ProbeKindPlan DeriveProbeKinds(const std::vector<Architecture>& architectures) {
  ProbeKindPlan plan;
  for (const Architecture& arch : architectures) {
    Result<ProbeKind> kind = ProbeKindOf(arch);
    if (!kind.ok()) {
      plan.skipped.push_back("architecture '" + arch.name + "': " + kind.status().message());
      continue;
    }
    const bool seen = std::any_of(plan.kinds.begin(), plan.kinds.end(),
                                  [&](const ProbeKind& k) { return k.name == kind->name; });
    if (!seen) plan.kinds.push_back(std::move(kind).value());
  }
  return plan;
}

Result<std::vector<Architecture>> BuildProbeModels(const std::vector<ProbeKind>& kinds,
                                                   const std::vector<int64_t>& widths) {
  std::vector<Architecture> probes;
  for (const ProbeKind& kind : kinds) {
    for (int64_t w : widths) {
      for (ProbeRole role : {ProbeRole::kOutput, ProbeRole::kInput}) {
        WF_ASSIGN_OR_RETURN(Architecture a, BuildProbe(kind, role, {w}));
        probes.push_back(std::move(a));
      }
    }
    for (int64_t w1 : widths) {
      for (int64_t w2 : widths) {
        WF_ASSIGN_OR_RETURN(Architecture a, BuildProbe(kind, ProbeRole::kHidden, {w1, w2}));
        probes.push_back(std::move(a));
      }
    }
  }
  return probes;
}

}  // namespace wattfleet
