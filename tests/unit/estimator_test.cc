// The estimators and their evaluation on synthetic datasets whose truth is known: layer
// energies from per-type laws, whole models costing κ times the sum of their layers.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <random>

#include "wattfleet/campaign/estimator_catalog.h"
#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/evaluation.h"
#include "wattfleet/numeric/least_squares.h"

namespace wattfleet {
namespace {

// Energy (and time) of a layer: a per-type law on MACs or elements, with 2 % noise.
LayerSample Layer(const std::string& type, double macs, double elements, std::mt19937& rng,
                  double relu_j = 0.5e-9) {
  std::normal_distribution<double> noise(1.0, 0.02);
  LayerSample s;
  s.device_class = "cpu";
  s.mode = "inference";
  s.type = type;
  s.macs = macs;
  s.flops = 2 * macs + elements;
  s.input_elements = elements;
  s.output_elements = elements;
  s.params = macs > 0 ? macs / 100 : 0;
  s.key = type + "/" + std::to_string(static_cast<long long>(macs)) + "/" +
          std::to_string(static_cast<long long>(elements));
  // Linear-type layers: 1 nJ per MAC plus 5 µJ; ReLU: `relu_j` per element plus 1 µJ.
  const double truth = type == "ReLU" ? relu_j * elements + 1e-6 : 1e-9 * macs + 5e-6;
  s.energy_j = truth * noise(rng);
  s.energy_dynamic_j = s.energy_j;
  s.time_s = s.energy_j / 20.0;  // 20 W
  return s;
}

// MLPs of `depth` Linear+ReLU pairs of width w on 784 inputs; the whole model costs
// kappa x the sum of its layers' true costs.
TrainingData Synthetic(double kappa, double relu_j = 0.5e-9) {
  std::mt19937 rng(7);
  TrainingData data;
  std::map<std::string, LayerSample> seen;
  for (int depth = 1; depth <= 4; ++depth) {
    for (double width : {64.0, 128.0, 256.0, 512.0, 1024.0}) {
      ModelSample m;
      m.device_class = "cpu";
      m.mode = "inference";
      m.kind = JobKind::kModel;
      m.family = depth % 2 ? "odd" : "even";
      m.name = "mlp-d" + std::to_string(depth) + "-w" + std::to_string(static_cast<int>(width));
      double in = 784, energy = 0, macs = 0;
      for (int l = 0; l < depth; ++l) {
        for (const LayerSample& s : {Layer("Linear", 16 * in * width, 16 * width, rng, relu_j),
                                     Layer("ReLU", 0, 16 * width, rng, relu_j)}) {
          m.layer_keys.push_back(s.key);
          energy += s.type == "ReLU" ? relu_j * s.input_elements + 1e-6 : 1e-9 * s.macs + 5e-6;
          macs += s.macs;
          if (seen.emplace(s.key, s).second) data.layers.push_back(s);
        }
        in = width;
      }
      m.macs = macs;
      m.energy_j = kappa * energy;
      m.time_s = m.energy_j / 20.0;
      data.models.push_back(m);
    }
  }
  return data;
}

const EvalResult& Find(const std::vector<EvalResult>& rs, const std::string& name) {
  for (const auto& r : rs) {
    if (r.estimator == name) return r;
  }
  static EvalResult none;
  ADD_FAILURE() << "no result for " << name;
  return none;
}

TEST(Estimators, WattLayerRecoversTheCalibrationFactorOnHeldOutArchitectures) {
  const TrainingData data = Synthetic(1.25);
  auto rs = Evaluate(data, {"wattlayer", "macs", "tdp"}, Target::kEnergy, Split::kGroupedKFold);
  ASSERT_EQ(rs.size(), 3u);
  const EvalResult& w = Find(rs, "wattlayer");
  EXPECT_EQ(w.n, 20);
  EXPECT_TRUE(w.error.empty()) << w.error;
  // Layer laws are linear with 2 % noise and κ is exact: held-out errors stay small.
  EXPECT_LT(w.median_ape, 0.05) << w.median_ape;
  EXPECT_GT(w.r2, 0.98);
  EXPECT_EQ(w.device, "cpu");
  EXPECT_EQ(w.split, "kfold");
  EXPECT_GT(Find(rs, "macs").n, 0);
}

TEST(Estimators, WattLayerBeatsMacsWhenActivationsMatter) {
  // Memory-bound activations (200 nJ per element) make the total far from proportional to
  // MACs (the first layer has 784 MACs per activation, later ones only the width): the
  // per-layer model should win on median error.
  const TrainingData data = Synthetic(1.0, 2e-7);
  auto rs = Evaluate(data, {"wattlayer", "macs"}, Target::kEnergy, Split::kGroupedKFold);
  EXPECT_LT(Find(rs, "wattlayer").median_ape, Find(rs, "macs").median_ape);
}

TEST(Estimators, LeaveOneFamilyOutAndTimeTarget) {
  const TrainingData data = Synthetic(1.1);
  auto rs = Evaluate(data, {"wattlayer"}, Target::kTime, Split::kLeaveOneFamilyOut);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].split, "lofo");
  EXPECT_EQ(rs[0].target, "time");
  EXPECT_EQ(rs[0].n, 20);
  EXPECT_LT(rs[0].median_ape, 0.08);
}

TEST(Estimators, TypesWithoutEnoughLayersAreReported) {
  TrainingData data = Synthetic(1.0);
  std::mt19937 rng(1);
  // One lonely Softmax in one model: too few distinct layers for its own model.
  LayerSample soft = Layer("Softmax", 0, 160, rng);
  data.layers.push_back(soft);
  data.models[3].layer_keys.push_back(soft.key);
  auto rs = Evaluate(data, {"wattlayer"}, Target::kEnergy, Split::kGroupedKFold);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_NE(std::find(rs[0].unmodelled.begin(), rs[0].unmodelled.end(), "Softmax"),
            rs[0].unmodelled.end());
}

TEST(Estimators, UnknownNameAndTooLittleData) {
  auto bad = MakeEstimator("nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("known: macs, tdp, wattlayer"), std::string::npos);
  auto macs = MakeEstimator("macs");
  ASSERT_TRUE(macs.ok());
  EXPECT_FALSE((*macs)->Fit({}, {}, Target::kEnergy).ok());
  TrainingData one = Synthetic(1.0);
  one.models.resize(1);
  auto rs = Evaluate(one, {"macs"}, Target::kEnergy, Split::kGroupedKFold);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].n, 0);
  EXPECT_FALSE(rs[0].error.empty());
}

TEST(LeastSquares, SolvesAndRefusesRankDeficiency) {
  auto c = LeastSquares({{1e9, 1}, {2e9, 1}, {3e9, 1}}, {3, 5, 7});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0], 2e-9, 1e-18);
  EXPECT_NEAR(c[1], 1, 1e-9);
  EXPECT_TRUE(LeastSquares({{1, 2}, {2, 4}}, {1, 2}).empty());
}

}  // namespace
}  // namespace wattfleet

namespace wattfleet {
namespace {

TEST(Estimators, LayerwiseStateRoundTripsAndCorruptStateIsRefused) {
  const TrainingData data = Synthetic(1.1);
  auto fitted = MakeEstimator("measured-layers");
  ASSERT_TRUE((*fitted)->Fit(data.layers, data.models, Target::kEnergy).ok());
  LayerCatalog catalog;
  for (const LayerSample& s : data.layers) catalog.emplace(s.key, s);
  const nlohmann::json state = (*fitted)->ToJson();
  auto restored = MakeEstimator("measured-layers");
  ASSERT_TRUE((*restored)->FromJson(state).ok());
  for (const ModelSample& m : data.models) {
    EXPECT_DOUBLE_EQ((*restored)->Predict(m, catalog)->value, (*fitted)->Predict(m, catalog)->value);
  }
  auto refused = [&](nlohmann::json bad, const char* what) {
    auto e = MakeEstimator("measured-layers");
    EXPECT_EQ((*e)->FromJson(bad).code(), StatusCode::kCorruption) << what;
  };
  nlohmann::json bad = state;
  bad["inner"]["measured"].begin().value().begin().value() = -1.0;
  refused(bad, "a negative measurement");
  bad = state;
  bad["inner"]["ratio_range"].begin().value() = {2.0, 1.0};
  refused(bad, "a reversed range");
  bad = state;
  bad["inner"]["kappa"]["12x"] = 1.0;
  refused(bad, "a batch that is not a number");
  bad = state;
  bad["estimator"] = "wattlayer";
  refused(bad, "another estimator's state");
}

// An update whose weights the allocator maps on its own costs several times its parameters
// in small tensors. Priced from updates that held none, it keeps its value but says so and
// widens its interval's upper end; once the fit has seen such an update, neither.
TEST(Estimators, AnUpdateWithMappedWeightsUnlikeAnyFittedOneWidensItsInterval) {
  TrainingData data = Synthetic(1.0);
  auto update = [](double params, double mapped) {
    LayerSample s;
    s.device_class = "cpu";
    s.mode = "inference";
    s.type = "AdamStep";
    s.params = params;
    s.flops = 13 * params;
    s.input_elements = params;
    s.calls = 20;
    s.mapped_params = mapped;
    s.key = "AdamStep/" + std::to_string(static_cast<long long>(params)) + "/" +
            std::to_string(static_cast<long long>(mapped));
    s.energy_j = 2e-9 * params * (mapped > 0 ? 4.0 : 1.0) + 1e-6;
    s.energy_dynamic_j = s.energy_j;
    s.time_s = s.energy_j / 20.0;
    return s;
  };
  for (double p : {1e4, 3e4, 1e5, 3e5, 1e6, 3e6}) data.layers.push_back(update(p, 0));
  const LayerSample big = update(2e7, 1.8e7);
  LayerCatalog catalog;
  for (const LayerSample& s : data.layers) catalog.emplace(s.key, s);
  LayerSample small_tensors = big;
  small_tensors.mapped_params = 0;
  small_tensors.key = "AdamStep/small";
  catalog.emplace(big.key, big);
  catalog.emplace(small_tensors.key, small_tensors);
  ModelSample with_mapped = data.models[3];
  with_mapped.layer_keys.push_back(big.key);
  ModelSample with_small = data.models[3];
  with_small.layer_keys.push_back(small_tensors.key);

  for (const char* name : {"wattlayer", "measured-layers"}) {
    auto e = MakeEstimator(name);
    ASSERT_TRUE((*e)->Fit(data.layers, data.models, Target::kEnergy).ok()) << name;
    auto mapped = (*e)->Predict(with_mapped, catalog);
    auto small = (*e)->Predict(with_small, catalog);
    ASSERT_TRUE(mapped.ok() && small.ok()) << name;
    EXPECT_DOUBLE_EQ(mapped->value, small->value) << name;
    ASSERT_TRUE(mapped->interval && small->interval) << name;
    const double update_part = mapped->layers.back();
    EXPECT_GT(mapped->interval->second, small->interval->second + 2.0 * update_part) << name;
    auto says = [](const Estimate& est) {
      return std::any_of(est.warnings.begin(), est.warnings.end(), [](const std::string& w) {
        return w.find("8 Mi elements") != std::string::npos;
      });
    };
    EXPECT_TRUE(says(*mapped)) << name;
    EXPECT_FALSE(says(*small)) << name;
  }

  // Fitted with such an update, the estimators have seen what it costs: no warning.
  TrainingData seen = data;
  seen.layers.push_back(update(5e6, 4e6));
  auto e = MakeEstimator("wattlayer");
  ASSERT_TRUE((*e)->Fit(seen.layers, seen.models, Target::kEnergy).ok());
  auto p = (*e)->Predict(with_mapped, catalog);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(std::none_of(p->warnings.begin(), p->warnings.end(), [](const std::string& w) {
    return w.find("8 Mi elements") != std::string::npos;
  }));
}

TEST(Estimators, SamplesWithoutTheTargetAreNotEvidence) {
  // A time-only import stores energy 0: the energy fits must leave such samples out rather
  // than fit a law through zero.
  TrainingData data = Synthetic(1.0);
  const TrainingData clean = data;
  for (size_t i = 0; i < data.models.size(); i += 3) data.models[i].energy_j = 0;
  for (size_t i = 0; i < data.layers.size(); i += 4) data.layers[i].energy_j = 0;
  for (const char* name : {"macs", "wattlayer-paper", "wattlayer"}) {
    auto with_zeros = MakeEstimator(name);
    auto without = MakeEstimator(name);
    ASSERT_TRUE((*with_zeros)->Fit(data.layers, data.models, Target::kEnergy).ok()) << name;
    ASSERT_TRUE((*without)->Fit(clean.layers, clean.models, Target::kEnergy).ok()) << name;
    LayerCatalog catalog;
    for (const LayerSample& s : clean.layers) catalog.emplace(s.key, s);
    const ModelSample& m = clean.models[1];
    const double a = (*with_zeros)->Predict(m, catalog)->value;
    const double b = (*without)->Predict(m, catalog)->value;
    EXPECT_NEAR(a / b, 1.0, 0.1) << name;
  }
}

TEST(Estimators, TdpPowerComesFromSamplesWithBothEnergyAndTime) {
  // Every synthetic model draws 20 W. Time-only samples (an import that carries no energy)
  // must not lower the power: it is energy over time of the same samples.
  TrainingData data = Synthetic(1.0);
  const TrainingData clean = data;
  for (size_t i = 0; i < clean.models.size(); i += 2) {
    ModelSample time_only = clean.models[i];
    time_only.name += "-time-only";
    time_only.energy_j = 0;
    data.models.push_back(time_only);
  }
  auto with = MakeEstimator("tdp");
  auto without = MakeEstimator("tdp");
  ASSERT_TRUE((*with)->Fit(data.layers, data.models, Target::kEnergy).ok());
  ASSERT_TRUE((*without)->Fit(clean.layers, clean.models, Target::kEnergy).ok());
  const LayerCatalog catalog;
  const ModelSample& m = clean.models[3];
  const double a = (*with)->Predict(m, catalog)->value;
  const double b = (*without)->Predict(m, catalog)->value;
  // The time model sees the time-only samples too (they are evidence of time), so t̂ moves
  // a little; the power, taken without them, does not (with them it would fall by a third).
  EXPECT_NEAR(a / b, 1.0, 1e-3);
}

TEST(Estimators, OneListOfNamesAndEveryMeasuredOneIsBuilt) {
  // What `fit` and `predict` build is exactly the catalog's measured kind, each under its own
  // name; the power law and STEP are named by campaigns but fitted elsewhere.
  std::vector<std::string> measured;
  for (const EstimatorInfo& e : kEstimatorCatalog) {
    EXPECT_FALSE(e.help.empty()) << e.name;
    if (e.kind == EstimatorKind::kMeasured) {
      measured.emplace_back(e.name);
      auto built = MakeEstimator(std::string(e.name));
      ASSERT_TRUE(built.ok()) << e.name << ": " << built.status().ToString();
      EXPECT_EQ((*built)->name(), e.name);
    } else {
      EXPECT_EQ(MakeEstimator(std::string(e.name)).status().code(), StatusCode::kNotFound)
          << e.name;
    }
  }
  EXPECT_EQ(EstimatorNames(), measured);
  EXPECT_EQ(measured.size(), 7u);
  for (const char* other : {"powerlaw", "step"}) {
    EXPECT_NE(std::find_if(kEstimatorCatalog.begin(), kEstimatorCatalog.end(),
                           [&](const EstimatorInfo& e) { return e.name == other; }),
              kEstimatorCatalog.end())
        << other;
  }
}

}  // namespace
}  // namespace wattfleet
