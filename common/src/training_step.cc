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

int64_t ParameterTensors(const LayerSpec& spec) {
  const int64_t bias = spec.Int("bias", 1) != 0 ? 1 : 0;
  switch (spec.type) {
    case LayerType::kConv1d:
    case LayerType::kConv2d:
    case LayerType::kConvTranspose2d:
    case LayerType::kLinear: return 1 + bias;
    case LayerType::kBatchNorm1d:
    case LayerType::kBatchNorm2d: return 2;
    case LayerType::kLayerNorm: return spec.Int("elementwise_affine", 1) != 0 ? 2 : 0;
    case LayerType::kGroupNorm: return spec.Int("affine", 1) != 0 ? 2 : 0;
    case LayerType::kEmbedding:
    case LayerType::kClassToken:
    case LayerType::kPositionalEmbedding:
    case LayerType::kLayerScale: return 1;
    case LayerType::kLSTM:
    case LayerType::kGRU:
      // Input and hidden weights, and their biases, per layer and direction.
      return spec.Int("num_layers", 1) * (spec.Int("bidirectional") != 0 ? 2 : 1) *
             (2 + 2 * bias);
    // The input and output projections, and their biases.
    case LayerType::kMultiheadAttention: return 2 + 2 * bias;
    // Attention (4), two feed-forward Linears (4), two LayerNorms (4).
    case LayerType::kTransformerEncoderLayer: return 12;
    default: return 0;
  }
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

  int64_t parameters = 0, tensors = 0;
  for (const ArchNode& node : arch.nodes) {
    WF_ASSIGN_OR_RETURN(const LayerFeatures f, ComputeFeatures(node.spec));
    if (f.params <= 0) continue;
    parameters += f.params;
    tensors += std::max<int64_t>(1, ParameterTensors(node.spec));
  }
  if (parameters == 0) return parts;
  LayerSpec step;
  step.type = StepLayerType(optimizer);
  step.input_shape = {parameters};
  step.params["tensors"] = static_cast<double>(tensors);
  normalized = Normalize(std::move(step));
  if (!normalized.ok()) {
    return normalized.status().WithContext("the optimiser step of architecture '" + arch.name +
                                           "'");
  }
  parts.push_back({"optimizer", std::move(normalized).value()});
  return parts;
}

}  // namespace wattfleet
