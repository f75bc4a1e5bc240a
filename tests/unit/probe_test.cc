// THOR probe models: structure, widths and the additivity they rely on (the 3-layer probe's
// parameters are the 2-layer probe's plus the hidden layer's).
#include <gtest/gtest.h>

#include "wattfleet/common/probe.h"

namespace wattfleet {
namespace {

ProbeKind ConvKind() {
  return {"conv2d-k3-16x16", LayerType::kConv2d, {{"kernel_size", 3}, {"padding", 1}},
          {3, 16, 16}, 10};
}

TEST(Probe, ConvProbesHaveTheThreeShapes) {
  auto out = BuildProbe(ConvKind(), ProbeRole::kOutput, {32});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->name, "conv2d-k3-16x16/output/32");
  EXPECT_EQ(out->family, "probe");
  EXPECT_EQ(out->input_shape, (Shape{32, 16, 16}));
  ASSERT_EQ(out->nodes.size(), 3u);  // pool, flatten, linear
  EXPECT_EQ(out->nodes.back().spec.Int("in_features"), 32);
  EXPECT_EQ(out->OutputShape(), (Shape{10}));

  auto in = BuildProbe(ConvKind(), ProbeRole::kInput, {8});
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->input_shape, (Shape{3, 16, 16}));
  EXPECT_EQ(in->nodes[0].name, "in");
  EXPECT_EQ(in->nodes[0].spec.Int("in_channels"), 3);
  EXPECT_EQ(in->nodes[0].spec.Int("out_channels"), 8);
  EXPECT_EQ(in->nodes.back().spec.Int("in_features"), 8);

  auto hidden = BuildProbe(ConvKind(), ProbeRole::kHidden, {8, 24});
  ASSERT_TRUE(hidden.ok()) << hidden.status().ToString();
  EXPECT_EQ(hidden->name, "conv2d-k3-16x16/hidden/8x24");
  EXPECT_EQ(hidden->nodes[2].name, "hidden");
  EXPECT_EQ(hidden->nodes[2].spec.Int("in_channels"), 8);
  EXPECT_EQ(hidden->nodes[2].spec.Int("out_channels"), 24);

  // Additivity of the structure: hidden(8, 24) = input(8) - output(8) + hidden layer
  // (8*24*9 + 24) + output(24).
  const int64_t in8 = in->Totals().params;
  const int64_t out8 = BuildProbe(ConvKind(), ProbeRole::kOutput, {8})->Totals().params;
  const int64_t out24 = BuildProbe(ConvKind(), ProbeRole::kOutput, {24})->Totals().params;
  EXPECT_EQ(hidden->Totals().params, in8 - out8 + (8 * 24 * 9 + 24) + out24);
}

TEST(Probe, LinearAndRecurrentKinds) {
  ProbeKind mlp{"linear-784", LayerType::kLinear, {}, {784}, 10};
  auto h = BuildProbe(mlp, ProbeRole::kHidden, {128, 64});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->Totals().params, (784 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10));

  ProbeKind lstm{"lstm-har", LayerType::kLSTM, {}, {128, 9}, 6};
  auto out = BuildProbe(lstm, ProbeRole::kOutput, {32});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->input_shape, (Shape{128, 32}));  // the feature (last) dim is the width
  EXPECT_EQ(out->nodes[0].spec.type, LayerType::kSelectToken);
  EXPECT_EQ(out->nodes[0].spec.Int("index"), 127);
  auto in = BuildProbe(lstm, ProbeRole::kInput, {32});
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->nodes[0].spec.Int("input_size"), 9);
  EXPECT_EQ(in->nodes[0].spec.Int("hidden_size"), 32);
}

TEST(Probe, Refusals) {
  EXPECT_FALSE(BuildProbe(ConvKind(), ProbeRole::kHidden, {8}).ok());
  EXPECT_FALSE(BuildProbe(ConvKind(), ProbeRole::kOutput, {0}).ok());
  ProbeKind strided = ConvKind();
  strided.fixed["stride"] = 2;
  auto r = BuildProbe(strided, ProbeRole::kInput, {8});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("probes need 'same' layers"), std::string::npos)
      << r.status().message();
  ProbeKind pool{"pool", LayerType::kMaxPool2d, {{"kernel_size", 2}}, {3, 8, 8}, 10};
  auto p = BuildProbe(pool, ProbeRole::kOutput, {8});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("MaxPool2d has no probe models"), std::string::npos);
}

}  // namespace
}  // namespace wattfleet
