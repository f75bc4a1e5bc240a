// The zoo's sequence and audio models: parameter counts against the published models they
// follow, shapes, and the families' naming and validation.
#include <gtest/gtest.h>

#include <set>

#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

SweepValue Int(int64_t v) { return SweepValue{{v}, false}; }

int64_t Params(const std::string& name) {
  auto arch = FindZooArchitecture(name);
  EXPECT_TRUE(arch.ok()) << name << ": " << arch.status().ToString();
  return arch.ok() ? arch->Totals().params : -1;
}

int CountType(const Architecture& a, LayerType t) {
  int n = 0;
  for (const auto& node : a.nodes) n += node.spec.type == t;
  return n;
}

TEST(SequenceZoo, BertBaseIsHuggingFacesBertBaseWithoutTokenTypesPlusAClassifier) {
  // bert-base-uncased has 109,482,240 parameters: less its token-type table (2 x 768) and
  // the position rows beyond 128 tokens ((512 - 128) x 768), plus our 2-way classifier.
  EXPECT_EQ(Params("bert-base"), 109482240 - 2 * 768 - 384 * 768 + (768 * 2 + 2));
  auto arch = FindZooArchitecture("bert-base");
  ASSERT_TRUE(arch.ok());
  EXPECT_EQ(CountType(*arch, LayerType::kTransformerEncoderLayer), 12);
  EXPECT_EQ(arch->OutputShape(), (Shape{2}));
}

TEST(SequenceZoo, Gpt2SmallIsGpt2WithAShorterContextAndAnUntiedHead) {
  // GPT-2 small: 124,439,808 with a 1024-token position table and the LM head tied to the
  // token embedding; here 256 positions and an untied head (measured as its own Linear).
  EXPECT_EQ(Params("gpt2-small"), 124439808 - 768 * 768 + 50257 * 768);
  auto arch = FindZooArchitecture("gpt2-small");
  ASSERT_TRUE(arch.ok());
  EXPECT_EQ(arch->OutputShape(), (Shape{256, 50257}));
  EXPECT_EQ(arch->nodes[3].spec.Int("causal"), 1);
  EXPECT_EQ(arch->nodes[3].spec.Int("norm_first"), 1);
}

TEST(SequenceZoo, ThorLstms) {
  // Two LSTM layers (9 -> 32, 32 -> 32; 4 gates, two biases each) and a 32 -> 6 classifier.
  EXPECT_EQ(Params("har-lstm"), 4 * (9 * 32 + 32 * 32 + 64) + 4 * (32 * 32 + 32 * 32 + 64) +
                                    32 * 6 + 6);
  EXPECT_EQ(Params("lstm-text"), 20000 * 128 + 4 * (128 * 256 + 256 * 256 + 512) + 256 * 2 + 2);
}

TEST(SequenceZoo, AudioModels) {
  // M5 with 32 channels: convs 1->32 (k80), 32->32, 32->64, 64->64 (k3), 4 BatchNorms, 64->35.
  EXPECT_EQ(Params("m5"), (80 * 32 + 32) + (32 * 32 * 3 + 32) + (32 * 64 * 3 + 64) +
                              (64 * 64 * 3 + 64) + 2 * (32 + 32 + 64 + 64) + 64 * 35 + 35);
  auto conformer = FindZooArchitecture("conformer-s");
  ASSERT_TRUE(conformer.ok()) << conformer.status().ToString();
  EXPECT_EQ(conformer->OutputShape(), (Shape{35}));
  EXPECT_EQ(CountType(*conformer, LayerType::kMultiheadAttention), 4);
  EXPECT_EQ(CountType(*conformer, LayerType::kAdd), 4 * 4);  // 4 residuals per block
  auto whisper = FindZooArchitecture("whisper-tiny-encoder");
  ASSERT_TRUE(whisper.ok()) << whisper.status().ToString();
  EXPECT_EQ(whisper->OutputShape(), (Shape{150, 384}));
}

TEST(SequenceZoo, FamiliesNameEveryPointDistinctly) {
  std::set<std::string> names;
  for (int64_t layers : {2, 4}) {
    for (int64_t d : {256, 512}) {
      for (const char* family : {"bert", "gpt"}) {
        auto a = BuildFamilyMember(family, {{"layers", Int(layers)}, {"d_model", Int(d)},
                                            {"heads", Int(8)}, {"seq", Int(64)}});
        ASSERT_TRUE(a.ok()) << a.status().ToString();
        EXPECT_TRUE(names.insert(a->name).second) << a->name;
      }
    }
  }
  for (const char* family : {"lstm", "gru"}) {
    for (int64_t bi : {0, 1}) {
      auto a = BuildFamilyMember(family, {{"hidden", Int(64)}, {"features", Int(16)},
                                          {"bidirectional", Int(bi)}});
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      EXPECT_TRUE(names.insert(a->name).second) << a->name;
    }
  }
  for (const char* family : {"conformer", "audio-encoder"}) {
    auto a = BuildFamilyMember(family, {{"layers", Int(2)}, {"d_model", Int(64)}});
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_TRUE(names.insert(a->name).second) << a->name;
  }
  EXPECT_EQ(*names.begin(), "audio-encoder-l2-d64-h4-t200");
  EXPECT_TRUE(names.count("gpt-l4-d512-h8-s64"));
  EXPECT_TRUE(names.count("gru-l1-h64-i16-s32-bi"));
}

TEST(SequenceZoo, FamilyErrorsNameTheParameter) {
  auto heads = BuildFamilyMember("bert", {{"d_model", Int(100)}, {"heads", Int(8)}});
  ASSERT_FALSE(heads.ok());
  EXPECT_EQ(heads.status().message(), "family 'bert': heads 8 does not divide d_model 100");
  auto missing = BuildFamilyMember("lstm", {{"hidden", Int(8)}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "family 'lstm': features is required");
  auto range = BuildFamilyMember("gru", {{"hidden", Int(8)}, {"features", Int(4)},
                                         {"bidirectional", Int(2)}});
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.status().message(), "family 'gru': bidirectional must be in [0, 1], got 2");
  auto unknown = BuildFamilyMember("m5", {{"depth", Int(3)}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown parameter 'depth'"), std::string::npos);
}

}  // namespace
}  // namespace wattfleet
