// THOR probe models: a layer kind's input, hidden and output layers at chosen widths.
#include "wattfleet/common/probe.h"

#include <utility>

namespace wattfleet {
namespace {

bool IsConv(LayerType t) { return t == LayerType::kConv1d || t == LayerType::kConv2d; }
bool IsRecurrent(LayerType t) { return t == LayerType::kLSTM || t == LayerType::kGRU; }

// One layer of the kind, cin -> cout, with its activation.
void AddLayer(GraphBuilder& g, const ProbeKind& kind, int64_t cin, int64_t cout,
              const std::string& name) {
  auto params = kind.fixed;
  if (IsConv(kind.type)) {
    params["in_channels"] = static_cast<double>(cin);
    params["out_channels"] = static_cast<double>(cout);
  } else if (IsRecurrent(kind.type)) {
    params["input_size"] = static_cast<double>(cin);
    params["hidden_size"] = static_cast<double>(cout);
  } else {
    params["in_features"] = static_cast<double>(cin);
    params["out_features"] = static_cast<double>(cout);
  }
  g.Then(kind.type, std::move(params), name);
  if (!IsRecurrent(kind.type)) g.Then(LayerType::kReLU, {}, name + "_relu");
}

// The output layer: pooling and a Linear for convolutions, the last step and a Linear for
// recurrent layers, a Linear for Linear.
void AddOutput(GraphBuilder& g, const ProbeKind& kind, int64_t cin) {
  const Shape in = g.ShapeOf(g.last());
  if (kind.type == LayerType::kConv2d) {
    g.Then(LayerType::kAdaptiveAvgPool2d, {{"output_size", 1}}, "out_pool");
    g.Then(LayerType::kFlatten, {}, "out_flatten");
  } else if (kind.type == LayerType::kConv1d) {
    g.Then(LayerType::kAdaptiveAvgPool1d, {{"output_size", 1}}, "out_pool");
    g.Then(LayerType::kFlatten, {}, "out_flatten");
  } else if (IsRecurrent(kind.type) && !in.empty()) {
    g.Then(LayerType::kSelectToken, {{"index", static_cast<double>(in[0] - 1)}}, "out_last");
  }
  g.Then(LayerType::kLinear,
         {{"in_features", static_cast<double>(cin)},
          {"out_features", static_cast<double>(kind.classes)}},
         "out");
}

// The output layer alone reading widths[0] (`output_only`), or the chain C0 -> widths[0] ->
// ... -> widths.back() followed by the output layer.
Result<Architecture> Build(const ProbeKind& kind, bool output_only,
                           const std::vector<int64_t>& widths, const std::string& name) {
  const std::string where = "probe kind '" + kind.name + "'";
  const bool supported = IsConv(kind.type) || IsRecurrent(kind.type) ||
                         kind.type == LayerType::kLinear;
  if (!supported) {
    return Status::InvalidArgument(where + ": " + std::string(LayerTypeName(kind.type)) +
                                   " has no probe models (Conv1d, Conv2d, Linear, LSTM, GRU)");
  }
  for (int64_t w : widths) {
    if (w < 1) return Status::InvalidArgument(where + ": widths must be positive");
  }
  if (kind.input_shape.empty()) return Status::InvalidArgument(where + ": no input shape");
  if (kind.classes < 1) return Status::InvalidArgument(where + ": classes must be positive");
  // The channel (feature) dimension of the network input.
  const size_t channel_dim = IsRecurrent(kind.type) ? kind.input_shape.size() - 1 : 0;
  Shape input = kind.input_shape;
  if (output_only) input[channel_dim] = widths[0];
  GraphBuilder g(name, "probe", input);
  if (!output_only) {
    int64_t cin = kind.input_shape[channel_dim];
    for (size_t i = 0; i < widths.size(); ++i) {
      AddLayer(g, kind, cin, widths[i], i == 0 ? "in" : widths.size() == 2 ? "hidden"
                                                                          : "hidden" + std::to_string(i));
      cin = widths[i];
    }
  }
  // "Same" layers only: the output layer must see the input's spatial size at every depth.
  if (g.status().ok() && IsConv(kind.type)) {
    Shape seen = g.ShapeOf(g.last());
    seen[0] = kind.input_shape[0];
    if (seen != kind.input_shape) {
      return Status::InvalidArgument(where + ": its layers change the spatial size (" +
                                     ShapeToString(kind.input_shape) + " becomes " +
                                     ShapeToString(seen) + "); probes need 'same' layers");
    }
  }
  AddOutput(g, kind, widths.back());
  return std::move(g).Finish();
}

}  // namespace

std::string_view ProbeRoleName(ProbeRole role) {
  switch (role) {
    case ProbeRole::kOutput: return "output";
    case ProbeRole::kInput: return "input";
    case ProbeRole::kHidden: return "hidden";
  }
  return "unknown";
}

Result<Architecture> BuildProbe(const ProbeKind& kind, ProbeRole role,
                                const std::vector<int64_t>& widths) {
  const size_t want = role == ProbeRole::kHidden ? 2 : 1;
  if (widths.size() != want) {
    return Status::InvalidArgument("probe kind '" + kind.name + "': a " +
                                   std::string(ProbeRoleName(role)) + " probe takes " +
                                   std::to_string(want) + " width(s)");
  }
  std::string name = kind.name + "/" + std::string(ProbeRoleName(role)) + "/";
  for (size_t i = 0; i < widths.size(); ++i) name += (i ? "x" : "") + std::to_string(widths[i]);
  return Build(kind, role == ProbeRole::kOutput, widths, name);
}

Result<Architecture> BuildThorChain(const ProbeKind& kind, const std::vector<int64_t>& widths,
                                    const std::string& name) {
  if (widths.empty()) {
    return Status::InvalidArgument("probe kind '" + kind.name + "': a network needs a width");
  }
  return Build(kind, false, widths, name);
}

}  // namespace wattfleet
