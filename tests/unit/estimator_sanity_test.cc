// Physical sanity of the estimators over the whole zoo (their implied power included): fitted on the layers and whole models
// of three architectures (a MobileNet, a BERT, an LSTM) at batches 1 and 8, with costs from a
// saturating per-type law, every zoo architecture's predicted time and energy must not fall
// as the batch grows, no layer may be predicted above its whole model, and a layer of a type
// the fit never saw must cost per unit of work what some measured layer of the same kind of
// work cost, with a warning naming the type.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "wattfleet/estimate/architecture_sample.h"
#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

// Seconds per iteration of a layer on an imaginary CPU: a per-call overhead, then work at an
// efficiency that rises with size; element-wise types at a memory rate. 3 % noise.
double LawTime(const LayerSample& s, std::mt19937& rng) {
  std::normal_distribution<double> noise(1.0, 0.03);
  const double w = LayerWork(s);
  double t = 6e-6;
  if (s.macs > 0) {
    const double per_mac = s.groups > 1 ? 4e-10 : 1e-10;  // depthwise runs slower
    t += per_mac * w / -std::expm1(-std::pow(w / 1e6, 0.5));
  } else {
    t += 2e-10 * LayerMemory(s);
  }
  return t * noise(rng);
}

// Power: 5 W idle; 18 W for layers with MACs, 12 W for the others, 15 W for whole models (each
// within the energy's own 3 % noise).
constexpr double kIdleW = 5, kHighW = 18;
double PowerOf(const LayerSample& s) { return s.macs > 0 ? kHighW : 12; }

struct Fixture {
  TrainingData data;
  LayerCatalog catalog;
};

Fixture Train() {
  Fixture f;
  std::mt19937 rng(11);
  for (const char* name : {"mobilenet_v2", "bert-small", "lstm-text"}) {
    auto arch = FindZooArchitecture(name);
    EXPECT_TRUE(arch.ok()) << name;
    for (int64_t batch : {1, 8}) {
      auto sample = MakeArchitectureSample(*arch, batch, "cpu", "inference");
      EXPECT_TRUE(sample.ok()) << sample.status().message();
      ModelSample m = sample->model;
      std::map<std::string, double> cost;
      for (const auto& [key, layer] : sample->catalog) {
        LayerSample s = layer;
        s.time_s = LawTime(s, rng);
        // Energy read by its own meter: its noise is not the time's, so that an energy and a
        // time fitted apart can imply a power no layer was measured at.
        s.energy_j = PowerOf(s) * LawTime(s, rng);
        s.energy_dynamic_j = s.energy_j - kIdleW * s.time_s;
        cost[key] = s.time_s;
        f.data.layers.push_back(s);
        f.catalog.emplace(key, layer);
      }
      double sum = 0;
      for (const std::string& key : m.layer_keys) sum += cost[key];
      m.time_s = 1.1 * sum;
      m.energy_j = 15 * m.time_s;
      m.energy_dynamic_j = (15 - kIdleW) * m.time_s;
      m.family = name;
      f.data.models.push_back(m);
    }
  }
  return f;
}

// The range of cost per unit of work of the training layers, by kind of work.
std::map<bool, std::pair<double, double>> Ratios(const TrainingData& data, Target target) {
  std::map<bool, std::pair<double, double>> out;
  for (const LayerSample& s : data.layers) {
    const double r = TargetOf(s, target) / LayerWork(s);
    auto [it, fresh] = out.try_emplace(s.macs > 0, r, r);
    it->second.first = std::min(it->second.first, r);
    it->second.second = std::max(it->second.second, r);
  }
  return out;
}

class ZooSanity : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooSanity, MonotoneInBatchBoundedLayersWarnedTypes) {
  static const Fixture f = Train();
  std::set<std::string> trained_types;
  for (const LayerSample& s : f.data.layers) trained_types.insert(s.type);
  const std::vector<std::string> names = ZooNames();
  ASSERT_GT(names.size(), 50u);
  for (Target target : {Target::kTime, Target::kEnergy}) {
    const auto ratios = Ratios(f.data, target);
    auto est = MakeEstimator(GetParam());
    ASSERT_TRUE(est.ok());
    ASSERT_TRUE((*est)->Fit(f.data.layers, f.data.models, target).ok());
    for (const std::string& name : names) {
      auto arch = FindZooArchitecture(name);
      ASSERT_TRUE(arch.ok()) << name;
      double previous = 0;
      for (int64_t batch : {1, 2, 4, 8, 16, 32}) {
        auto sample = MakeArchitectureSample(*arch, batch, "cpu", "inference");
        ASSERT_TRUE(sample.ok()) << name;
        LayerCatalog catalog = sample->catalog;
        auto e = PredictMonotoneInBatch(**est, sample->model, catalog);
        ASSERT_TRUE(e.ok()) << name << ": " << e.status().message();
        const std::string where = GetParam() + " " + std::string(TargetName(target)) + " " +
                                  name + " batch " + std::to_string(batch);
        ASSERT_TRUE(std::isfinite(e->value)) << where;
        EXPECT_GT(e->value, 0) << where;
        EXPECT_GE(e->value, previous * (1 - 1e-9)) << where << " falls below the smaller batch";
        previous = e->value;
        if (e->layers.empty()) continue;  // model-level methods
        ASSERT_EQ(e->layers.size(), sample->nodes.size()) << where;
        std::set<std::string> unseen;
        for (size_t i = 0; i < e->layers.size(); ++i) {
          const LayerSample& node = sample->nodes[i];
          EXPECT_LE(e->layers[i], e->value * (1 + 1e-9)) << where << " node " << i;
          if (trained_types.count(node.type)) continue;
          unseen.insert(node.type);
          // κ scales every layer alike; undo it with the estimate's own sum for the bound.
          const auto [lo, hi] = ratios.at(node.macs > 0);
          const double per_work = e->layers[i] / LayerWork(node);
          EXPECT_LE(per_work, hi * 1.5) << where << " " << node.type;
          EXPECT_GE(per_work, lo / 1.5) << where << " " << node.type;
        }
        for (const std::string& type : unseen) {
          bool named = false;
          for (const std::string& w : e->warnings) named |= w.find(type) != std::string::npos;
          EXPECT_TRUE(named) << where << ": no warning names " << type;
        }
      }
    }
  }
}

// The power a prediction implies (its energy over its time) stays between the device's idle
// power and the highest power measured on it, for every zoo architecture at batches 1-32.
TEST_P(ZooSanity, ImpliedPowerStaysBetweenIdleAndTheHighestPower) {
  static const Fixture f = Train();
  auto energy = MakeEstimator(GetParam());
  auto time = MakeEstimator(GetParam());
  ASSERT_TRUE(energy.ok() && time.ok());
  ASSERT_TRUE((*energy)->Fit(f.data.layers, f.data.models, Target::kEnergy).ok());
  ASSERT_TRUE((*time)->Fit(f.data.layers, f.data.models, Target::kTime).ok());
  double highest = 0;  // the highest power measured: what the band allows
  for (const LayerSample& s : f.data.layers) highest = std::max(highest, s.energy_j / s.time_s);
  for (const ModelSample& m : f.data.models) highest = std::max(highest, m.energy_j / m.time_s);
  ASSERT_GT(highest, kHighW * 0.9);
  for (const std::string& name : ZooNames()) {
    auto arch = FindZooArchitecture(name);
    ASSERT_TRUE(arch.ok()) << name;
    for (int64_t batch : {1, 2, 4, 8, 16, 32}) {
      auto sample = MakeArchitectureSample(*arch, batch, "cpu", "inference");
      ASSERT_TRUE(sample.ok()) << name;
      auto e = PredictMonotoneInBatch(**energy, sample->model, sample->catalog);
      auto t = PredictMonotoneInBatch(**time, sample->model, sample->catalog);
      ASSERT_TRUE(e.ok() && t.ok()) << name;
      const double power = e->value / t->value;
      const std::string where = GetParam() + " " + name + " batch " + std::to_string(batch);
      EXPECT_GE(power, kIdleW * (1 - 1e-6)) << where;
      EXPECT_LE(power, highest * (1 + 1e-6)) << where;
    }
  }
}

// An estimator whose prediction falls as the batch grows past 4 (as a framework's kernel
// switch can make a method predict): the guard raises it, scales the layers, and says so.
class Falling final : public Estimator {
 public:
  std::string name() const override { return "falling"; }
  Status Fit(const std::vector<LayerSample>&, const std::vector<ModelSample>&, Target) override {
    return Status::OK();
  }
  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog&) const override {
    const double v = m.batch <= 4 ? 1.0 * m.batch : 0.5 * m.batch;
    Estimate e;
    e.value = v;
    e.layers = {v / 2, v / 2};
    return e;
  }
  nlohmann::json ToJson() const override { return nlohmann::json::object(); }
  Status FromJson(const nlohmann::json&) override { return Status::OK(); }
};

TEST(MonotoneInBatch, RaisesAFallingPredictionAndSaysSo) {
  Falling f;
  ModelSample m;
  m.batch = 6;
  ASSERT_EQ(f.Predict(m, {})->value, 3.0);  // below batch 4's 4.0
  auto e = PredictMonotoneInBatch(f, m, {});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, 4.0);
  ASSERT_EQ(e->layers.size(), 2u);
  EXPECT_DOUBLE_EQ(e->layers[0] + e->layers[1], 4.0);
  ASSERT_EQ(e->warnings.size(), 1u);
  EXPECT_NE(e->warnings[0].find("batch 4"), std::string::npos);
  double previous = 0;
  for (int64_t b = 1; b <= 64; ++b) {
    m.batch = b;
    const double v = PredictMonotoneInBatch(f, m, {})->value;
    EXPECT_GE(v, previous) << "batch " << b;
    previous = v;
  }
  m.batch = 3;  // rising already: untouched, no warning
  e = PredictMonotoneInBatch(f, m, {});
  EXPECT_EQ(e->value, 3.0);
  EXPECT_TRUE(e->warnings.empty());
}

INSTANTIATE_TEST_SUITE_P(LayerWise, ZooSanity,
                         ::testing::Values("wattlayer", "measured-layers", "wattlayer-paper", "macs", "tdp", "pre"));

}  // namespace
}  // namespace wattfleet
