#include "wattfleet/common/training_step.h"

#include <algorithm>

namespace wattfleet {

LayerType LossLayerType(Loss loss) {
  return loss == Loss::kMse ? LayerType::kMSELoss : LayerType::kCrossEntropyLoss;
}

LayerType StepLayerType(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::kSgd: return LayerType::kSGDStep;
    case Optimizer::kSgdMomentum: return LayerType::kSGDMomentumStep;
    case Optimizer::kAdam: return LayerType::kAdamStep;
    case Optimizer::kAdamW: return LayerType::kAdamWStep;
  }
  return LayerType::kSGDStep;
}

std::vector<int64_t> ParameterTensorSizes(const LayerSpec& spec, int64_t params) {
  const int64_t bias = spec.Int("bias", 1) != 0 ? 1 : 0;
  const int64_t width = spec.input_shape.empty() ? 0 : spec.input_shape.back();
  // A weight and, where the layer has one, its bias of `outputs` elements.
  auto weighted = [&](int64_t outputs) {
    std::vector<int64_t> sizes = {params - bias * outputs};
    if (bias != 0) sizes.push_back(outputs);
    return sizes;
  };
  switch (spec.type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d:
    case LayerType::kConvTranspose2d: return weighted(spec.Int("out_channels", 0));
    case LayerType::kLinear: return weighted(spec.Int("out_features", 0));
    // A scale and a shift per channel.
    case LayerType::kBatchNorm1d:
    case LayerType::kBatchNorm2d: return {params / 2, params / 2};
    case LayerType::kLayerNorm:
      if (spec.Int("elementwise_affine", 1) == 0) return {};
      return {params / 2, params / 2};
    case LayerType::kGroupNorm:
      if (spec.Int("affine", 1) == 0) return {};
      return {params / 2, params / 2};
    case LayerType::kEmbedding:
    case LayerType::kClassToken:
    case LayerType::kPositionalEmbedding:
    case LayerType::kLayerScale: return {params};
    case LayerType::kLSTM:
    case LayerType::kGRU: {
      // Per layer and direction: the input and hidden weights of every gate, and their
      // biases; a layer past the first reads the previous one's outputs, both directions'.
      const int64_t gates = spec.type == LayerType::kLSTM ? 4 : 3;
      const int64_t hidden = spec.Int("hidden_size", 0);
      const int64_t directions = spec.Int("bidirectional") != 0 ? 2 : 1;
      std::vector<int64_t> sizes;
      for (int64_t layer = 0; layer < spec.Int("num_layers", 1); ++layer) {
        const int64_t in = layer == 0 ? spec.Int("input_size", 0) : hidden * directions;
        for (int64_t d = 0; d < directions; ++d) {
          sizes.push_back(gates * hidden * in);
          sizes.push_back(gates * hidden * hidden);
          if (bias != 0) sizes.insert(sizes.end(), {gates * hidden, gates * hidden});
        }
      }
      return sizes;
    }
    // The packed input projection and the output one, and their biases.
    case LayerType::kMultiheadAttention: {
      std::vector<int64_t> sizes = {3 * width * width, width * width};
      if (bias != 0) sizes.insert(sizes.end(), {3 * width, width});
      return sizes;
    }
    // Attention (4), two feed-forward Linears (4), two LayerNorms (4).
    case LayerType::kTransformerEncoderLayer: {
      const int64_t ff = spec.Int("dim_feedforward", 2048);
      return {3 * width * width, 3 * width, width * width, width, width * ff, ff,
              ff * width,        width,     width,         width, width,      width};
    }
    default: return {};
  }
}

std::vector<int64_t> UpdateTensorSizes(const LayerSpec& update) {
  const int64_t total = update.input_shape.empty() ? 0 : update.input_shape[0];
  if (total < 1) return {};
  const int64_t tensors = std::clamp<int64_t>(update.Int("tensors", 1), 1, total);
  const int64_t large = std::clamp<int64_t>(update.Int("large_tensors", 0), 0, tensors);
  const int64_t held = large == 0 ? 0
                                   : std::clamp<int64_t>(update.Int("large_params", 0), large,
                                                         total - (tensors - large));
  std::vector<int64_t> sizes;
  sizes.reserve(static_cast<size_t>(tensors));
  auto cut = [&sizes](int64_t count, int64_t elements) {
    for (int64_t t = 0; t < count; ++t) {
      sizes.push_back(elements / count + (t < elements % count ? 1 : 0));
    }
  };
  cut(large, held);
  cut(tensors - large, total - held);
  return sizes;
}

Result<std::vector<StepPart>> TrainingStepParts(const Architecture& arch, Optimizer optimizer,
                                                Loss loss) {
  if (arch.nodes.empty()) {
    return Status::InvalidArgument("architecture '" + arch.name + "' has no nodes to train");
  }
  std::vector<StepPart> parts;
  LayerSpec loss_spec;
  loss_spec.type = LossLayerType(loss);
  loss_spec.input_shape = arch.OutputShape();
  auto normalized = Normalize(std::move(loss_spec));
  if (!normalized.ok()) {
    return normalized.status().WithContext("the loss of architecture '" + arch.name + "'");
  }
  parts.push_back({"loss", std::move(normalized).value()});

  int64_t parameters = 0, tensors = 0, large_tensors = 0, large_params = 0;
  for (const ArchNode& node : arch.nodes) {
    WF_ASSIGN_OR_RETURN(const LayerFeatures f, ComputeFeatures(node.spec));
    if (f.params <= 0) continue;
    parameters += f.params;
    const std::vector<int64_t> sizes = ParameterTensorSizes(node.spec, f.params);
    tensors += std::max<int64_t>(1, static_cast<int64_t>(sizes.size()));
    for (int64_t n : sizes) {
      if (n < kMappedParameterElements) continue;
      ++large_tensors;
      large_params += n;
    }
  }
  if (parameters == 0) return parts;
  LayerSpec step;
  step.type = StepLayerType(optimizer);
  step.input_shape = {parameters};
  step.params["tensors"] = static_cast<double>(tensors);
  // Absent where there is none: the update keeps the key it always had. A layout the count
  // of tensors cannot hold (a layer whose tensors are not as listed) is left out too.
  if (large_tensors > 0 && large_tensors <= tensors &&
      large_params <= parameters - (tensors - large_tensors)) {
    step.params["large_tensors"] = static_cast<double>(large_tensors);
    step.params["large_params"] = static_cast<double>(large_params);
  }
  normalized = Normalize(std::move(step));
  if (!normalized.ok()) {
    return normalized.status().WithContext("the optimiser step of architecture '" + arch.name +
                                           "'");
  }
  parts.push_back({"optimizer", std::move(normalized).value()});
  return parts;
}

}  // namespace wattfleet
