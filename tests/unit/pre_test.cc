// PRE (kernel ridge regression on architecture and device features) on synthetic samples
// whose truth is a known smooth function of the features, and the device features that
// LoadTrainingData reads from a real dataset file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/estimator.h"
#include "estimator_pre.h"
#include "synthetic_dataset.h"
#include "temp_dir.h"
#include "wattfleet/estimate/training_data.h"

namespace wattfleet {
namespace {

DeviceFeatures Device(double cores, double memory_gib, double peak_flops, double max_power_w) {
  return {cores, memory_gib * (1 << 30), peak_flops, max_power_w};
}

// Energy per iteration: time (FLOPs over an efficiency that grows with the work, on the
// device's peak) times the device's power limit, with a smooth dependence on parameters
// (memory traffic) and input size. Smooth in the log features, spanning several decades.
double TrueEnergy(const ModelSample& m) {
  const double efficiency = 0.5 / (1 + std::pow(m.flops / 1e8, -0.4));
  const double seconds = m.flops / (m.device.peak_flops * efficiency);
  const double memory = 1 + 0.3 * std::log10(1 + m.params / 1e5) + 0.05 * std::log10(m.input_size);
  return seconds * m.device.max_power_w * memory;
}

ModelSample Sample(const std::string& name, double flops, double params, double input,
                   const DeviceFeatures& device, std::mt19937& rng, double noise = 0.01) {
  std::normal_distribution<double> spread(1.0, noise);
  ModelSample m;
  m.device_class = "dev";
  m.mode = "training";
  m.kind = JobKind::kModel;
  m.name = name;
  m.family = "synthetic";
  m.batch = 32;
  m.flops = flops;
  m.macs = flops / 2;
  m.params = params;
  m.input_size = input;
  m.device = device;
  m.energy_j = TrueEnergy(m) * (noise > 0 ? spread(rng) : 1.0);
  m.time_s = m.energy_j / device.max_power_w;
  return m;
}

// Architectures with log-uniform FLOPs and parameters and one of three input sizes.
std::vector<ModelSample> Architectures(const std::string& prefix, int count,
                                       const DeviceFeatures& device, std::mt19937& rng,
                                       double noise = 0.01) {
  std::uniform_real_distribution<double> log_flops(7, 10.5), log_params(4, 7);
  std::uniform_int_distribution<int> input(0, 2);
  const double inputs[] = {784, 3072, 150528};
  std::vector<ModelSample> out;
  for (int i = 0; i < count; ++i) {
    out.push_back(Sample(prefix + std::to_string(i), std::pow(10, log_flops(rng)),
                         std::pow(10, log_params(rng)), inputs[input(rng)], device, rng, noise));
  }
  return out;
}

// The same architectures measured on another device.
std::vector<ModelSample> OnDevice(std::vector<ModelSample> models, const DeviceFeatures& device,
                                  std::mt19937& rng) {
  for (ModelSample& m : models) m = Sample(m.name, m.flops, m.params, m.input_size, device, rng);
  return models;
}

std::unique_ptr<Estimator> Pre() {
  auto e = MakeEstimator("pre");
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(*e) : nullptr;
}

double Ape(double predicted, double truth) { return std::fabs(predicted - truth) / truth; }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

const DeviceFeatures kSmall = Device(4, 8, 1e11, 50);
const DeviceFeatures kLarge = Device(32, 128, 1.6e12, 400);
// Every figure the geometric mean of the two: halfway between them in PRE's log features.
const DeviceFeatures kMiddle = Device(std::sqrt(4.0 * 32), std::sqrt(8.0 * 128),
                                      std::sqrt(1e11 * 1.6e12), std::sqrt(50.0 * 400));

TEST(Pre, RecoversASmoothFunctionOfTheFeaturesOnHeldOutArchitectures) {
  std::mt19937 rng(11);
  std::vector<ModelSample> train;
  for (const DeviceFeatures& d : {kSmall, kMiddle, kLarge}) {
    auto a = Architectures("train-" + std::to_string(train.size()) + "-", 40, d, rng);
    train.insert(train.end(), a.begin(), a.end());
  }
  auto pre = Pre();
  ASSERT_TRUE(pre);
  ASSERT_TRUE(pre->Fit({}, train, Target::kEnergy).ok());

  // The constant predictor: the training set's geometric mean energy.
  double log_sum = 0;
  for (const ModelSample& m : train) log_sum += std::log(m.energy_j);
  const double constant = std::exp(log_sum / static_cast<double>(train.size()));

  std::vector<double> apes, constant_apes;
  int within_two_sigma = 0;
  for (const DeviceFeatures& d : {kSmall, kMiddle, kLarge}) {
    for (const ModelSample& m : Architectures("held-", 20, d, rng, 0.0)) {
      auto p = pre->Predict(m, {});
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      EXPECT_TRUE(p->layers.empty());  // a model-level method
      apes.push_back(Ape(p->value, m.energy_j));
      constant_apes.push_back(Ape(constant, m.energy_j));
      EXPECT_GT(p->std, 0);
      within_two_sigma += std::fabs(p->value - m.energy_j) <= 2 * p->std ? 1 : 0;
    }
  }
  // Energies span about four decades; 1 % noise on the training samples.
  EXPECT_LT(Median(apes), 0.05) << "median APE on held-out architectures";
  EXPECT_LT(*std::max_element(apes.begin(), apes.end()), 0.15);
  EXPECT_LT(Median(apes) * 10, Median(constant_apes));
  // The stated uncertainty is of the right size: most errors within two of it.
  EXPECT_GE(within_two_sigma, static_cast<int>(apes.size() * 8 / 10));
}

TEST(Pre, JsonRoundTripPredictsIdentically) {
  std::mt19937 rng(3);
  auto train = Architectures("a", 30, kSmall, rng);
  auto more = OnDevice(train, kLarge, rng);
  train.insert(train.end(), more.begin(), more.end());
  for (Target target : {Target::kEnergy, Target::kTime}) {
    auto pre = Pre();
    ASSERT_TRUE(pre->Fit({}, train, target).ok());
    // Through text, as the models table stores it.
    const std::string text = pre->ToJson().dump();
    auto restored = Pre();
    ASSERT_TRUE(restored->FromJson(nlohmann::json::parse(text)).ok());
    for (const ModelSample& m : Architectures("q", 10, kMiddle, rng)) {
      auto a = pre->Predict(m, {});
      auto b = restored->Predict(m, {});
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_EQ(a->value, b->value);
      EXPECT_EQ(a->std, b->std);
    }
  }
  // A document of another estimator, or a damaged one, is refused.
  auto macs = MakeEstimator("macs");
  ASSERT_TRUE(macs.ok());
  auto pre = Pre();
  EXPECT_EQ(pre->FromJson((*macs)->ToJson()).code(), StatusCode::kCorruption);
  auto fitted = Pre();
  ASSERT_TRUE(fitted->Fit({}, train, Target::kEnergy).ok());
  nlohmann::json broken = fitted->ToJson();
  broken["inner"]["alpha"].erase(0);
  EXPECT_EQ(pre->FromJson(broken).code(), StatusCode::kCorruption);
}

TEST(Pre, RefusesTooFewSamples) {
  std::mt19937 rng(5);
  auto pre = Pre();
  EXPECT_EQ(pre->Fit({}, {}, Target::kEnergy).code(), StatusCode::kUnavailable);
  EXPECT_EQ(pre->Fit({}, Architectures("a", 4, kSmall, rng), Target::kEnergy).code(),
            StatusCode::kUnavailable);
  // Many samples of two architectures only: no cross-validation possible.
  auto two = Architectures("a", 2, kSmall, rng);
  std::vector<ModelSample> repeated;
  for (int i = 0; i < 5; ++i) repeated.insert(repeated.end(), two.begin(), two.end());
  EXPECT_EQ(pre->Fit({}, repeated, Target::kEnergy).code(), StatusCode::kUnavailable);
  // Probes are not architectures.
  auto probes = Architectures("p", 10, kSmall, rng);
  for (ModelSample& m : probes) m.kind = JobKind::kProbe;
  EXPECT_EQ(pre->Fit({}, probes, Target::kEnergy).code(), StatusCode::kUnavailable);
  // Not fitted: no prediction.
  EXPECT_EQ(pre->Predict(probes[0], {}).status().code(), StatusCode::kUnavailable);
}

TEST(Pre, PredictsADeviceWithNoMeasurementsFromItsFeatures) {
  std::mt19937 rng(17);
  auto small = Architectures("arch-", 40, kSmall, rng);
  auto large = OnDevice(small, kLarge, rng);
  std::vector<ModelSample> train = small;
  train.insert(train.end(), large.begin(), large.end());
  auto pre = Pre();
  ASSERT_TRUE(pre->Fit({}, train, Target::kEnergy).ok());

  // New architectures on the unmeasured middle device: its true energy per FLOP is about
  // √2 away from either measured device's.
  std::vector<double> apes, nearest_device_apes;
  for (const ModelSample& m : Architectures("new-", 25, kMiddle, rng, 0.0)) {
    auto p = pre->Predict(m, {});
    ASSERT_TRUE(p.ok());
    apes.push_back(Ape(p->value, m.energy_j));
    ModelSample on_small = m, on_large = m;
    on_small.device = kSmall;
    on_large.device = kLarge;
    const double ps = pre->Predict(on_small, {})->value;
    const double pl = pre->Predict(on_large, {})->value;
    EXPECT_LT(std::min(ps, pl), p->value);
    EXPECT_GT(std::max(ps, pl), p->value);
    nearest_device_apes.push_back(
        std::min(Ape(TrueEnergy(on_small), m.energy_j), Ape(TrueEnergy(on_large), m.energy_j)));
  }
  EXPECT_LT(Median(apes), 0.10);
  EXPECT_LT(Median(apes) * 2, Median(nearest_device_apes))
      << "better than taking either measured device's energy";

  // One device figure alone moves the prediction.
  ModelSample m = Architectures("x", 1, kMiddle, rng, 0.0)[0];
  const double base = pre->Predict(m, {})->value;
  m.device.peak_flops = kLarge.peak_flops;
  const double faster = pre->Predict(m, {})->value;
  EXPECT_GT(std::fabs(faster - base) / base, 0.03);
  EXPECT_LT(faster, base) << "more peak throughput, less energy, as both devices showed";
}

TEST(Pre, TrainingDataCarriesInputSizeAndTheMeasuringDevice) {
  testing::TempDir dir("wf-pre");
  const std::string db = dir.File("dataset.db");
  testing::BuildSyntheticDataset(db);
  {
    auto store = OpenSqliteStore(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const nlohmann::json caps = {{"device", "cpu"},         {"cores", 12},
                                 {"memory_bytes", 1 << 30}, {"peak_flops", 3e11},
                                 {"max_power_w", 95},       {"sensor", "modeled"}};
    ASSERT_TRUE((*store)->UpsertDevice({"agent-1", "cpu", caps.dump()}).ok());
  }
  auto data = LoadTrainingData(db);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  int models = 0;
  for (const ModelSample& m : data->models) {
    if (m.kind != JobKind::kModel) continue;
    ++models;
    EXPECT_EQ(m.device.cores, 12) << m.name;
    EXPECT_EQ(m.device.memory_bytes, 1 << 30);
    EXPECT_EQ(m.device.peak_flops, 3e11);
    EXPECT_EQ(m.device.max_power_w, 95);
    // The campaign's inputs: MLPs on [1, 28, 28], CNNs on [1, 12, 12].
    if (m.family == "cnn") {
      EXPECT_EQ(m.input_size, 144) << m.name;
    } else if (m.name.rfind("mlp-d", 0) == 0) {
      EXPECT_EQ(m.input_size, 784) << m.name;
    }
  }
  EXPECT_GT(models, 5);
}

}  // namespace
}  // namespace wattfleet
