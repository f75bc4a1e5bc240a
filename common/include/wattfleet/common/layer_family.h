// Which family each layer type belongs to: the one list that the layer model's shape
// arithmetic (layer_analyze.cc) and the agent's executor (torch_executor.cc) dispatch on, each
// with a method per family. A new layer type does not compile until it has a family here.
#pragma once

#include "wattfleet/common/layer.h"

namespace wattfleet {

enum class LayerFamily {
  kDense,          // convolutions, Linear
  kNormalization,  // BatchNorm, LayerNorm, GroupNorm
  kActivation,     // element-wise activations, Softmax
  kPooling,        // pools, Upsample
  kSequence,       // embeddings, recurrent layers, attention, the ViT's token layers
  kReshaping,      // layers that move, join or split elements (Add and Mul among them)
  kTrainingStep,   // a training step's loss and update, never a node of a network
};

LayerFamily FamilyOf(LayerType type);

}  // namespace wattfleet
