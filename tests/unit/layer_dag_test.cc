// Tests of the multi-input and Transformer-era layer types and of DAG architectures
// (GraphBuilder). Expected numbers are worked out by hand beside each assertion from the
// conventions at the top of common/src/layer_analyze.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "layer_samples.h"
#include "wattfleet/common/architecture.h"
#include "wattfleet/common/layer.h"

namespace wattfleet {
namespace {

using testing::Spec;
using T = LayerType;

LayerFeatures Features(const LayerSpec& spec) {
  auto f = ComputeFeatures(spec);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? *f : LayerFeatures{};
}

void ExpectInvalid(const LayerSpec& spec, const std::string& needle) {
  auto r = Normalize(spec);
  ASSERT_FALSE(r.ok()) << "accepted " << CanonicalKey(*r);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << "message '" << r.status().message() << "' lacks '" << needle << "'";
}

TEST(NewLayers, ConvTranspose2d) {
  // [4,5,5], k2 s2: (5-1)*2 + 1*(2-1) + 1 = 10; every input element meets 2 filters x 4 taps.
  auto f = Features(Spec(T::kConvTranspose2d,
                         {{"in_channels", 4}, {"out_channels", 2}, {"kernel_size", 2},
                          {"stride", 2}},
                         {4, 5, 5}));
  EXPECT_EQ(f.output_shape, (Shape{2, 10, 10}));
  EXPECT_EQ(f.macs, 100 * 2 * 4);
  EXPECT_EQ(f.params, 4 * 2 * 4 + 2);
  EXPECT_EQ(f.flops, 1600);
  // output_padding adds one row and column; it must stay below the stride.
  auto padded = Features(Spec(T::kConvTranspose2d,
                              {{"in_channels", 4}, {"out_channels", 2}, {"kernel_size", 3},
                               {"stride", 2}, {"padding", 1}, {"output_padding", 1}},
                              {4, 5, 5}));
  EXPECT_EQ(padded.output_shape, (Shape{2, 10, 10}));  // (5-1)*2 - 2 + 2 + 1 + 1
  ExpectInvalid(Spec(T::kConvTranspose2d,
                     {{"in_channels", 4}, {"out_channels", 2}, {"kernel_size", 3},
                      {"output_padding", 1}},
                     {4, 5, 5}),
                "output_padding 1 must be smaller than stride or dilation");
}

TEST(NewLayers, GroupNormAndActivations) {
  auto gn = Features(Spec(T::kGroupNorm, {{"num_groups", 2}}, {8, 4, 4}));
  EXPECT_EQ(gn.params, 16);
  EXPECT_EQ(gn.flops, 5 * 128);
  auto normalized = Normalize(Spec(T::kGroupNorm, {{"num_groups", 2}}, {8, 4, 4}));
  ASSERT_TRUE(normalized.ok());
  EXPECT_EQ(normalized->Int("num_channels"), 8);  // derived from the input
  ExpectInvalid(Spec(T::kGroupNorm, {{"num_groups", 3}}, {8, 4, 4}),
                "num_groups 3 does not divide num_channels 8");
  EXPECT_EQ(Features(Spec(T::kReLU6, {}, {10})).flops, 20);
  EXPECT_EQ(Features(Spec(T::kSiLU, {}, {10})).flops, 50);
  EXPECT_EQ(Features(Spec(T::kHardswish, {}, {10})).flops, 50);
  EXPECT_EQ(Features(Spec(T::kHardsigmoid, {}, {10})).flops, 40);
}

TEST(NewLayers, MultiheadAttention) {
  // L = 5 tokens of E = 8, 2 heads: projections 4*5*64 = 1280 MACs, scores and sum 2*25*8 = 400.
  auto f = Features(Spec(T::kMultiheadAttention, {{"num_heads", 2}}, {5, 8}));
  EXPECT_EQ(f.macs, 1680);
  EXPECT_EQ(f.params, 4 * 64 + 4 * 8);  // in_proj 3E^2 + 3E, out_proj E^2 + E
  EXPECT_EQ(f.flops, 2 * 1680 + 4 * 2 * 25);
  EXPECT_EQ(f.output_shape, (Shape{5, 8}));
  auto no_bias = Features(Spec(T::kMultiheadAttention, {{"num_heads", 2}, {"bias", 0}}, {5, 8}));
  EXPECT_EQ(no_bias.params, 4 * 64);
  ExpectInvalid(Spec(T::kMultiheadAttention, {{"num_heads", 3}}, {5, 8}),
                "num_heads 3 does not divide embed_dim 8");
  ExpectInvalid(Spec(T::kMultiheadAttention, {{"num_heads", 2}, {"embed_dim", 16}}, {5, 8}),
                "embed_dim is 16");
}

TEST(NewLayers, TransformerEncoderLayer) {
  // Attention as above plus the feed-forward 2*5*8*16 = 1280 MACs.
  auto f = Features(Spec(T::kTransformerEncoderLayer, {{"nhead", 2}, {"dim_feedforward", 16}},
                         {5, 8}));
  EXPECT_EQ(f.macs, 2960);
  // 288 attention + (8*16 + 16) + (16*8 + 8) feed-forward + 2 LayerNorms of 16.
  EXPECT_EQ(f.params, 288 + 144 + 136 + 32);
  // 2 MACs + attention 200 + ReLU 5*16 + LayerNorms and adds 12*5*8.
  EXPECT_EQ(f.flops, 5920 + 200 + 80 + 480);
  auto gelu = Features(Spec(T::kTransformerEncoderLayer,
                            {{"nhead", 2}, {"dim_feedforward", 16}, {"gelu", 1}}, {5, 8}));
  EXPECT_EQ(gelu.flops - f.flops, 7 * 80);
}

TEST(NewLayers, MultiInputLayers) {
  auto add = Features(Spec(T::kAdd, {}, {4, 3, 3}, {{4, 3, 3}, {4, 3, 3}}));
  EXPECT_EQ(add.flops, 72);  // two additions per element
  EXPECT_EQ(add.input_elements, 108);
  EXPECT_EQ(add.output_elements, 36);
  auto mul = Features(Spec(T::kMul, {}, {4, 3, 3}, {{4, 1, 1}}));
  EXPECT_EQ(mul.flops, 36);
  EXPECT_EQ(mul.input_elements, 40);
  EXPECT_EQ(mul.output_shape, (Shape{4, 3, 3}));
  auto cat = Features(Spec(T::kConcat, {}, {4, 3, 3}, {{2, 3, 3}, {1, 3, 3}}));
  EXPECT_EQ(cat.output_shape, (Shape{7, 3, 3}));
  EXPECT_EQ(cat.flops, 0);

  ExpectInvalid(Spec(T::kAdd, {}, {4, 3, 3}, {{4, 1, 1}}), "does not match input 0's [4,3,3]");
  ExpectInvalid(Spec(T::kMul, {}, {4, 3, 3}, {{2, 1, 1}}), "does not broadcast");
  ExpectInvalid(Spec(T::kConcat, {}, {4, 3, 3}, {{2, 3, 4}}), "outside dim 0");
  ExpectInvalid(Spec(T::kAdd, {}, {4}), "takes 2 to 64 inputs, got 1");
  ExpectInvalid(Spec(T::kLinear, {{"in_features", 4}, {"out_features", 2}}, {4}, {{4}}),
                "takes 1 input, got 2");
  ExpectInvalid(Spec(T::kConcat, {}, {4, 3}, {{4, 3, 3}}), "differs from input 0's [4,3]");
}

TEST(NewLayers, ReshapingLayers) {
  EXPECT_EQ(Features(Spec(T::kUpsample, {{"scale_factor", 2}}, {2, 4, 4})).output_shape,
            (Shape{2, 8, 8}));
  EXPECT_EQ(Features(Spec(T::kUpsample, {{"scale_factor", 2}}, {2, 4, 4})).flops, 0);
  EXPECT_EQ(Features(Spec(T::kUpsample, {{"scale_factor", 2}, {"bilinear", 1}}, {2, 4, 4})).flops,
            7 * 128);
  EXPECT_EQ(Features(Spec(T::kNarrow, {{"start", 2}, {"length", 2}}, {4, 3, 3})).output_shape,
            (Shape{2, 3, 3}));
  ExpectInvalid(Spec(T::kNarrow, {{"start", 3}, {"length", 2}}, {4, 3, 3}),
                "start 3 + length 2 exceeds the size 4 of dim 0");
  ExpectInvalid(Spec(T::kChannelShuffle, {{"groups", 3}}, {4, 3, 3}), "groups 3 does not divide");
  EXPECT_EQ(Features(Spec(T::kChannelsLast, {}, {4, 2, 3})).output_shape, (Shape{2, 3, 4}));
  EXPECT_EQ(Features(Spec(T::kChannelsFirst, {}, {2, 3, 4})).output_shape, (Shape{4, 2, 3}));
  EXPECT_EQ(Features(Spec(T::kTranspose, {}, {5, 8})).output_shape, (Shape{8, 5}));
  EXPECT_EQ(Features(Spec(T::kTokens, {}, {8, 2, 3})).output_shape, (Shape{6, 8}));
  auto cls = Features(Spec(T::kClassToken, {}, {6, 8}));
  EXPECT_EQ(cls.output_shape, (Shape{7, 8}));
  EXPECT_EQ(cls.params, 8);
  auto pos = Features(Spec(T::kPositionalEmbedding, {}, {7, 8}));
  EXPECT_EQ(pos.params, 56);
  EXPECT_EQ(pos.flops, 56);
  EXPECT_EQ(Features(Spec(T::kSelectToken, {}, {7, 8})).output_shape, (Shape{8}));
  ExpectInvalid(Spec(T::kSelectToken, {{"index", 7}}, {7, 8}), "index 7 is out of range");
  EXPECT_EQ(Features(Spec(T::kLayerScale, {}, {4, 3, 3})).params, 4);
}

TEST(NewLayers, KeysIncludeEveryInputAndCanonicalDims) {
  auto a = Normalize(Spec(T::kConcat, {}, {4, 3, 3}, {{2, 3, 3}}));
  auto b = Normalize(Spec(T::kConcat, {}, {4, 3, 3}, {{3, 3, 3}}));
  auto c = Normalize(Spec(T::kConcat, {{"dim", -3}}, {4, 3, 3}, {{2, 3, 3}}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_NE(CanonicalKey(*a), CanonicalKey(*b));
  EXPECT_EQ(CanonicalKey(*a), CanonicalKey(*c));  // dim -3 is dim 0 of a rank-3 sample
  EXPECT_EQ(CanonicalKey(*a), "Concat(dim=0)[4,3,3][2,3,3]");
}

// ---- DAG architectures -------------------------------------------------------------------

TEST(GraphBuilder, ResidualBlock) {
  GraphBuilder g("block", "test", {8, 6, 6});
  const auto conv = [](double c) {
    return std::map<std::string, double>{
        {"in_channels", c}, {"out_channels", c}, {"kernel_size", 3}, {"padding", 1}};
  };
  g.Then(T::kConv2d, conv(8));
  g.Then(T::kBatchNorm2d);
  g.Then(T::kReLU);
  g.Then(T::kConv2d, conv(8));
  const auto bn2 = g.Then(T::kBatchNorm2d);
  const auto sum = g.Add(T::kAdd, {}, {bn2, GraphBuilder::kInput}, "residual");
  g.Then(T::kReLU);
  auto arch = std::move(g).Finish();
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  ASSERT_EQ(arch->nodes.size(), 7u);
  EXPECT_EQ(sum, 5);
  EXPECT_EQ(arch->nodes[5].name, "residual");
  EXPECT_EQ(arch->nodes[5].inputs, (std::vector<int>{4, -1}));
  EXPECT_EQ(arch->nodes[5].spec.extra_inputs, (std::vector<Shape>{{8, 6, 6}}));
  EXPECT_EQ(arch->nodes[6].name, "relu2");
  EXPECT_EQ(arch->OutputShape(), (Shape{8, 6, 6}));
  // Two convs (8*8*9 + 8 each) and two BatchNorms (16 each).
  EXPECT_EQ(arch->Totals().params, 2 * (576 + 8) + 2 * 16);
}

TEST(GraphBuilder, ErrorsAreKeptAndNameTheNode) {
  GraphBuilder g("broken", "test", {4, 3, 3});
  const auto narrow = g.Then(T::kNarrow, {{"length", 2}});
  g.Add(T::kAdd, {}, {narrow, GraphBuilder::kInput}, "bad_add");  // [2,3,3] + [4,3,3]
  const auto after = g.Then(T::kReLU);  // a no-op: the builder already failed
  EXPECT_LT(after, -1);
  auto arch = std::move(g).Finish();
  ASSERT_FALSE(arch.ok());
  EXPECT_NE(arch.status().message().find("architecture 'broken', node 1 (bad_add)"),
            std::string::npos)
      << arch.status().message();
  EXPECT_NE(arch.status().message().find("does not match"), std::string::npos);

  GraphBuilder future("future", "test", {4});
  future.Add(T::kReLU, {}, {0});  // node 0 cannot read itself
  EXPECT_FALSE(future.status().ok());
  EXPECT_NE(future.status().message().find("not an earlier node"), std::string::npos);

  GraphBuilder dup("dup", "test", {4});
  dup.Then(T::kReLU, {}, "a");
  dup.Then(T::kReLU, {}, "a");
  EXPECT_NE(dup.status().message().find("duplicate node name 'a'"), std::string::npos);

  EXPECT_FALSE(GraphBuilder("empty", "test", {4}).Finish().ok());
  EXPECT_FALSE(GraphBuilder("noshape", "test", {}).Finish().ok());
}

TEST(GraphBuilder, SingleLayerGraphReadsOneGraphInputPerLayerInput) {
  auto spec = Normalize(Spec(T::kConcat, {}, {4, 3, 3}, {{2, 3, 3}}));
  ASSERT_TRUE(spec.ok());
  Architecture g = SingleLayerGraph("k", *spec);
  EXPECT_EQ(g.input_shape, (Shape{4, 3, 3}));
  EXPECT_EQ(g.extra_inputs, (std::vector<Shape>{{2, 3, 3}}));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<int>{GraphInput(0), GraphInput(1)}));
}

// torchvision's vit_b_16: 86,567,656 parameters and 17.56 GMACs ("GFLOPS" in its table).
TEST(GraphBuilder, VitB16MatchesTorchvision) {
  GraphBuilder g("vit_b_16", "vit", {3, 224, 224});
  g.Then(T::kConv2d, {{"in_channels", 3}, {"out_channels", 768}, {"kernel_size", 16},
                      {"stride", 16}});
  g.Then(T::kTokens);
  g.Then(T::kClassToken);
  g.Then(T::kPositionalEmbedding);
  for (int i = 0; i < 12; ++i) {
    g.Then(T::kTransformerEncoderLayer, {{"nhead", 12}, {"dim_feedforward", 3072}, {"gelu", 1},
                                         {"norm_first", 1}, {"dropout", 0}});
  }
  g.Then(T::kLayerNorm);
  g.Then(T::kSelectToken);
  g.Then(T::kLinear, {{"in_features", 768}, {"out_features", 1000}});
  auto arch = std::move(g).Finish();
  ASSERT_TRUE(arch.ok()) << arch.status().ToString();
  const LayerFeatures t = arch->Totals();
  EXPECT_EQ(t.params, 86567656);
  EXPECT_NEAR(static_cast<double>(t.macs) / 17.564e9, 1.0, 0.02);
  EXPECT_EQ(arch->OutputShape(), (Shape{1000}));
}

// ceil_mode (SqueezeNet's pools): a last partial window counts, unless it would start in the
// padding.
TEST(NewLayers, PoolCeilMode) {
  // [2,54,54] k3 s2: floor (54-3)/2 + 1 = 26; ceil keeps the partial window: 27.
  auto floor = Features(Spec(T::kMaxPool2d, {{"kernel_size", 3}, {"stride", 2}}, {2, 54, 54}));
  EXPECT_EQ(floor.output_shape, (Shape{2, 26, 26}));
  auto ceil = Features(
      Spec(T::kMaxPool2d, {{"kernel_size", 3}, {"stride", 2}, {"ceil_mode", 1}}, {2, 54, 54}));
  EXPECT_EQ(ceil.output_shape, (Shape{2, 27, 27}));
  EXPECT_EQ(ceil.flops, 2 * 27 * 27 * 9);
  // An exact fit is the same either way: (55-3)/2 + 1 = 27.
  EXPECT_EQ(Features(Spec(T::kMaxPool2d, {{"kernel_size", 3}, {"stride", 2}, {"ceil_mode", 1}},
                          {2, 55, 55}))
                .output_shape,
            (Shape{2, 27, 27}));
  // [1,5] k2 s2 p1: floor (5+2-2)/2 + 1 = 3; the fourth window would start at 6 = 5 + 1, in the
  // right padding, so PyTorch drops it.
  EXPECT_EQ(Features(Spec(T::kAvgPool1d,
                          {{"kernel_size", 2}, {"stride", 2}, {"padding", 1}, {"ceil_mode", 1}},
                          {1, 5}))
                .output_shape,
            (Shape{1, 3}));
  // [1,4] k3 s2: floor (4-3)/2 + 1 = 1; ceil adds the window starting at 2 < 4: 2.
  EXPECT_EQ(Features(Spec(T::kMaxPool1d, {{"kernel_size", 3}, {"stride", 2}, {"ceil_mode", 1}},
                          {1, 4}))
                .output_shape,
            (Shape{1, 2}));
  auto normalized = Normalize(Spec(T::kMaxPool2d, {{"kernel_size", 2}}, {1, 4, 4}));
  ASSERT_TRUE(normalized.ok());
  EXPECT_EQ(normalized->Int("ceil_mode", -1), 0);  // filled as a default
  ExpectInvalid(Spec(T::kMaxPool2d, {{"kernel_size", 2}, {"ceil_mode", 2}}, {1, 4, 4}),
                "ceil_mode");
}

}  // namespace
}  // namespace wattfleet
