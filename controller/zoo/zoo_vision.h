// Private to the vision zoo (zoo_vision*.cc, zoo_resnet.cc, zoo_mobile.cc, ...): the building
// blocks that torchvision's classifiers share, and one registration function per file.
//
// The block helpers append to a GraphBuilder and read the input's channel count from the
// node they extend, so definitions only state what torchvision's constructors state. After a
// builder error every helper is a no-op (GraphBuilder keeps the first error for Finish()).
#pragma once

#include <cstdint>
#include <string>

#include "zoo_registry.h"

namespace wattfleet::zoo::vision {

using Id = GraphBuilder::Id;

// Channels (dim 0) of a node's output; 1 after a builder error so that callers' arithmetic
// stays defined until Finish() reports the error.
int64_t Channels(const GraphBuilder& g, Id x);

// Conv2d; padding -1 means (k - 1) / 2, the rule of torchvision's Conv2dNormActivation.
Id Conv(GraphBuilder& g, Id x, int64_t out, int64_t k, int64_t stride = 1, int64_t groups = 1,
        bool bias = false, int64_t padding = -1);
// Conv2d without bias + BatchNorm2d (Conv2dNormActivation with activation_layer=None).
Id ConvBn(GraphBuilder& g, Id x, int64_t out, int64_t k, int64_t stride = 1, int64_t groups = 1);
// Conv2d without bias + BatchNorm2d + activation (Conv2dNormActivation).
Id ConvBnAct(GraphBuilder& g, Id x, int64_t out, int64_t k, int64_t stride, int64_t groups,
             LayerType act);
Id Act(GraphBuilder& g, Id x, LayerType act);
Id Linear(GraphBuilder& g, Id x, int64_t out, bool bias = true);
Id Dropout(GraphBuilder& g, Id x, double p);
Id MaxPool(GraphBuilder& g, Id x, int64_t k, int64_t stride, int64_t padding = 0,
           bool ceil_mode = false);
// AdaptiveAvgPool2d(1) + Flatten: the global pooling before every classifier head.
Id PoolFlatten(GraphBuilder& g, Id x);
// torchvision's SqueezeExcitation: AdaptiveAvgPool2d(1) -> Conv 1x1 -> act -> Conv 1x1 ->
// gate, and the input scaled by the gate (a broadcasting Mul).
Id SqueezeExcite(GraphBuilder& g, Id x, int64_t squeeze, LayerType act, LayerType gate);
// The residual sum of a block.
Id Residual(GraphBuilder& g, Id a, Id b);

// torchvision's _make_divisible: round to the nearest multiple of `divisor` (at least
// `divisor`), going up one step when rounding down lost more than 10 %. `v` is computed in
// double, as Python does, so that channel counts match torchvision for any multiplier.
int64_t MakeDivisible(double v, int64_t divisor = 8);

// "torchvision 0.14 <name>".
std::string Source(const std::string& name);

// "-c<classes>" when not 1000: the default keeps names short.
std::string ClassesSuffix(int64_t classes);

// One per file.
void AddResNets(Registry& r);        // zoo_resnet.cc: ResNet, Wide ResNet, ResNeXt
void AddMobileNets(Registry& r);     // zoo_mobile.cc: MobileNetV2/V3, ShuffleNetV2
void AddEfficientNets(Registry& r);  // zoo_efficientnet.cc: EfficientNet B0-B7
void AddClassicVision(Registry& r);  // zoo_vision_classic.cc: AlexNet, VGG, SqueezeNet
void AddDenseNets(Registry& r);      // zoo_densenet.cc: DenseNet
void AddRegNetsAndConvNeXts(Registry& r);  // zoo_regnet_convnext.cc: RegNet, ConvNeXt
void AddVisionTransformers(Registry& r);   // zoo_vit.cc: ViT

}  // namespace wattfleet::zoo::vision
