// THOR signatures: an architecture compared, layer by layer, with the chain its kind's probes
// are made of.
#include "wattfleet/plan/thor_signature.h"

#include <charconv>

#include "wattfleet/plan/probe_planner.h"

namespace wattfleet {
namespace {

bool IsRecurrent(LayerType t) { return t == LayerType::kLSTM || t == LayerType::kGRU; }

// The width a layer of the kind produces: channels, features or hidden units.
int64_t OutWidth(const LayerSpec& s) {
  switch (s.type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d: return s.Int("out_channels");
    case LayerType::kLinear: return s.Int("out_features");
    default: return s.Int("hidden_size");
  }
}

// A stacked recurrent layer as the chain of single layers it computes.
Result<std::vector<LayerSpec>> Unstack(const LayerSpec& s) {
  const int64_t layers = s.Int("num_layers", 1);
  std::vector<LayerSpec> out;
  Shape input = s.input_shape;
  for (int64_t l = 0; l < layers; ++l) {
    LayerSpec one = s;
    one.params["num_layers"] = 1;
    if (l > 0) {
      one.params["input_size"] = static_cast<double>(s.Int("hidden_size"));
      input.back() = s.Int("hidden_size");
    }
    one.input_shape = input;
    WF_ASSIGN_OR_RETURN(LayerSpec normalized, Normalize(std::move(one)));
    out.push_back(std::move(normalized));
  }
  return out;
}

}  // namespace

Result<ThorSignature> ThorSignatureOf(const Architecture& arch) {
  WF_ASSIGN_OR_RETURN(ProbeKind kind, ProbeKindOf(arch));
  std::vector<std::string> keys;
  std::vector<int64_t> widths;
  bool started = false;
  for (size_t i = 0; i < arch.nodes.size(); ++i) {
    const ArchNode& node = arch.nodes[i];
    const int previous = i == 0 ? GraphInput(0) : static_cast<int>(i) - 1;
    if (node.inputs != std::vector<int>{previous}) {
      return Status::InvalidArgument("node '" + node.name + "' does not read the previous node; "
                                     "THOR predicts chains");
    }
    // Dropout is the identity at inference and cheap in training; a Flatten before the input
    // layer only reshapes the network input the probes read directly.
    if (node.spec.type == LayerType::kDropout) continue;
    if (!started && node.spec.type == LayerType::kFlatten) continue;
    started = true;
    if (node.spec.type != kind.type) {
      keys.push_back(CanonicalKey(node.spec));
      continue;
    }
    if (IsRecurrent(kind.type)) {
      WF_ASSIGN_OR_RETURN(std::vector<LayerSpec> chain, Unstack(node.spec));
      for (const LayerSpec& s : chain) {
        keys.push_back(CanonicalKey(s));
        widths.push_back(OutWidth(s));
      }
    } else {
      keys.push_back(CanonicalKey(node.spec));
      widths.push_back(OutWidth(node.spec));
    }
  }
  // A Linear kind's output layer is a Linear too: its width is the class count, not a C_i.
  if (kind.type == LayerType::kLinear && !widths.empty()) widths.pop_back();
  if (widths.empty()) {
    return Status::InvalidArgument("it has no layer between its input and its output");
  }
  WF_ASSIGN_OR_RETURN(Architecture chain, BuildThorChain(kind, widths, arch.name));
  std::vector<std::string> expected;
  for (const ArchNode& n : chain.nodes) expected.push_back(CanonicalKey(n.spec));
  if (keys != expected) {
    for (size_t i = 0; i < keys.size() && i < expected.size(); ++i) {
      if (keys[i] != expected[i]) {
        return Status::InvalidArgument("layer " + keys[i] + " is not the probes' " + expected[i]);
      }
    }
    return Status::InvalidArgument("it has " + std::to_string(keys.size()) +
                                   " layers where the probes' chain has " +
                                   std::to_string(expected.size()));
  }
  return ThorSignature{std::move(kind), std::move(widths)};
}

Result<ProbeName> ParseProbeName(const std::string& name) {
  const auto bad = [&] {
    return Status::InvalidArgument("'" + name + "' is not a probe name <kind>/<role>/<widths>");
  };
  const size_t a = name.find('/');
  const size_t b = a == std::string::npos ? a : name.find('/', a + 1);
  if (b == std::string::npos || a == 0) return bad();
  ProbeName out;
  out.kind = name.substr(0, a);
  const std::string role = name.substr(a + 1, b - a - 1);
  if (role == "output") {
    out.role = ProbeRole::kOutput;
  } else if (role == "input") {
    out.role = ProbeRole::kInput;
  } else if (role == "hidden") {
    out.role = ProbeRole::kHidden;
  } else {
    return bad();
  }
  const std::string widths = name.substr(b + 1);
  const char* p = widths.data();
  const char* end = p + widths.size();
  while (p < end) {
    int64_t w = 0;
    auto [next, ec] = std::from_chars(p, end, w);
    if (ec != std::errc() || w < 1) return bad();
    out.widths.push_back(w);
    p = next;
    if (p < end && *p++ != 'x') return bad();
    if (p == end && widths.back() == 'x') return bad();
  }
  if (out.widths.size() != (out.role == ProbeRole::kHidden ? 2u : 1u)) return bad();
  return out;
}

}  // namespace wattfleet
