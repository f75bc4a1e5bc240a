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
  const std::string where = "probe kind '" + kind.name + "'";
  const bool supported = IsConv(kind.type) || IsRecurrent(kind.type) ||
                         kind.type == LayerType::kLinear;
  if (!supported) {
    return Status::InvalidArgument(where + ": " + std::string(LayerTypeName(kind.type)) +
                                   " has no probe models (Conv1d, Conv2d, Linear, LSTM, GRU)");
  }
  const size_t want = role == ProbeRole::kHidden ? 2 : 1;
  if (widths.size() != want) {
    return Status::InvalidArgument(where + ": a " + std::string(ProbeRoleName(role)) +
                                   " probe takes " + std::to_string(want) + " width(s)");
  }
  for (int64_t w : widths) {
    if (w < 1) return Status::InvalidArgument(where + ": widths must be positive");
  }
  if (kind.input_shape.empty()) return Status::InvalidArgument(where + ": no input shape");
  if (kind.classes < 1) return Status::InvalidArgument(where + ": classes must be positive");

  std::string name = kind.name + "/" + std::string(ProbeRoleName(role)) + "/";
  for (size_t i = 0; i < widths.size(); ++i) name += (i ? "x" : "") + std::to_string(widths[i]);

  // The channel (feature) dimension of the network input.
  const size_t channel_dim = IsRecurrent(kind.type) ? kind.input_shape.size() - 1 : 0;
  const int64_t c0 = kind.input_shape[channel_dim];
  Shape input = kind.input_shape;
  if (role == ProbeRole::kOutput) input[channel_dim] = widths[0];

  GraphBuilder g(name, "probe", input);
  if (role != ProbeRole::kOutput) AddLayer(g, kind, c0, widths[0], "in");
  if (role == ProbeRole::kHidden) AddLayer(g, kind, widths[0], widths[1], "hidden");
  const int64_t last_width = widths.back();
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
  AddOutput(g, kind, last_width);
  return std::move(g).Finish();
}

}  // namespace wattfleet
