// Tests of the layer model (layer.h) and sequential architectures (architecture.h).
//
// Every expected number is computed by hand in the comment beside it, from the formulas in
// layer.h / layer.cc, so that a change of convention shows up here as a failing line.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/layer.h"
#include "wattfleet/common/training_step.h"
#include "layer_samples.h"

namespace wattfleet {
namespace {

using testing::Spec;

// Normalizes and computes features, failing the test on any error.
LayerFeatures Features(const LayerSpec& spec) {
  auto normalized = Normalize(spec);
  EXPECT_TRUE(normalized.ok()) << normalized.status().ToString();
  if (!normalized.ok()) return {};
  auto f = ComputeFeatures(*normalized);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? *f : LayerFeatures{};
}

// Expects Normalize to fail with InvalidArgument and a message containing every `needle`.
void ExpectInvalid(const LayerSpec& spec, std::initializer_list<std::string> needles) {
  auto r = Normalize(spec);
  ASSERT_FALSE(r.ok()) << "accepted " << CanonicalKey(*r);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  for (const auto& n : needles) {
    EXPECT_NE(r.status().message().find(n), std::string::npos)
        << "message '" << r.status().message() << "' lacks '" << n << "'";
  }
}

// ---- Names and shapes --------------------------------------------------------------------

TEST(LayerType, NamesRoundTrip) {
  EXPECT_EQ(AllLayerTypes().size(), 50u);
  std::set<std::string> seen;
  for (LayerType t : AllLayerTypes()) {
    const std::string name(LayerTypeName(t));
    EXPECT_TRUE(seen.insert(name).second) << name;
    auto parsed = ParseLayerType(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(LayerTypeName(LayerType::kConv2d), "Conv2d");
  EXPECT_EQ(LayerTypeName(LayerType::kAdaptiveAvgPool2d), "AdaptiveAvgPool2d");
  EXPECT_FALSE(ParseLayerType("conv2d").has_value());  // case-sensitive
  EXPECT_FALSE(ParseLayerType("Conv3d").has_value());
}

TEST(Shape, ToStringAndElements) {
  EXPECT_EQ(ShapeToString({1, 28, 28}), "[1,28,28]");
  EXPECT_EQ(ShapeToString({}), "[]");
  EXPECT_EQ(NumElements({1, 28, 28}), 784);
  EXPECT_EQ(NumElements({3, 32, 32}), 3072);
}

TEST(LayerSpec, Int) {
  LayerSpec s = Spec(LayerType::kConv2d, {{"kernel_size", 5}}, {1, 8, 8});
  EXPECT_EQ(s.Int("kernel_size"), 5);
  EXPECT_EQ(s.Int("stride", 7), 7);
}

// ---- Features of every layer type ---------------------------------------------------------

TEST(Features, Conv2dLeNetFirstLayer) {
  // [1,32,32], 6 filters 5x5: out = (32 - 5)/1 + 1 = 28 -> [6,28,28] = 4704 elements.
  // MACs = 4704 * 1 * 25 = 117600; params = 6*1*25 + 6 = 156; FLOPs = 2 * MACs = 235200.
  auto f = Features(Spec(LayerType::kConv2d,
                         {{"in_channels", 1}, {"out_channels", 6}, {"kernel_size", 5}},
                         {1, 32, 32}));
  EXPECT_EQ(f.output_shape, (Shape{6, 28, 28}));
  EXPECT_EQ(f.macs, 117600);
  EXPECT_EQ(f.params, 156);
  EXPECT_EQ(f.flops, 235200);
  EXPECT_EQ(f.input_elements, 1024);
  EXPECT_EQ(f.output_elements, 4704);
}

TEST(Features, Conv2dNoBiasStridePadding) {
  // [3,32,32], 16 filters 3x3, stride 2, padding 1: out = (32 + 2 - 2 - 1)/2 + 1 = 15 + 1 = 16.
  // [16,16,16] = 4096; MACs = 4096 * 3 * 9 = 110592; params = 16*3*9 = 432 (no bias).
  auto f = Features(Spec(LayerType::kConv2d,
                         {{"in_channels", 3}, {"out_channels", 16}, {"kernel_size", 3},
                          {"stride", 2}, {"padding", 1}, {"bias", 0}},
                         {3, 32, 32}));
  EXPECT_EQ(f.output_shape, (Shape{16, 16, 16}));
  EXPECT_EQ(f.macs, 110592);
  EXPECT_EQ(f.params, 432);
  EXPECT_EQ(f.flops, 221184);
}

TEST(Features, Conv2dDilation) {
  // [3,32,32], 8 filters 3x3, dilation 2: span = 2*(3-1)+1 = 5, out = (32 - 5)/1 + 1 = 28.
  // [8,28,28] = 6272; MACs = 6272 * 3 * 9 = 169344; params = 8*27 + 8 = 224.
  auto f = Features(Spec(LayerType::kConv2d,
                         {{"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3},
                          {"dilation", 2}},
                         {3, 32, 32}));
  EXPECT_EQ(f.output_shape, (Shape{8, 28, 28}));
  EXPECT_EQ(f.macs, 169344);
  EXPECT_EQ(f.params, 224);
}

TEST(Features, Conv2dGrouped) {
  // [8,16,16], 16 filters 3x3 padding 1, 4 groups: each filter sees 8/4 = 2 channels.
  // [16,16,16] = 4096; MACs = 4096 * 2 * 9 = 73728; params = 16*2*9 + 16 = 304.
  auto f = Features(Spec(LayerType::kConv2d,
                         {{"in_channels", 8}, {"out_channels", 16}, {"kernel_size", 3},
                          {"padding", 1}, {"groups", 4}},
                         {8, 16, 16}));
  EXPECT_EQ(f.output_shape, (Shape{16, 16, 16}));
  EXPECT_EQ(f.macs, 73728);
  EXPECT_EQ(f.params, 304);
}

TEST(Features, Conv2dDepthwise) {
  // Depthwise: groups = in = out = 32, 3x3 padding 1, no bias, [32,16,16] -> [32,16,16].
  // MACs = 8192 * 1 * 9 = 73728; params = 32*1*9 = 288. A dense conv would have 32x that.
  auto f = Features(Spec(LayerType::kConv2d,
                         {{"in_channels", 32}, {"out_channels", 32}, {"kernel_size", 3},
                          {"padding", 1}, {"groups", 32}, {"bias", 0}},
                         {32, 16, 16}));
  EXPECT_EQ(f.output_shape, (Shape{32, 16, 16}));
  EXPECT_EQ(f.macs, 73728);
  EXPECT_EQ(f.params, 288);
}

TEST(Features, Conv1d) {
  // [4,100], 8 filters k3 stride 2 padding 1: out = (100 + 2 - 2 - 1)/2 + 1 = 49 + 1 = 50.
  // [8,50] = 400; MACs = 400 * 4 * 3 = 4800; params = 8*4*3 + 8 = 104.
  auto f = Features(Spec(LayerType::kConv1d,
                         {{"in_channels", 4}, {"out_channels", 8}, {"kernel_size", 3},
                          {"stride", 2}, {"padding", 1}},
                         {4, 100}));
  EXPECT_EQ(f.output_shape, (Shape{8, 50}));
  EXPECT_EQ(f.macs, 4800);
  EXPECT_EQ(f.params, 104);
  EXPECT_EQ(f.flops, 9600);
}

TEST(Features, Linear) {
  // 784 -> 256: MACs = 784*256 = 200704; params = 200704 + 256 = 200960.
  auto f = Features(Spec(LayerType::kLinear, {{"in_features", 784}, {"out_features", 256}},
                         {784}));
  EXPECT_EQ(f.output_shape, (Shape{256}));
  EXPECT_EQ(f.macs, 200704);
  EXPECT_EQ(f.params, 200960);
  EXPECT_EQ(f.flops, 401408);
}

TEST(Features, LinearOnSequenceNoBias) {
  // [10,64] -> [10,32]: MACs = (640/64) * 64 * 32 = 20480; params = 64*32 = 2048 (no bias).
  auto f = Features(Spec(LayerType::kLinear,
                         {{"in_features", 64}, {"out_features", 32}, {"bias", 0}}, {10, 64}));
  EXPECT_EQ(f.output_shape, (Shape{10, 32}));
  EXPECT_EQ(f.macs, 20480);
  EXPECT_EQ(f.params, 2048);
}

TEST(Features, BatchNorm) {
  // BatchNorm2d on [16,8,8]: params 2*16 = 32; FLOPs 2 * 1024 = 2048; num_features filled.
  LayerSpec bn2 = Spec(LayerType::kBatchNorm2d, {}, {16, 8, 8});
  auto n = Normalize(bn2);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->Int("num_features"), 16);
  auto f = Features(bn2);
  EXPECT_EQ(f.output_shape, (Shape{16, 8, 8}));
  EXPECT_EQ(f.params, 32);
  EXPECT_EQ(f.macs, 0);
  EXPECT_EQ(f.flops, 2048);
  // BatchNorm1d on [20] and [20,50]: params 40; FLOPs 2*20 = 40 and 2*1000 = 2000.
  auto f1 = Features(Spec(LayerType::kBatchNorm1d, {}, {20}));
  EXPECT_EQ(f1.params, 40);
  EXPECT_EQ(f1.flops, 40);
  auto f2 = Features(Spec(LayerType::kBatchNorm1d, {{"num_features", 20}}, {20, 50}));
  EXPECT_EQ(f2.output_shape, (Shape{20, 50}));
  EXPECT_EQ(f2.flops, 2000);
}

TEST(Features, LayerNorm) {
  // [10,64], normalized_shape 64 (filled): params 2*64 = 128; FLOPs 5 * 640 = 3200.
  LayerSpec ln = Spec(LayerType::kLayerNorm, {}, {10, 64});
  auto n = Normalize(ln);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Int("normalized_shape"), 64);
  EXPECT_EQ(n->Int("elementwise_affine"), 1);
  auto f = Features(ln);
  EXPECT_EQ(f.output_shape, (Shape{10, 64}));
  EXPECT_EQ(f.params, 128);
  EXPECT_EQ(f.flops, 3200);
  // Without the affine transform: no params, 4 FLOPs per element = 2560.
  auto g = Features(Spec(LayerType::kLayerNorm, {{"elementwise_affine", 0}}, {10, 64}));
  EXPECT_EQ(g.params, 0);
  EXPECT_EQ(g.flops, 2560);
}

TEST(Features, Activations) {
  // [6,28,28] = 4704 elements; FLOPs per element: ReLU 1, Sigmoid 4, Tanh 4, GELU 8.
  const Shape s{6, 28, 28};
  const std::pair<LayerType, int64_t> cases[] = {{LayerType::kReLU, 4704},
                                                 {LayerType::kSigmoid, 4 * 4704},
                                                 {LayerType::kTanh, 4 * 4704},
                                                 {LayerType::kGELU, 8 * 4704}};
  for (const auto& [type, flops] : cases) {
    auto f = Features(Spec(type, {}, s));
    EXPECT_EQ(f.output_shape, s) << LayerTypeName(type);
    EXPECT_EQ(f.params, 0) << LayerTypeName(type);
    EXPECT_EQ(f.macs, 0) << LayerTypeName(type);
    EXPECT_EQ(f.flops, flops) << LayerTypeName(type);
  }
}

TEST(Features, Softmax) {
  // [4,10] = 40 elements, 3 FLOPs each = 120; dim defaults to -1.
  LayerSpec sm = Spec(LayerType::kSoftmax, {}, {4, 10});
  auto n = Normalize(sm);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Int("dim", 99), -1);
  auto f = Features(sm);
  EXPECT_EQ(f.output_shape, (Shape{4, 10}));
  EXPECT_EQ(f.flops, 120);
  // dim is per sample: 0 and -2 are valid on [4,10] and stored as given; 2 and -3 are not.
  auto d0 = Normalize(Spec(LayerType::kSoftmax, {{"dim", -2}}, {4, 10}));
  ASSERT_TRUE(d0.ok());
  EXPECT_EQ(d0->Int("dim"), -2);
  ExpectInvalid(Spec(LayerType::kSoftmax, {{"dim", 2}}, {4, 10}), {"Softmax", "dim"});
  ExpectInvalid(Spec(LayerType::kSoftmax, {{"dim", -3}}, {4, 10}), {"Softmax", "dim"});
}

TEST(Features, MaxPool2d) {
  // [6,28,28], k2 (stride defaults to 2): [6,14,14] = 1176; FLOPs 1176 * 4 = 4704.
  LayerSpec p = Spec(LayerType::kMaxPool2d, {{"kernel_size", 2}}, {6, 28, 28});
  auto n = Normalize(p);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Int("stride"), 2);
  EXPECT_EQ(n->Int("padding", -1), 0);
  auto f = Features(p);
  EXPECT_EQ(f.output_shape, (Shape{6, 14, 14}));
  EXPECT_EQ(f.flops, 4704);
  EXPECT_EQ(f.params, 0);
}

TEST(Features, MaxPool1dPadded) {
  // [4,10], k3 stride 1 padding 1: out = (10 + 2 - 3)/1 + 1 = 10; FLOPs 40 * 3 = 120.
  auto f = Features(Spec(LayerType::kMaxPool1d,
                         {{"kernel_size", 3}, {"stride", 1}, {"padding", 1}}, {4, 10}));
  EXPECT_EQ(f.output_shape, (Shape{4, 10}));
  EXPECT_EQ(f.flops, 120);
}

TEST(Features, AvgPools) {
  // AvgPool2d [3,7,7] k3 s2: out = (7 - 3)/2 + 1 = 3 -> [3,3,3] = 27; FLOPs 27 * 9 = 243.
  auto f = Features(Spec(LayerType::kAvgPool2d, {{"kernel_size", 3}, {"stride", 2}}, {3, 7, 7}));
  EXPECT_EQ(f.output_shape, (Shape{3, 3, 3}));
  EXPECT_EQ(f.flops, 243);
  // AvgPool1d [2,10] k4 (stride 4): out = (10 - 4)/4 + 1 = 2 -> [2,2]; FLOPs 4 * 4 = 16.
  auto g = Features(Spec(LayerType::kAvgPool1d, {{"kernel_size", 4}}, {2, 10}));
  EXPECT_EQ(g.output_shape, (Shape{2, 2}));
  EXPECT_EQ(g.flops, 16);
}

TEST(Features, AdaptiveAvgPools) {
  // 2d [512,7,7] -> [512,1,1]; FLOPs = input elements = 25088.
  auto f = Features(Spec(LayerType::kAdaptiveAvgPool2d, {{"output_size", 1}}, {512, 7, 7}));
  EXPECT_EQ(f.output_shape, (Shape{512, 1, 1}));
  EXPECT_EQ(f.flops, 25088);
  // 1d [8,16] -> [8,4]; FLOPs = 128.
  auto g = Features(Spec(LayerType::kAdaptiveAvgPool1d, {{"output_size", 4}}, {8, 16}));
  EXPECT_EQ(g.output_shape, (Shape{8, 4}));
  EXPECT_EQ(g.flops, 128);
  ExpectInvalid(Spec(LayerType::kAdaptiveAvgPool2d, {}, {8, 4, 4}), {"output_size"});
}

TEST(Features, Flatten) {
  // [16,5,5] -> [400], no work.
  auto f = Features(Spec(LayerType::kFlatten, {}, {16, 5, 5}));
  EXPECT_EQ(f.output_shape, (Shape{400}));
  EXPECT_EQ(f.flops, 0);
  // The explicit libtorch default (start_dim=1, end_dim=-1) is the same layer as the implicit.
  auto explicit_default =
      Normalize(Spec(LayerType::kFlatten, {{"start_dim", 1}, {"end_dim", -1}}, {16, 5, 5}));
  ASSERT_TRUE(explicit_default.ok()) << explicit_default.status().ToString();
  EXPECT_EQ(CanonicalKey(*explicit_default), "Flatten()[16,5,5]");
  ExpectInvalid(Spec(LayerType::kFlatten, {{"start_dim", 2}}, {16, 5, 5}),
                {"Flatten", "start_dim"});
  ExpectInvalid(Spec(LayerType::kFlatten, {{"end_dim", 1}}, {16, 5, 5}), {"Flatten", "end_dim"});
}

TEST(Features, Dropout) {
  LayerSpec d = Spec(LayerType::kDropout, {}, {100});
  auto n = Normalize(d);
  ASSERT_TRUE(n.ok());
  EXPECT_DOUBLE_EQ(n->params.at("p"), 0.5);
  auto f = Features(d);
  EXPECT_EQ(f.output_shape, (Shape{100}));
  EXPECT_EQ(f.flops, 0);
  EXPECT_EQ(f.params, 0);
  EXPECT_TRUE(Normalize(Spec(LayerType::kDropout, {{"p", 0}}, {100})).ok());
  ExpectInvalid(Spec(LayerType::kDropout, {{"p", 1}}, {100}), {"Dropout", "p"});
  ExpectInvalid(Spec(LayerType::kDropout, {{"p", -0.1}}, {100}), {"Dropout", "p"});
}

TEST(Features, Embedding) {
  // 1000 x 64 table on 20 indices: [20,64]; params 64000; no MACs.
  auto f = Features(Spec(LayerType::kEmbedding, {{"num_embeddings", 1000}, {"embedding_dim", 64}},
                         {20}));
  EXPECT_EQ(f.output_shape, (Shape{20, 64}));
  EXPECT_EQ(f.params, 64000);
  EXPECT_EQ(f.macs, 0);
  EXPECT_EQ(f.input_elements, 20);
  EXPECT_EQ(f.output_elements, 1280);
  ExpectInvalid(Spec(LayerType::kEmbedding, {{"num_embeddings", 1000}}, {20}),
                {"Embedding", "embedding_dim"});
}

TEST(Features, LstmOneLayer) {
  // input 10, hidden 20, seq 5. Per layer & direction: 4*(10*20 + 20*20) = 2400 weights,
  // biases 2*4*20 = 160 -> params 2560. MACs = 5 * 2400 = 12000.
  // FLOPs = 2*12000 + 5 steps * 20 units * 9 element-wise ops = 24000 + 900 = 24900.
  auto f = Features(Spec(LayerType::kLSTM, {{"input_size", 10}, {"hidden_size", 20}}, {5, 10}));
  EXPECT_EQ(f.output_shape, (Shape{5, 20}));
  EXPECT_EQ(f.params, 2560);
  EXPECT_EQ(f.macs, 12000);
  EXPECT_EQ(f.flops, 24900);
}

TEST(Features, LstmTwoLayerBidirectionalMatchesPyTorch) {
  // torch.nn.LSTM(10, 20, num_layers=2, bidirectional=True) has, per direction:
  //   layer 0: weight_ih 80x10 = 800, weight_hh 80x20 = 1600, bias_ih + bias_hh = 160 -> 2560
  //   layer 1: weight_ih 80x40 = 3200 (input is 2*20), weight_hh 1600, biases 160     -> 4960
  // total = 2 * (2560 + 4960) = 15040 (sum(p.numel() for p in lstm.parameters())).
  // MACs = 5 * (2*2400 + 2*4*(40*20 + 20*20)) = 5 * (4800 + 9600) = 72000.
  auto f = Features(Spec(LayerType::kLSTM,
                         {{"input_size", 10}, {"hidden_size", 20}, {"num_layers", 2},
                          {"bidirectional", 1}},
                         {5, 10}));
  EXPECT_EQ(f.output_shape, (Shape{5, 40}));
  EXPECT_EQ(f.params, 15040);
  EXPECT_EQ(f.macs, 72000);
}

TEST(Features, Gru) {
  // torch.nn.GRU(10, 20): 3*(10*20 + 20*20) + 2*3*20 = 1800 + 120 = 1920. MACs = 7 * 1800.
  auto f = Features(Spec(LayerType::kGRU, {{"input_size", 10}, {"hidden_size", 20}}, {7, 10}));
  EXPECT_EQ(f.output_shape, (Shape{7, 20}));
  EXPECT_EQ(f.params, 1920);
  EXPECT_EQ(f.macs, 12600);
  // Without bias: 1800.
  auto g = Features(Spec(LayerType::kGRU, {{"input_size", 10}, {"hidden_size", 20}, {"bias", 0}},
                         {7, 10}));
  EXPECT_EQ(g.params, 1800);
}

TEST(Features, ComputeFeaturesAcceptsUnnormalizedSpec) {
  // Defaults are filled internally: the same numbers as for the normalized spec.
  LayerSpec raw = Spec(LayerType::kMaxPool2d, {{"kernel_size", 2}}, {6, 28, 28});
  auto f = ComputeFeatures(raw);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->output_shape, (Shape{6, 14, 14}));
  EXPECT_FALSE(ComputeFeatures(Spec(LayerType::kConv2d, {}, {1, 8, 8})).ok());
}

// ---- Normalize errors and idempotence -----------------------------------------------------

TEST(Normalize, RejectsUnknownParameter) {
  ExpectInvalid(Spec(LayerType::kConv2d,
                     {{"in_channels", 1}, {"out_channels", 6}, {"kernel_size", 5}, {"strides", 2}},
                     {1, 32, 32}),
                {"Conv2d", "strides"});
  ExpectInvalid(Spec(LayerType::kReLU, {{"inplace", 1}}, {10}), {"ReLU", "inplace"});
  ExpectInvalid(Spec(LayerType::kBatchNorm2d, {{"eps", 1e-5}}, {4, 2, 2}), {"BatchNorm2d", "eps"});
}

TEST(Normalize, RejectsMismatchedChannels) {
  ExpectInvalid(Spec(LayerType::kConv2d,
                     {{"in_channels", 3}, {"out_channels", 6}, {"kernel_size", 5}}, {1, 32, 32}),
                {"Conv2d: in_channels is 3 but the input has 1 channels"});
  ExpectInvalid(Spec(LayerType::kLinear, {{"in_features", 100}, {"out_features", 10}}, {784}),
                {"Linear", "in_features", "784"});
  ExpectInvalid(Spec(LayerType::kBatchNorm2d, {{"num_features", 8}}, {16, 4, 4}),
                {"BatchNorm2d", "num_features"});
  ExpectInvalid(Spec(LayerType::kLayerNorm, {{"normalized_shape", 32}}, {10, 64}),
                {"LayerNorm", "normalized_shape"});
  ExpectInvalid(Spec(LayerType::kLSTM, {{"input_size", 8}, {"hidden_size", 4}}, {5, 10}),
                {"LSTM", "input_size"});
}

TEST(Normalize, RejectsKernelLargerThanInput) {
  ExpectInvalid(Spec(LayerType::kConv2d,
                     {{"in_channels", 1}, {"out_channels", 6}, {"kernel_size", 5}}, {1, 3, 3}),
                {"Conv2d", "kernel_size"});
  // Dilation 3 stretches a 3-wide kernel over 7 > 6 positions.
  ExpectInvalid(Spec(LayerType::kConv1d,
                     {{"in_channels", 1}, {"out_channels", 1}, {"kernel_size", 3}, {"dilation", 3}},
                     {1, 6}),
                {"Conv1d", "kernel_size"});
  // Padding can make it fit: 5 on 3 with padding 1 -> out = (3 + 2 - 5)/1 + 1 = 1.
  auto f = Features(Spec(LayerType::kConv2d,
                         {{"in_channels", 1}, {"out_channels", 1}, {"kernel_size", 5},
                          {"padding", 1}},
                         {1, 3, 3}));
  EXPECT_EQ(f.output_shape, (Shape{1, 1, 1}));
  ExpectInvalid(Spec(LayerType::kMaxPool2d, {{"kernel_size", 4}}, {2, 3, 3}),
                {"MaxPool2d", "kernel_size"});
}

TEST(Normalize, RejectsBadValues) {
  const std::map<std::string, double> conv = {
      {"in_channels", 4}, {"out_channels", 8}, {"kernel_size", 3}};
  auto with = [&](const std::string& k, double v) {
    auto p = conv;
    p[k] = v;
    return Spec(LayerType::kConv2d, p, {4, 8, 8});
  };
  ExpectInvalid(with("kernel_size", 2.5), {"Conv2d", "kernel_size", "integer"});
  ExpectInvalid(with("out_channels", 0), {"Conv2d", "out_channels", "positive"});
  ExpectInvalid(with("stride", -1), {"Conv2d", "stride"});
  ExpectInvalid(with("padding", -1), {"Conv2d", "padding"});
  ExpectInvalid(with("bias", 2), {"Conv2d", "bias"});
  ExpectInvalid(with("groups", 3), {"Conv2d", "groups"});  // 3 divides neither 4 nor 8
  ExpectInvalid(with("kernel_size", std::nan("")), {"Conv2d", "kernel_size"});
  // Missing required hyper-parameter.
  ExpectInvalid(Spec(LayerType::kConv2d, {{"in_channels", 4}, {"kernel_size", 3}}, {4, 8, 8}),
                {"Conv2d", "out_channels"});
  // Pool padding above half the kernel.
  ExpectInvalid(Spec(LayerType::kMaxPool2d, {{"kernel_size", 3}, {"padding", 2}}, {1, 8, 8}),
                {"MaxPool2d", "padding"});
}

TEST(Normalize, RejectsBadInputShapes) {
  ExpectInvalid(Spec(LayerType::kConv2d,
                     {{"in_channels", 1}, {"out_channels", 6}, {"kernel_size", 5}}, {1, 32}),
                {"Conv2d", "input"});
  ExpectInvalid(Spec(LayerType::kReLU, {}, {}), {"ReLU", "input"});
  ExpectInvalid(Spec(LayerType::kReLU, {}, {4, 0}), {"ReLU", "input"});
  ExpectInvalid(Spec(LayerType::kLSTM, {{"input_size", 10}, {"hidden_size", 4}}, {10}),
                {"LSTM", "input"});
}

TEST(Normalize, RejectsLayersWhoseFeaturesOverflow) {
  // Each value is within limits, but 1e5 rows x 1e9 x 1e9 MACs is far beyond int64.
  ExpectInvalid(Spec(LayerType::kLinear, {{"in_features", 1e9}, {"out_features", 1e9}},
                     {100000, 1000000000}),
                {"Linear", "too large"});
  ExpectInvalid(Spec(LayerType::kLinear, {{"in_features", 1e10}, {"out_features", 1}}, {8}),
                {"Linear", "in_features"});
}

// One valid spec per layer type, for the properties that hold for all of them.
std::vector<LayerSpec> OneOfEach() { return testing::OneOfEachLayer(); }

TEST(Normalize, CoversEveryTypeAndIsIdempotent) {
  std::set<LayerType> covered;
  for (const LayerSpec& spec : OneOfEach()) {
    covered.insert(spec.type);
    auto once = Normalize(spec);
    ASSERT_TRUE(once.ok()) << once.status().ToString();
    auto twice = Normalize(*once);
    ASSERT_TRUE(twice.ok()) << twice.status().ToString();
    EXPECT_EQ(*once, *twice) << CanonicalKey(*once);
    EXPECT_EQ(CanonicalKey(*once), CanonicalKey(*twice));
    // Unknown names are refused by every type, and the message names both.
    LayerSpec bad = spec;
    bad.params["bogus"] = 1;
    ExpectInvalid(bad, {std::string(LayerTypeName(spec.type)), "bogus"});
  }
  EXPECT_EQ(covered.size(), AllLayerTypes().size());
}

// ---- Canonical keys ----------------------------------------------------------------------

TEST(CanonicalKey, Format) {
  auto n = Normalize(Spec(LayerType::kConv2d,
                          {{"in_channels", 1}, {"out_channels", 6}, {"kernel_size", 5}},
                          {1, 32, 32}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(CanonicalKey(*n),
            "Conv2d(bias=1,dilation=1,groups=1,in_channels=1,kernel_size=5,out_channels=6,"
            "padding=0,stride=1)[1,32,32]");
  auto r = Normalize(Spec(LayerType::kReLU, {}, {6, 28, 28}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(CanonicalKey(*r), "ReLU()[6,28,28]");
  auto s = Normalize(Spec(LayerType::kSoftmax, {}, {10}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(CanonicalKey(*s), "Softmax(dim=-1)[10]");
}

TEST(CanonicalKey, NonIntegersRoundTrip) {
  auto d = Normalize(Spec(LayerType::kDropout, {{"p", 0.1}}, {8}));
  ASSERT_TRUE(d.ok());
  const std::string key = CanonicalKey(*d);
  ASSERT_EQ(key.rfind("Dropout(p=", 0), 0u) << key;
  const std::string value = key.substr(10, key.find(')') - 10);
  EXPECT_EQ(std::strtod(value.c_str(), nullptr), 0.1) << key;
  auto half = Normalize(Spec(LayerType::kDropout, {}, {8}));
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(CanonicalKey(*half), "Dropout(p=0.5)[8]");
}

TEST(CanonicalKey, StableAndDistinct) {
  const std::map<std::string, double> base = {
      {"in_channels", 3}, {"out_channels", 16}, {"kernel_size", 3}};
  auto key = [&](std::map<std::string, double> extra, Shape shape = {3, 32, 32}) {
    auto p = base;
    for (const auto& [k, v] : extra) p[k] = v;
    auto n = Normalize(Spec(LayerType::kConv2d, p, shape));
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? CanonicalKey(*n) : std::string();
  };
  // Explicit defaults and omitted defaults are the same layer.
  EXPECT_EQ(key({}), key({{"stride", 1}, {"padding", 0}, {"bias", 1}}));
  // Every hyper-parameter and the input shape take part in the identity.
  std::set<std::string> keys = {key({}),
                                key({{"stride", 2}}),
                                key({{"padding", 1}}),
                                key({{"dilation", 2}}),
                                key({{"bias", 0}}),
                                key({{"out_channels", 32}}),
                                key({{"kernel_size", 5}}),
                                key({}, {3, 64, 64})};
  EXPECT_EQ(keys.size(), 8u);
  // Same hyper-parameters, different type: distinct.
  auto mp = Normalize(Spec(LayerType::kMaxPool2d, {{"kernel_size", 2}}, {3, 32, 32}));
  auto ap = Normalize(Spec(LayerType::kAvgPool2d, {{"kernel_size", 2}}, {3, 32, 32}));
  ASSERT_TRUE(mp.ok() && ap.ok());
  EXPECT_NE(CanonicalKey(*mp), CanonicalKey(*ap));
}

// ---- Architectures -----------------------------------------------------------------------

std::vector<LayerDecl> LeNet5Layers() {
  auto conv = [](double in, double out) {
    return LayerDecl{LayerType::kConv2d,
                     {{"in_channels", in}, {"out_channels", out}, {"kernel_size", 5}}, ""};
  };
  auto linear = [](double in, double out) {
    return LayerDecl{LayerType::kLinear, {{"in_features", in}, {"out_features", out}}, ""};
  };
  const LayerDecl relu{LayerType::kReLU, {}, ""};
  const LayerDecl pool{LayerType::kMaxPool2d, {{"kernel_size", 2}}, ""};
  return {conv(1, 6),        relu, pool, conv(6, 16),      relu, pool,
          {LayerType::kFlatten, {}, ""}, linear(400, 120), relu, linear(120, 84), relu,
          linear(84, 10)};
}

TEST(Architecture, LeNet5Totals) {
  auto arch = BuildSequential("lenet5", "lenet5", {1, 32, 32}, LeNet5Layers());
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  const LayerFeatures t = arch->Totals();
  // params: conv1 6*25+6 = 156, conv2 16*6*25+16 = 2416, fc1 400*120+120 = 48120,
  //         fc2 120*84+84 = 10164, fc3 84*10+10 = 850 -> 61706.
  EXPECT_EQ(t.params, 61706);
  // MACs: conv1 [6,28,28]*25 = 117600, conv2 [16,10,10]*6*25 = 240000, fc 48000 + 10080 + 840
  //       -> 416520.
  EXPECT_EQ(t.macs, 416520);
  // FLOPs: 2*416520 = 833040, + ReLUs 4704 + 1600 + 120 + 84, + pools [6,14,14]*4 = 4704 and
  //        [16,5,5]*4 = 1600 -> 845852.
  EXPECT_EQ(t.flops, 845852);
  EXPECT_EQ(t.output_shape, (Shape{10}));
  EXPECT_EQ(arch->OutputShape(), (Shape{10}));
}

TEST(Architecture, NamingAndShapePropagation) {
  auto arch = BuildSequential("lenet5", "lenet5", {1, 32, 32}, LeNet5Layers());
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->name, "lenet5");
  EXPECT_EQ(arch->family, "lenet5");
  const std::vector<std::string> names = {"conv2d1", "relu1",    "maxpool2d1", "conv2d2",
                                          "relu2",   "maxpool2d2", "flatten1", "linear1",
                                          "relu3",   "linear2",  "relu4",      "linear3"};
  ASSERT_EQ(arch->nodes.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(arch->nodes[i].name, names[i]);
    EXPECT_EQ(arch->nodes[i].inputs, (std::vector<int>{static_cast<int>(i) - 1}));
  }
  EXPECT_EQ(arch->nodes[0].spec.input_shape, (Shape{1, 32, 32}));
  EXPECT_EQ(arch->nodes[3].spec.input_shape, (Shape{6, 14, 14}));
  EXPECT_EQ(arch->nodes[6].spec.input_shape, (Shape{16, 5, 5}));
  EXPECT_EQ(arch->nodes[7].spec.input_shape, (Shape{400}));
  // Specs are normalized: defaults present.
  EXPECT_EQ(arch->nodes[2].spec.Int("stride"), 2);
  EXPECT_EQ(arch->nodes[0].spec.params.count("bias"), 1u);
}

TEST(Architecture, FillsNormalizationWidthsAndKeepsGivenNames) {
  std::vector<LayerDecl> layers = {
      {LayerType::kConv2d, {{"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}}, "stem"},
      {LayerType::kBatchNorm2d, {}, ""},
      {LayerType::kConv2d, {{"in_channels", 8}, {"out_channels", 4}, {"kernel_size", 3}}, ""},
      {LayerType::kFlatten, {}, ""},
      {LayerType::kLayerNorm, {}, ""},
  };
  auto arch = BuildSequential("small", "test", {3, 10, 10}, layers);
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  EXPECT_EQ(arch->nodes[0].name, "stem");
  EXPECT_EQ(arch->nodes[1].name, "batchnorm2d1");
  EXPECT_EQ(arch->nodes[2].name, "conv2d2");  // second Conv2d, even though the first is named
  EXPECT_EQ(arch->nodes[1].spec.Int("num_features"), 8);
  // [3,10,10] -> [8,8,8] -> [4,6,6] -> [144]
  EXPECT_EQ(arch->nodes[4].spec.Int("normalized_shape"), 144);
  EXPECT_EQ(arch->OutputShape(), (Shape{144}));
}

TEST(Architecture, ErrorsNameTheLayer) {
  std::vector<LayerDecl> layers = LeNet5Layers();
  layers[3].params["in_channels"] = 5;  // the second conv reads 6 channels
  auto arch = BuildSequential("broken", "lenet5", {1, 32, 32}, layers);
  ASSERT_FALSE(arch.ok());
  EXPECT_EQ(arch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(arch.status().message(),
            "layer 3 (conv2d2): Conv2d: in_channels is 5 but the input has 6 channels");

  // A spatial size that shrinks too far is caught where it happens.
  auto tiny = BuildSequential("tiny", "lenet5", {1, 12, 12}, LeNet5Layers());
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.status().message().find("layer 3 (conv2d2)"), std::string::npos)
      << tiny.status().message();
  EXPECT_NE(tiny.status().message().find("kernel_size"), std::string::npos);
}

TEST(Architecture, RejectsDuplicateNamesAndEmptyInputs) {
  std::vector<LayerDecl> layers = {{LayerType::kReLU, {}, "act"}, {LayerType::kTanh, {}, "act"}};
  auto dup = BuildSequential("dup", "test", {4}, layers);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("act"), std::string::npos);
  // An explicit name that collides with a generated one is also refused.
  std::vector<LayerDecl> clash = {{LayerType::kReLU, {}, "relu2"}, {LayerType::kReLU, {}, ""}};
  EXPECT_FALSE(BuildSequential("clash", "test", {4}, clash).ok());
  EXPECT_FALSE(BuildSequential("none", "test", {4}, {}).ok());
  EXPECT_FALSE(BuildSequential("noshape", "test", {}, {{LayerType::kReLU, {}, ""}}).ok());
}

}  // namespace
}  // namespace wattfleet

namespace wattfleet {
namespace {

// A training step's parts: the loss over the network's output, and the update of all its
// parameters in as many tensors as libtorch's modules hold, costing more FLOPs per parameter
// the more state the optimiser keeps, and nothing per sample.
TEST(TrainingStep, TheLossAndTheUpdateOfANetwork) {
  auto arch = BuildSequential(
      "net", "test", {3, 8, 8},
      {{LayerType::kConv2d, {{"in_channels", 3}, {"out_channels", 4}, {"kernel_size", 3}}, ""},
       {LayerType::kBatchNorm2d, {}, ""},
       {LayerType::kReLU, {}, ""},
       {LayerType::kFlatten, {}, ""},
       {LayerType::kLinear, {{"in_features", 144}, {"out_features", 10}, {"bias", 0}}, ""}});
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  int64_t flops[4] = {};
  const Optimizer optimizers[] = {Optimizer::kSgd, Optimizer::kSgdMomentum, Optimizer::kAdam,
                                  Optimizer::kAdamW};
  for (int i = 0; i < 4; ++i) {
    auto parts = TrainingStepParts(*arch, optimizers[i], Loss::kCrossEntropy);
    ASSERT_TRUE(parts.ok()) << parts.status().ToString();
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ((*parts)[0].name, "loss");
    EXPECT_EQ((*parts)[0].spec.type, LayerType::kCrossEntropyLoss);
    EXPECT_EQ((*parts)[0].spec.input_shape, (Shape{10}));
    EXPECT_EQ((*parts)[1].name, "optimizer");
    EXPECT_EQ((*parts)[1].spec.type, StepLayerType(optimizers[i]));
    EXPECT_EQ((*parts)[1].spec.input_shape, (Shape{arch->Totals().params}));
    // Conv weight and bias, BatchNorm's two, the Linear's weight alone.
    EXPECT_EQ((*parts)[1].spec.Int("tensors"), 5);
    auto f = ComputeFeatures((*parts)[1].spec);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->params, arch->Totals().params);
    flops[i] = f->flops;
  }
  EXPECT_LT(flops[0], flops[1]);
  EXPECT_LT(flops[1], flops[2]);
  EXPECT_LT(flops[2], flops[3]);
  EXPECT_TRUE(IsOptimizerStep(LayerType::kAdamStep));
  EXPECT_FALSE(IsOptimizerStep(LayerType::kCrossEntropyLoss));
  EXPECT_TRUE(IsTrainingStepPart(LayerType::kMSELoss));
  // A network without parameters has a loss and nothing to update.
  auto bare = BuildSequential("bare", "test", {4}, {{LayerType::kReLU, {}, ""}});
  ASSERT_TRUE(bare.ok());
  auto parts = TrainingStepParts(*bare, Optimizer::kAdam, Loss::kMse);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].spec.type, LayerType::kMSELoss);
  // More tensors than parameters is no update.
  LayerSpec bad{LayerType::kSGDStep, {{"tensors", 5}}, {4}};
  EXPECT_FALSE(Normalize(bad).ok());
}

// Every parameter tensor of a layer, as libtorch's module holds it: as many as its update loops
// over, together its parameters.
TEST(TrainingStep, EveryParameterTensorIsListedWithItsSize) {
  const struct {
    LayerSpec spec;
    size_t tensors;
  } cases[] = {
      {{LayerType::kConv2d, {{"in_channels", 8}, {"out_channels", 16}, {"kernel_size", 3}},
        {8, 12, 12}},
       2},
      {{LayerType::kConv2d,
        {{"in_channels", 8}, {"out_channels", 16}, {"kernel_size", 1}, {"bias", 0}},
        {8, 6, 6}},
       1},
      {{LayerType::kConv1d, {{"in_channels", 2}, {"out_channels", 4}, {"kernel_size", 5}},
        {2, 40}},
       2},
      {{LayerType::kConvTranspose2d,
        {{"in_channels", 8}, {"out_channels", 4}, {"kernel_size", 2}, {"stride", 2}},
        {8, 6, 6}},
       2},
      {{LayerType::kLinear, {{"in_features", 64}, {"out_features", 10}}, {64}}, 2},
      {{LayerType::kBatchNorm2d, {}, {8, 6, 6}}, 2},
      {{LayerType::kBatchNorm1d, {}, {8}}, 2},
      {{LayerType::kLayerNorm, {}, {4, 32}}, 2},
      {{LayerType::kLayerNorm, {{"elementwise_affine", 0}}, {4, 32}}, 0},
      {{LayerType::kGroupNorm, {{"num_groups", 2}}, {8, 6, 6}}, 2},
      {{LayerType::kEmbedding, {{"num_embeddings", 100}, {"embedding_dim", 16}}, {12}}, 1},
      {{LayerType::kPositionalEmbedding, {}, {12, 16}}, 1},
      {{LayerType::kLSTM, {{"input_size", 8}, {"hidden_size", 16}, {"num_layers", 2},
                           {"bidirectional", 1}}, {10, 8}},
       16},
      {{LayerType::kGRU, {{"input_size", 8}, {"hidden_size", 16}, {"bias", 0}}, {10, 8}}, 2},
      {{LayerType::kMultiheadAttention, {{"num_heads", 4}}, {12, 32}}, 4},
      {{LayerType::kTransformerEncoderLayer, {{"nhead", 4}, {"dim_feedforward", 64}}, {12, 32}},
       12},
  };
  for (const auto& c : cases) {
    auto spec = Normalize(c.spec);
    ASSERT_TRUE(spec.ok()) << LayerTypeName(c.spec.type) << ": " << spec.status().ToString();
    auto f = ComputeFeatures(*spec);
    ASSERT_TRUE(f.ok()) << CanonicalKey(*spec);
    const std::vector<int64_t> sizes = ParameterTensorSizes(*spec, f->params);
    EXPECT_EQ(sizes.size(), c.tensors) << CanonicalKey(*spec);
    int64_t sum = 0;
    for (int64_t n : sizes) {
      EXPECT_GT(n, 0) << CanonicalKey(*spec);
      sum += n;
    }
    EXPECT_EQ(sum, c.tensors == 0 ? 0 : f->params) << CanonicalKey(*spec);
  }
}

// A weight of 8 Mi elements or more is a block the allocator maps on its own: the update job
// keeps it apart, as large as in the network, rather than cut into the equal tensors it
// would otherwise pay no page faults for. A network without one keeps the key it had.
TEST(TrainingStep, AnUpdateKeepsMappedWeightsApart) {
  auto classifier = BuildSequential(
      "classifier", "test", {6272},
      {{LayerType::kLinear, {{"in_features", 6272}, {"out_features", 4096}}, ""},
       {LayerType::kReLU, {}, ""},
       {LayerType::kLinear, {{"in_features", 4096}, {"out_features", 4096}}, ""},
       {LayerType::kLinear, {{"in_features", 4096}, {"out_features", 10}}, ""}});
  ASSERT_TRUE(classifier.ok()) << classifier.status().ToString();
  auto parts = TrainingStepParts(*classifier, Optimizer::kAdam, Loss::kCrossEntropy);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  const LayerSpec& update = (*parts)[1].spec;
  EXPECT_EQ(update.Int("tensors"), 6);
  EXPECT_EQ(update.Int("large_tensors"), 2);
  EXPECT_EQ(update.Int("large_params"), 6272 * 4096 + 4096 * 4096);
  const std::vector<int64_t> sizes = UpdateTensorSizes(update);
  ASSERT_EQ(sizes.size(), 6u);
  int64_t sum = 0;
  for (int64_t n : sizes) sum += n;
  EXPECT_EQ(sum, classifier->Totals().params);
  EXPECT_GE(sizes[0], kMappedParameterElements);
  EXPECT_GE(sizes[1], kMappedParameterElements);
  for (size_t i = 2; i < sizes.size(); ++i) EXPECT_LT(sizes[i], kMappedParameterElements);

  auto small = BuildSequential("small", "test", {64},
                               {{LayerType::kLinear,
                                 {{"in_features", 64}, {"out_features", 10}}, ""}});
  ASSERT_TRUE(small.ok());
  auto small_parts = TrainingStepParts(*small, Optimizer::kAdam, Loss::kCrossEntropy);
  ASSERT_TRUE(small_parts.ok());
  EXPECT_EQ(CanonicalKey((*small_parts)[1].spec), "AdamStep(tensors=2)[650]");
  EXPECT_EQ(UpdateTensorSizes((*small_parts)[1].spec), (std::vector<int64_t>{325, 325}));

  // The two are given together, and must fit the tensors and the parameters.
  LayerSpec alone{LayerType::kAdamStep, {{"tensors", 3}, {"large_tensors", 1}}, {100}};
  EXPECT_FALSE(Normalize(alone).ok());
  LayerSpec too_many{LayerType::kAdamStep,
                     {{"tensors", 3}, {"large_tensors", 4}, {"large_params", 90}}, {100}};
  EXPECT_FALSE(Normalize(too_many).ok());
  LayerSpec too_much{LayerType::kAdamStep,
                     {{"tensors", 3}, {"large_tensors", 1}, {"large_params", 99}}, {100}};
  EXPECT_FALSE(Normalize(too_much).ok());
  LayerSpec fits{LayerType::kAdamStep,
                 {{"tensors", 3}, {"large_tensors", 1}, {"large_params", 98}}, {100}};
  ASSERT_TRUE(Normalize(fits).ok());
  EXPECT_EQ(UpdateTensorSizes(*Normalize(fits)), (std::vector<int64_t>{98, 1, 1}));
}

}  // namespace
}  // namespace wattfleet
