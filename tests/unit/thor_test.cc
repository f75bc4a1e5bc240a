// THOR: which architectures it can predict (signatures), its per-kind GP model fitted from
// probes by differencing, and the estimator around it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/thor_model.h"
#include "wattfleet/plan/thor_signature.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

SweepPoint Point(std::initializer_list<std::pair<const char*, std::vector<int64_t>>> values) {
  SweepPoint p;
  for (const auto& [name, v] : values) p[name] = SweepValue{v, v.size() > 1};
  return p;
}

TEST(ThorSignature, MlpsAreChainsOfTheirInputKind) {
  auto mlp = BuildFamilyMember("mlp", Point({{"depth", {3}}, {"width", {64}}, {"input", {1, 28, 28}}}));
  ASSERT_TRUE(mlp.ok()) << mlp.status().ToString();
  auto sig = ThorSignatureOf(*mlp);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->kind.type, LayerType::kLinear);
  EXPECT_EQ(sig->kind.input_shape, (Shape{784}));
  EXPECT_EQ(sig->widths, (std::vector<int64_t>{64, 64, 64}));
}

TEST(ThorSignature, StackedLstmIsAChainOfSingleLayers) {
  auto har = FindZooArchitecture("har-lstm");
  ASSERT_TRUE(har.ok());
  auto sig = ThorSignatureOf(*har);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->kind.type, LayerType::kLSTM);
  EXPECT_EQ(sig->widths, (std::vector<int64_t>{32, 32}));
}

TEST(ThorSignature, ChainsRoundTripAndOthersAreRefusedWithAReason) {
  const ProbeKind kind{"conv2d-k3-p1-3x16x16-c10", LayerType::kConv2d,
                       {{"kernel_size", 3}, {"padding", 1}}, {3, 16, 16}, 10};
  auto chain = BuildThorChain(kind, {8, 16, 32, 8}, "chain");
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  auto sig = ThorSignatureOf(*chain);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->widths, (std::vector<int64_t>{8, 16, 32, 8}));
  EXPECT_EQ(sig->kind.name, kind.name);

  // Pooling between the convolutions: the later layers see sizes no probe measured.
  auto cnn = BuildFamilyMember("cnn", Point({{"depth", {2}}, {"width", {8}}, {"input", {1, 28, 28}}}));
  ASSERT_TRUE(cnn.ok());
  auto refused = ThorSignatureOf(*cnn);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("MaxPool2d"), std::string::npos)
      << refused.status().message();
  // A strided stem has no probe kind at all.
  auto resnet = FindZooArchitecture("resnet18");
  ASSERT_TRUE(resnet.ok());
  EXPECT_FALSE(ThorSignatureOf(*resnet).ok());
}

TEST(ThorSignature, ProbeNamesParseBack) {
  const ProbeKind kind{"linear-784-c10", LayerType::kLinear, {}, {784}, 10};
  for (auto [role, widths] : {std::pair{ProbeRole::kOutput, std::vector<int64_t>{32}},
                              std::pair{ProbeRole::kInput, std::vector<int64_t>{64}},
                              std::pair{ProbeRole::kHidden, std::vector<int64_t>{64, 128}}}) {
    auto probe = BuildProbe(kind, role, widths);
    ASSERT_TRUE(probe.ok());
    auto parsed = ParseProbeName(probe->name);
    ASSERT_TRUE(parsed.ok()) << probe->name;
    EXPECT_EQ(parsed->kind, kind.name);
    EXPECT_EQ(parsed->role, role);
    EXPECT_EQ(parsed->widths, widths);
  }
  for (const char* bad : {"mlp-d3", "k/output/", "k/sideways/8", "k/hidden/8", "k/input/8x",
                          "k/input/0", "/input/8", "k/input/8y"}) {
    EXPECT_FALSE(ParseProbeName(bad).ok()) << bad;
  }
}

// Energies of a known additive device: E_out(C) = 2e-6 C + 1e-4, E_in(C1) = 3e-7 C1 +
// 5e-5, E_hid(C1, C2) = 4e-9 C1 C2 + 2e-5, with 2 % multiplicative noise.
double Out(double c) { return 2e-6 * c + 1e-4; }
double In(double c) { return 3e-7 * c + 5e-5; }
double Hid(double a, double b) { return 4e-9 * a * b + 2e-5; }

std::vector<ThorProbe> GridProbes(const std::vector<int64_t>& widths, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(1.0, 0.02);
  std::vector<ThorProbe> probes;
  for (int64_t c : widths) {
    const double x = static_cast<double>(c);
    probes.push_back({ProbeRole::kOutput, {c}, Out(x) * noise(rng)});
    probes.push_back({ProbeRole::kInput, {c}, (In(x) + Out(x)) * noise(rng)});
  }
  for (int64_t a : widths) {
    for (int64_t b : widths) {
      const double x = static_cast<double>(a), y = static_cast<double>(b);
      probes.push_back({ProbeRole::kHidden, {a, b}, (In(x) + Hid(x, y) + Out(y)) * noise(rng)});
    }
  }
  return probes;
}

double Truth(const std::vector<int64_t>& w) {
  double e = In(static_cast<double>(w[0])) + Out(static_cast<double>(w.back()));
  for (size_t i = 1; i < w.size(); ++i) {
    e += Hid(static_cast<double>(w[i - 1]), static_cast<double>(w[i]));
  }
  return e;
}

TEST(ThorKindModel, PredictsDeeperNetworksThanItsProbes) {
  auto model = ThorKindModel::Fit(GridProbes({16, 32, 64, 128, 256}, 7));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  for (const std::vector<int64_t>& w :
       {std::vector<int64_t>{64, 64, 64, 64}, {32, 128, 48, 200, 16}, {100, 20}}) {
    auto p = model->Predict(w);
    ASSERT_TRUE(p.ok());
    EXPECT_NEAR(p->mean, Truth(w), 0.05 * Truth(w));
    EXPECT_GT(p->variance, 0);
    EXPECT_EQ(p->parts.size(), w.size() + 1);
    double sum = 0;
    for (double part : p->parts) sum += part;
    EXPECT_DOUBLE_EQ(sum, p->mean);
  }
  // A width far outside the probes is less certain than one inside.
  auto inside = model->Uncertainty(ProbeRole::kHidden, {64, 64});
  auto outside = model->Uncertainty(ProbeRole::kHidden, {4096, 4096});
  ASSERT_TRUE(inside.ok() && outside.ok());
  EXPECT_GT(outside->component_std, inside->component_std);
}

// A probe's cost never falls as its widths grow: a width narrower than two sparse probes is
// priced no higher than the narrower one, and one wider than both no lower than the wider.
// Far from the probes a GP on log cost reverts to their mean with a variance whose log-normal
// mean is many times either (a 1-layer LSTM of 64 was priced at 27 times its measured 5 ms
// from its kind's probes at 128 and 512 wide, measured 14.7 and 214 ms).
TEST(ThorKindModel, AWidthIsPricedWithinTheProbesAroundIt) {
  std::vector<ThorProbe> probes;
  const std::map<int64_t, double> input = {{128, 14.65e-3}, {512, 214e-3}};
  for (const auto& [width, seconds] : input) {
    probes.push_back({ProbeRole::kInput, {width}, seconds});
    probes.push_back({ProbeRole::kOutput, {width}, 0.08e-3});
  }
  for (int64_t a : {128, 512}) {
    for (int64_t b : {128, 512}) {
      probes.push_back({ProbeRole::kHidden, {a, b}, input.at(a) + input.at(b)});
    }
  }
  auto model = ThorKindModel::Fit(probes);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto narrow = model->Predict({64});
  auto wide = model->Predict({1024});
  ASSERT_TRUE(narrow.ok() && wide.ok());
  EXPECT_GT(narrow->mean, 0);
  EXPECT_LE(narrow->mean, 1.1 * input.at(128));
  EXPECT_GE(wide->mean, 0.9 * input.at(512));
}

TEST(ThorKindModel, ChainTermsTelescopePredictsParts) {
  // A constant-width chain of depth d is (d − 1)·P_hid(C, C) − (d − 2)·P_in(C): P_out cancels.
  std::vector<ThorTerm> terms = ThorTerms({64, 64, 64});
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[0].role, ProbeRole::kInput);
  EXPECT_EQ(terms[0].widths, (std::vector<int64_t>{64}));
  EXPECT_DOUBLE_EQ(terms[0].coef, -1);
  EXPECT_EQ(terms[1].role, ProbeRole::kHidden);
  EXPECT_EQ(terms[1].widths, (std::vector<int64_t>{64, 64}));
  EXPECT_DOUBLE_EQ(terms[1].coef, 2);
  // One hidden layer is exactly an input probe.
  terms = ThorTerms({32});
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_EQ(terms[0].role, ProbeRole::kInput);

  // For any chain, Σ coef · (the probe GP's prediction) is Predict's total.
  auto model = ThorKindModel::Fit(GridProbes({16, 32, 64, 128, 256}, 7));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  for (const std::vector<int64_t>& w :
       {std::vector<int64_t>{32, 128, 48, 200, 16}, {100, 20}, {64}}) {
    double sum = 0;
    for (const ThorTerm& t : ThorTerms(w)) {
      auto u = model->Uncertainty(t.role, t.widths);
      ASSERT_TRUE(u.ok());
      sum += t.coef * u->predicted;
    }
    auto p = model->Predict(w);
    ASSERT_TRUE(p.ok());
    EXPECT_NEAR(sum, p->mean, 1e-12 * std::fabs(p->mean));
  }
}

TEST(ThorKindModel, VarianceReductionIsLargestAtTheTargetsOwnProbes) {
  // Probes at 16 and 256 only (plus the hidden corners): a 64-wide chain is uncertain.
  std::vector<ThorProbe> probes;
  for (const ThorProbe& p : GridProbes({16, 64, 256}, 3)) {
    const bool at64 = std::find(p.widths.begin(), p.widths.end(), 64) != p.widths.end();
    if (!at64 || p.role == ProbeRole::kOutput) probes.push_back(p);
  }
  auto model = ThorKindModel::Fit(probes);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::vector<int64_t> chain = {64, 64, 64};
  auto rel = model->ChainRelativeStd(chain);
  ASSERT_TRUE(rel.ok());
  EXPECT_GT(*rel, 0);
  EXPECT_TRUE(std::isfinite(*rel));

  Eigen::MatrixXd hidden(3, 2);
  hidden << 64, 64, 16, 16, 256, 16;
  auto r = model->ChainVarianceReduction(chain, ProbeRole::kHidden, hidden);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT((*r)(0), (*r)(1));
  EXPECT_GT((*r)(0), (*r)(2));
  EXPECT_GE((*r)(1), 0);
  // A probe's reduction cannot exceed what is uncertain about the chain.
  EXPECT_LE((*r)(0), (*rel) * (*rel) * (1 + 1e-9));
  // The chain does not use P_out: no output probe helps it.
  Eigen::MatrixXd out(2, 1);
  out << 64, 16;
  r = model->ChainVarianceReduction(chain, ProbeRole::kOutput, out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)(0), 0);
  EXPECT_EQ((*r)(1), 0);
  // With every probe at 64 measured too, the chain is far more certain.
  auto full = ThorKindModel::Fit(GridProbes({16, 64, 256}, 3));
  ASSERT_TRUE(full.ok());
  auto after = full->ChainRelativeStd(chain);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(*after, *rel / 2);
}

TEST(ThorKindModel, RoundTripsAndRefusesTooFewWidths) {
  auto model = ThorKindModel::Fit(GridProbes({16, 64, 256}, 3));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto restored = ThorKindModel::FromJson(model->ToJson());
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  auto a = model->Predict({16, 100, 256});
  auto b = restored->Predict({16, 100, 256});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->mean, b->mean);
  EXPECT_EQ(a->variance, b->variance);

  auto few = ThorKindModel::Fit(GridProbes({32}, 1));
  ASSERT_FALSE(few.ok());
  EXPECT_EQ(few.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(few.status().message().find("output probes at 1 distinct widths"), std::string::npos)
      << few.status().message();
}

ModelSample Sample(const std::string& kind, const ThorProbe& p) {
  ModelSample s;
  s.kind = JobKind::kProbe;
  s.batch = 16;
  s.thor_kind = kind;
  s.thor_widths = p.widths;
  s.probe_role = std::string(ProbeRoleName(p.role));
  s.energy_j = p.value;
  s.time_s = p.value / 10;
  return s;
}

TEST(ThorEstimator, FitsFromProbesAndPredictsChainsLayerByLayer) {
  const std::string kind = "linear-784-c10";
  std::vector<ModelSample> models;
  for (const ThorProbe& p : GridProbes({16, 32, 64, 128, 256}, 11)) models.push_back(Sample(kind, p));
  auto thor = MakeEstimator("thor");
  ASSERT_TRUE(thor.ok());
  ASSERT_TRUE((*thor)->Fit({}, models, Target::kEnergy).ok());

  // An MLP of three hidden layers: Flatten, (Linear, ReLU) x 3, Linear.
  ModelSample mlp;
  mlp.kind = JobKind::kModel;
  mlp.name = "mlp";
  mlp.batch = 16;
  mlp.thor_kind = kind;
  mlp.thor_widths = {64, 128, 64};
  LayerCatalog catalog;
  const std::vector<std::pair<std::string, std::string>> nodes = {
      {"f", "Flatten"}, {"l1", "Linear"}, {"r", "ReLU"},   {"l2", "Linear"},
      {"r", "ReLU"},    {"l3", "Linear"}, {"r", "ReLU"},   {"l4", "Linear"}};
  for (const auto& [key, type] : nodes) {
    mlp.layer_keys.push_back(key);
    LayerSample s;
    s.key = key;
    s.type = type;
    catalog[key] = s;
  }
  auto e = (*thor)->Predict(mlp, catalog);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  // 2 % noise on a probe's total is ~15 % on the small hidden component differenced out of
  // it, and this network has two hidden layers: 10 %.
  EXPECT_NEAR(e->value, Truth(mlp.thor_widths), 0.10 * Truth(mlp.thor_widths));
  EXPECT_GT(e->std, 0);
  ASSERT_EQ(e->layers.size(), nodes.size());
  EXPECT_EQ(e->layers[0], 0.0);  // the Flatten
  EXPECT_GT(e->layers[1], 0.0);  // E_in
  EXPECT_GT(e->layers[7], 0.0);  // E_out
  double sum = 0;
  for (double v : e->layers) sum += v;
  EXPECT_NEAR(sum, e->value, 1e-12);

  // Restored from its JSON, it predicts the same.
  auto restored = MakeEstimator("thor");
  ASSERT_TRUE((*restored)->FromJson((*thor)->ToJson()).ok());
  EXPECT_EQ((*restored)->Predict(mlp, catalog)->value, e->value);

  // Not a chain, another batch, another kind: refused with the reason.
  ModelSample other = mlp;
  other.thor_kind.clear();
  EXPECT_EQ((*thor)->Predict(other, catalog).status().code(), StatusCode::kUnavailable);
  other = mlp;
  other.batch = 64;
  EXPECT_NE((*thor)->Predict(other, catalog).status().message().find("batch 64"), std::string::npos);
  other = mlp;
  other.thor_kind = "conv2d-k3-p1-3x32x32-c10";
  EXPECT_FALSE((*thor)->Predict(other, catalog).ok());

  // No probes at all.
  auto empty = MakeEstimator("thor");
  Status s = (*empty)->Fit({}, {mlp}, Target::kEnergy);
  EXPECT_NE(s.message().find("thor_probes"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace wattfleet
