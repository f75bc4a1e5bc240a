// The physical bounds every estimator is held to (physical_bounds.h, bounded_estimator.h), the
// layer-wise small-data interval, views and kin, and κ from whole models whose layers were
// never measured alone. The training data is what a new user has: the layers and whole models
// of three small networks at one batch.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "layer_samples.h"
#include "wattfleet/common/layer.h"
#include "wattfleet/estimate/architecture_sample.h"
#include "wattfleet/estimate/bounded_estimator.h"
#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/estimate/measured_floor.h"
#include "wattfleet/estimate/physical_bounds.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

constexpr double kIdleW = 8, kDynamicW = 12;  // the imaginary CPU: 8 W idle, 20 W loaded

// Seconds per iteration: convolutions cost a flat 50 µs whatever their size (the curve a fit
// on small convolutions can come out with), other work a per-call overhead and a rate.
double FlatConvTime(const LayerSample& s) {
  if (s.type == "Conv2d") return 50e-6;
  if (s.macs > 0) return 5e-6 + s.macs / 2e9;
  return 3e-6 + LayerMemory(s) * 4 / 5e9;
}

void Measure(LayerSample* s, double time) {
  s->time_s = time;
  s->energy_j = (kIdleW + kDynamicW) * time;
  s->energy_dynamic_j = kDynamicW * time;
}

struct Small {
  std::vector<LayerSample> layers;
  std::vector<ModelSample> models;
  LayerCatalog features;  // every layer's features, measured or not
};

// lenet5, a zoo MLP and a small CNN at batch 16, every layer and every whole model measured
// (whole models 5 % above their layers); with `whole_only`, the whole models of these too,
// whose layers are known by their features only, at `whole_factor` times their layers.
using Law = double (*)(const LayerSample&);
Small SmallDataset(const std::vector<std::string>& whole_only = {}, double whole_factor = 1.0,
                   Law law = FlatConvTime) {
  Small d;
  auto add = [&](const std::string& name, bool layers_measured, double factor) {
    auto arch = FindZooArchitecture(name);
    EXPECT_TRUE(arch.ok()) << name;
    auto sample = MakeArchitectureSample(*arch, 16, "cpu", "inference");
    EXPECT_TRUE(sample.ok()) << name;
    double sum = 0;
    for (const LayerSample& node : sample->nodes) sum += law(node);
    for (const auto& [key, layer] : sample->catalog) {
      d.features.emplace(key, layer);
      if (!layers_measured) continue;
      LayerSample s = layer;
      Measure(&s, law(s));
      d.layers.push_back(s);
    }
    ModelSample m = sample->model;
    m.family = name;
    m.time_s = factor * sum;
    m.energy_j = (kIdleW + kDynamicW) * m.time_s;
    m.energy_dynamic_j = kDynamicW * m.time_s;
    d.models.push_back(m);
  };
  for (const char* name : {"lenet5", "mlp-mnist", "cnn5"}) add(name, true, 1.05);
  for (const std::string& name : whole_only) add(name, false, whole_factor);
  return d;
}

// A model of one layer, as MakeArchitectureSample sees it.
ArchitectureSample OneLayer(const std::string& name, LayerType type,
                            std::map<std::string, double> params, const Shape& input,
                            int64_t batch) {
  Architecture a;
  a.name = name;
  a.family = "test";
  a.input_shape = input;
  ArchNode node;
  node.name = "layer";
  node.spec = testing::Spec(type, std::move(params), input);
  node.inputs = {GraphInput()};
  a.nodes.push_back(node);
  auto s = MakeArchitectureSample(a, batch, "cpu", "inference");
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

// A model of one 3x3 convolution of 256 channels on 56x56: 1.85 GMACs at batch 1.
ArchitectureSample BigConvolution(int64_t batch = 1) {
  return OneLayer("one-big-conv", LayerType::kConv2d,
                  {{"in_channels", 256}, {"out_channels", 256}, {"kernel_size", 3},
                   {"padding", 1}},
                  {256, 56, 56}, batch);
}

TEST(PhysicalBounds, BestRatesFloorAndPowerBandComeFromTheMeasurements) {
  const Small d = SmallDataset();
  const PhysicalBounds time = FitPhysicalBounds(d.layers, d.models, Target::kTime);
  double best = 0, floor = std::numeric_limits<double>::infinity();
  for (const LayerSample& s : d.layers) {
    if (s.macs > 0) best = std::max(best, s.macs / s.time_s);
    floor = std::min(floor, s.time_s);
  }
  EXPECT_DOUBLE_EQ(time.best_rate.at("macs"), best);
  EXPECT_DOUBLE_EQ(time.floor, floor);
  const PhysicalBounds energy = FitPhysicalBounds(d.layers, d.models, Target::kEnergy);
  EXPECT_NEAR(energy.idle_w, kIdleW, 1e-9);
  EXPECT_NEAR(energy.max_w, kIdleW + kDynamicW, 1e-9);
  // A declared peak raises the best MAC rate (2 FLOPs per MAC), never lowers it.
  std::vector<ModelSample> declared = d.models;
  declared[0].device.peak_flops = 4 * best;
  EXPECT_DOUBLE_EQ(FitPhysicalBounds(d.layers, declared, Target::kTime).best_rate.at("macs"),
                   2 * best);
  declared[0].device.peak_flops = best / 10;
  EXPECT_DOUBLE_EQ(FitPhysicalBounds(d.layers, declared, Target::kTime).best_rate.at("macs"),
                   best);
  // Each kin of kernels keeps its own declared peak: a convolution's can be 20x a matrix
  // product's on a CPU, and the best MAC rate is the higher.
  declared[1].device.peak_conv_flops = 8 * best;
  const PhysicalBounds kins = FitPhysicalBounds(d.layers, declared, Target::kTime);
  EXPECT_DOUBLE_EQ(kins.kin_peak.at("matmul"), best / 20);
  EXPECT_DOUBLE_EQ(kins.kin_peak.at("conv"), 4 * best);
  EXPECT_DOUBLE_EQ(kins.best_rate.at("macs"), 4 * best);
  declared[1].device.pointwise_flops = best;
  EXPECT_DOUBLE_EQ(FitPhysicalBounds(d.layers, declared, Target::kTime).pointwise_rate, best / 2);
  // Round trip, and a stored bound that is not a figure is refused.
  auto back = PhysicalBounds::FromJson(time.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ToJson(), time.ToJson());
  nlohmann::json bad = time.ToJson();
  bad["floor"] = -1.0;
  EXPECT_EQ(PhysicalBounds::FromJson(bad).status().code(), StatusCode::kCorruption);
}

// The fit on three small models cannot price a 1.85 GMAC convolution faster than the device's
// highest measured rate allows (before the bounds, the flat convolution curve priced it at
// 50 µs, 37 TMAC/s); its energy implies a power between idle and the highest measured.
TEST(PhysicalBounds, SmallModelsCannotPriceALargeConvolutionFasterThanTheBestRate) {
  const Small d = SmallDataset();
  double best = 0;
  for (const LayerSample& s : d.layers) {
    if (s.macs > 0) best = std::max(best, s.macs / s.time_s);
  }
  const ArchitectureSample big = BigConvolution();
  const double least = big.model.macs / (best * kBoundMargin);
  for (const std::string& name : EstimatorNames()) {
    SCOPED_TRACE(name);
    auto time = MakeEstimator(name);
    auto energy = MakeEstimator(name);
    ASSERT_TRUE(time.ok() && energy.ok());
    (*time)->UseLayerFeatures(&d.features);
    (*energy)->UseLayerFeatures(&d.features);
    if (!(*time)->Fit(d.layers, d.models, Target::kTime).ok()) continue;  // needs more data
    ASSERT_TRUE((*energy)->Fit(d.layers, d.models, Target::kEnergy).ok());
    auto t = PredictMonotoneInBatch(**time, big.model, big.catalog);
    auto e = PredictMonotoneInBatch(**energy, big.model, big.catalog);
    ASSERT_TRUE(t.ok() && e.ok());
    EXPECT_GE(t->value, least * (1 - 1e-9)) << "faster than the best measured rate";
    const double power = e->value / t->value;
    EXPECT_GE(power, kIdleW * (1 - 1e-9));
    EXPECT_LE(power, (kIdleW + kDynamicW) * (1 + 1e-9));
    EXPECT_GT(t->reach, 10.0) << "1.85 GMACs against the small convolutions measured";
  }
}

// Far beyond the layers measured, a layer's cost per MAC falls from that of the largest
// measured layer as the square root of its reach, never below its kin's declared peak
// (efficiency rises with size and saturates): small layers at 2 GMAC/s say little of a
// 1.85 GMAC convolution.
double SlowSmallConvTime(const LayerSample& s) {
  if (s.macs > 0) return 5e-6 + s.macs / 2e9;  // small layers at 2 GMAC/s
  return 3e-6 + LayerMemory(s) * 4 / 5e9;
}

TEST(PhysicalBounds, FarBeyondTheDataALayerTendsToItsKinsPeak) {
  Small d = SmallDataset({}, 1.0, SlowSmallConvTime);
  const double conv_peak_macs = 40e9;
  d.models[0].device.peak_conv_flops = 2 * conv_peak_macs;
  double top_work = 0, top_cost = 0;
  for (const LayerSample& s : d.layers) {
    if (s.type == "Conv2d" && s.macs > top_work) {
      top_work = s.macs;
      top_cost = s.time_s / s.macs;
    }
  }
  const ArchitectureSample big = BigConvolution();
  const double w = big.model.macs;
  ASSERT_GT(w / top_work, 10.0);
  for (const char* name : {"wattlayer", "measured-layers"}) {
    auto est = MakeEstimator(name);
    ASSERT_TRUE(est.ok());
    ASSERT_TRUE((*est)->Fit(d.layers, d.models, Target::kTime).ok());
    auto t = (*est)->Predict(big.model, big.catalog);
    ASSERT_TRUE(t.ok());
    const double expected = w * std::max(1 / conv_peak_macs, top_cost / std::sqrt(w / top_work));
    EXPECT_NEAR(t->value / expected, 1.0, 0.15) << name;
    EXPECT_LT(t->value, w * top_cost / 3) << name << ": well below the small layers' cost";
    // Much further, the kin's peak is the floor of its cost per MAC.
    const ArchitectureSample huge = BigConvolution(64);
    auto h = (*est)->Predict(huge.model, huge.catalog);
    ASSERT_TRUE(h.ok());
    EXPECT_GE(h->value, huge.model.macs / conv_peak_macs * 0.95) << name;
    EXPECT_LT(h->value, huge.model.macs / conv_peak_macs * 1.3) << name;
  }
}

// A 1x1 convolution, of a group no small network measured, is a matrix product that the
// framework runs either at its matrix products' rate or at its convolutions': the agents'
// batch-1 probe of one says which, and the estimate leans that way.
double FastConvSlowMatmulTime(const LayerSample& s) {
  if (s.type == "Conv2d") return 5e-6 + s.macs / 40e9;
  if (s.macs > 0) return 5e-6 + s.macs / 2e9;
  return 3e-6 + LayerMemory(s) * 4 / 5e9;
}

ArchitectureSample PointwiseConvolution() {
  return OneLayer("one-pointwise-conv", LayerType::kConv2d,
                  {{"in_channels", 256}, {"out_channels", 256}, {"kernel_size", 1}},
                  {256, 28, 28}, 1);
}

TEST(PhysicalBounds, APointwiseConvolutionLeansToTheSideOfTheDevicesProbe) {
  const ArchitectureSample pw = PointwiseConvolution();
  auto predict = [&](const char* name, double pointwise_flops) {
    Small d = SmallDataset({}, 1.0, FastConvSlowMatmulTime);
    for (ModelSample& m : d.models) {
      m.device.peak_flops = 2 * 3e9;
      m.device.peak_conv_flops = 2 * 60e9;
      m.device.pointwise_flops = pointwise_flops;
    }
    auto est = MakeEstimator(name);
    EXPECT_TRUE(est.ok());
    EXPECT_TRUE((*est)->Fit(d.layers, d.models, Target::kTime).ok());
    auto t = (*est)->Predict(pw.model, pw.catalog);
    EXPECT_TRUE(t.ok());
    return t.ok() ? t->value : 0.0;
  };
  for (const char* name : {"wattlayer", "measured-layers"}) {
    SCOPED_TRACE(name);
    const double as_matmul = predict(name, 2 * 3e9);   // the probe ran at the BLAS rate
    const double as_conv = predict(name, 2 * 60e9);    // ... at the convolutions' rate
    const double unknown = predict(name, 0);           // no probe: the geometric mean
    EXPECT_GT(as_matmul, 4 * as_conv);
    EXPECT_GT(as_matmul, unknown * 1.5);
    EXPECT_LT(as_conv, unknown / 1.5);
    EXPECT_NEAR(unknown, std::sqrt(as_matmul * as_conv), 0.05 * unknown);
  }
}

// Beyond the data the price follows the trend of the group's own largest layers: a kernel
// already saturated (cost per MAC flat over the top of the range, as a CPU's BLAS runs every
// Transformer layer of a campaign at one rate) stays saturated, where the √ρ prior would
// price a layer 16x larger at a quarter of its cost per MAC; one still speeding up goes on.
// `name` fitted for time on `layers` and `models`, and its prediction of `arch`.
Result<Estimate> TimePrediction(const std::string& name, const std::vector<LayerSample>& layers,
                                const std::vector<ModelSample>& models,
                                const ArchitectureSample& arch) {
  WF_ASSIGN_OR_RETURN(std::unique_ptr<Estimator> e, MakeEstimator(name));
  WF_RETURN_IF_ERROR(e->Fit(layers, models, Target::kTime));
  return e->Predict(arch.model, arch.catalog);
}

ArchitectureSample OneLinear(int64_t width) {
  const auto w = static_cast<double>(width);
  return OneLayer("linear-" + std::to_string(width), LayerType::kLinear,
                  {{"in_features", w}, {"out_features", w}}, {width}, 16);
}

TEST(PhysicalBounds, BeyondTheDataThePriceFollowsTheTrendOfTheLargestLayers) {
  const double rate = 1.3e9;  // MAC/s
  // Saturated: cost = W / rate. Still speeding up: cost per MAC ∝ W^-0.3 all the way.
  const Law kLaws[] = {[](const LayerSample& s) { return s.macs / 1.3e9; },
                       [](const LayerSample& s) {
                         return s.macs / 1.3e9 * std::pow(s.macs / 1e6, -0.3);
                       }};
  const ArchitectureSample big = OneLinear(4096);  // 16x the largest measured layer's MACs
  for (int law = 0; law < 2; ++law) {
    std::vector<LayerSample> layers;
    std::vector<ModelSample> models;
    double top = 0, top_cost = 0;
    for (int64_t width : {64, 96, 128, 192, 256, 384, 512, 768, 1024}) {
      const ArchitectureSample one = OneLinear(width);
      LayerSample s = one.catalog.begin()->second;
      Measure(&s, kLaws[law](s));
      if (s.macs > top) {
        top = s.macs;
        top_cost = s.time_s / s.macs;
      }
      layers.push_back(s);
      // Whole models too, with a matrix-product peak far above every measured rate: the
      // floor beyond the data is the device's, not the largest layer's.
      ModelSample m = one.model;
      m.time_s = s.time_s;
      m.energy_j = s.energy_j;
      m.energy_dynamic_j = s.energy_dynamic_j;
      m.device.peak_flops = 2 * 100e9;
      models.push_back(m);
    }
    const double reach = big.model.macs / top;
    ASSERT_GT(reach, 10.0);
    for (const char* name : {"wattlayer", "measured-layers"}) {
      SCOPED_TRACE(std::string(name) + (law == 0 ? ", saturated" : ", speeding up"));
      auto est = MakeEstimator(name);
      ASSERT_TRUE(est.ok());
      ASSERT_TRUE((*est)->Fit(layers, models, Target::kTime).ok());
      auto t = (*est)->Predict(big.model, big.catalog);
      ASSERT_TRUE(t.ok()) << t.status().message();
      const double flat = big.model.macs / rate;
      // The trend is stored with the fit, and a stored one out of [0, 0.5] is refused.
      nlohmann::json state = (*est)->ToJson();
      ASSERT_TRUE(state.at("inner").at("trend").contains("Linear"));
      auto again = MakeEstimator(name);
      ASSERT_TRUE(again.ok());
      ASSERT_TRUE((*again)->FromJson(state).ok());
      state["inner"]["trend"]["Linear"] = 0.9;
      EXPECT_EQ((*again)->FromJson(state).code(), StatusCode::kCorruption);
      if (law == 0) {
        EXPECT_NEAR(t->value / flat, 1.0, 0.05);
      } else {
        // Below the largest layer's cost per MAC, never below the trend itself (the memory
        // bound, from the measured bytes per second, may hold it above).
        const double trend = kLaws[1](big.catalog.begin()->second);
        EXPECT_LT(t->value, big.model.macs * top_cost * 0.7);
        EXPECT_GE(t->value, trend * 0.95);
      }
    }
  }
}

// A type measured too little for a curve of its own keeps, beyond its layers, the trend they
// show between the batches they were measured at (a Transformer block's cost per MAC flat
// from batch 2 to 8 stays flat at twice the width), else its kin's (an attention layer
// measured at one batch, beside matrix products whose cost per MAC is flat): never a rise in
// efficiency nothing measured showed.
TEST(PhysicalBounds, ATypeMeasuredTooLittleForACurveKeepsTheTrendItsLayersShow) {
  const double rate = 0.6e9;  // MAC/s, every size and batch
  auto encoder = [](double width, int64_t batch) {
    return OneLayer("encoder", LayerType::kTransformerEncoderLayer,
                    {{"nhead", 4}, {"dim_feedforward", 4 * width}},
                    {32, static_cast<int64_t>(width)}, batch);
  };
  auto attention = [](double width, int64_t batch) {
    return OneLayer("attention", LayerType::kMultiheadAttention, {{"num_heads", 4}},
                    {32, static_cast<int64_t>(width)}, batch);
  };
  std::vector<LayerSample> layers;
  std::vector<ModelSample> models;
  auto measure = [&](const ArchitectureSample& one) {
    LayerSample s = one.nodes[0];
    Measure(&s, s.macs / rate);
    layers.push_back(s);
    ModelSample m = one.model;
    m.time_s = s.time_s;
    m.energy_j = s.energy_j;
    m.energy_dynamic_j = s.energy_dynamic_j;
    m.device.peak_flops = 2 * 100e9;  // a declared peak far above every measured rate
    models.push_back(m);
  };
  for (int64_t width : {64, 96, 128, 192, 256, 384, 512}) measure(OneLinear(width));
  for (int64_t batch : {2, 8}) measure(encoder(128, batch));
  measure(attention(128, 8));
  for (const char* name : {"wattlayer", "measured-layers"}) {
    auto est = MakeEstimator(name);
    ASSERT_TRUE(est.ok());
    ASSERT_TRUE((*est)->Fit(layers, models, Target::kTime).ok());
    for (const ArchitectureSample& big : {encoder(256, 8), attention(512, 8)}) {
      SCOPED_TRACE(std::string(name) + ", " + big.nodes[0].type);
      ASSERT_GT(big.nodes[0].macs, 3.5 * layers.back().macs);
      auto t = (*est)->Predict(big.model, big.catalog);
      ASSERT_TRUE(t.ok()) << t.status().message();
      EXPECT_NEAR(t->value / (big.model.macs / rate), 1.0, 0.1);
    }
  }
}

// A convolution's price does not fall as it grows past the largest measured one: the curve
// and the extrapolation beyond it meet at the top of the range.
TEST(PhysicalBounds, PriceDoesNotFallAcrossTheTopOfTheMeasuredRange) {
  const Small d = SmallDataset({}, 1.0, SlowSmallConvTime);
  for (const char* name : {"wattlayer", "measured-layers"}) {
    auto est = MakeEstimator(name);
    ASSERT_TRUE(est.ok());
    ASSERT_TRUE((*est)->Fit(d.layers, d.models, Target::kTime).ok());
    double previous = 0;
    for (int64_t channels = 4; channels <= 1024; channels += 4) {
      Architecture a;
      a.name = "one-conv";
      a.family = "test";
      a.input_shape = {16, 28, 28};
      ArchNode node;
      node.name = "conv";
      node.inputs = {GraphInput()};
      node.spec = testing::Spec(LayerType::kConv2d,
                                {{"in_channels", 16}, {"out_channels", static_cast<double>(channels)},
                                 {"kernel_size", 3}},
                                {16, 28, 28});
      a.nodes.push_back(node);
      auto s = MakeArchitectureSample(a, 16, "cpu", "inference");
      ASSERT_TRUE(s.ok());
      auto t = (*est)->Predict(s->model, s->catalog);
      ASSERT_TRUE(t.ok());
      EXPECT_GE(t->value, previous * (1 - 1e-9)) << name << " at " << channels << " channels";
      previous = t->value;
    }
  }
}

// A method whose shares of layers are not each a layer's own cost (THOR's are differences,
// and fold an activation into its neighbour's) keeps them: a negative share is not refused,
// and a zero share is not raised on its own (which would count that layer twice).
class Differences final : public Estimator {
 public:
  std::string name() const override { return "differences"; }
  Status Fit(const std::vector<LayerSample>&, const std::vector<ModelSample>&, Target) override {
    return Status::OK();
  }
  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog&) const override {
    Estimate e;
    e.value = 1.0;  // far above any bound of these layers
    e.layers.assign(m.layer_keys.size(), 0.0);
    e.layers.front() = 1.5;
    e.layers.back() = -0.5;
    return e;
  }
  nlohmann::json ToJson() const override { return {{"estimator", name()}}; }
  Status FromJson(const nlohmann::json&) override { return Status::OK(); }
};

TEST(PhysicalBounds, SharesThatAreDifferencesAreKept) {
  const Small d = SmallDataset();
  auto arch = FindZooArchitecture("lenet5");
  ASSERT_TRUE(arch.ok());
  auto s = MakeArchitectureSample(*arch, 16, "cpu", "inference");
  ASSERT_TRUE(s.ok());
  auto e = WithPhysicalBounds([] { return std::unique_ptr<Estimator>(new Differences()); });
  ASSERT_TRUE(e->Fit(d.layers, d.models, Target::kTime).ok());
  auto p = e->Predict(s->model, s->catalog);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_DOUBLE_EQ(p->value, 1.0);
  EXPECT_DOUBLE_EQ(p->layers.back(), -0.5);
  EXPECT_TRUE(p->warnings.empty()) << p->warnings.front();
}

// A non-finite or negative estimate is refused, never printed.
class Broken final : public Estimator {
 public:
  explicit Broken(double value) : value_(value) {}
  std::string name() const override { return "broken"; }
  Status Fit(const std::vector<LayerSample>&, const std::vector<ModelSample>&, Target) override {
    return Status::OK();
  }
  Result<Estimate> Predict(const ModelSample&, const LayerCatalog&) const override {
    Estimate e;
    e.value = value_;
    return e;
  }
  nlohmann::json ToJson() const override { return {{"estimator", name()}}; }
  Status FromJson(const nlohmann::json&) override { return Status::OK(); }

 private:
  double value_;
};

TEST(PhysicalBounds, NonFiniteOrNegativeEstimatesAreRefused) {
  const Small d = SmallDataset();
  const ArchitectureSample big = BigConvolution();
  for (double v : {std::numeric_limits<double>::infinity(), std::nan(""), -1.0, 1e308 * 10}) {
    auto e = WithPhysicalBounds([v] { return std::unique_ptr<Estimator>(new Broken(v)); });
    ASSERT_TRUE(e->Fit(d.layers, d.models, Target::kTime).ok());
    auto p = e->Predict(big.model, big.catalog);
    ASSERT_FALSE(p.ok()) << v;
    EXPECT_EQ(p.status().code(), StatusCode::kInternal);
    EXPECT_NE(p.status().message().find("refused"), std::string::npos);
  }
  auto fine = WithPhysicalBounds([] { return std::unique_ptr<Estimator>(new Broken(1e-3)); });
  ASSERT_TRUE(fine->Fit(d.layers, d.models, Target::kTime).ok());
  EXPECT_TRUE(fine->Predict(big.model, big.catalog).ok());
}

// A method extrapolating out of its range (a log-linear curve can price a network at 1e100
// s) is held at the device's ceiling: ten times the model's work at the least efficient rate
// any layer was measured at, plus ten dearest calls, and says so. A sane estimate is left
// alone, and so is every real estimator's on the zoo's models.
TEST(PhysicalBounds, AnAbsurdlySlowEstimateIsHeldAtTheDevicesCeiling) {
  const Small d = SmallDataset();
  const ArchitectureSample big = BigConvolution();
  // Its work at the least cost per MAC of its group's measured layers (3x3 convolutions, all
  // smaller, their calls included).
  double least = std::numeric_limits<double>::infinity();
  for (const LayerSample& s : d.layers) {
    if (s.macs > 0 && CostGroup(s) == CostGroup(big.nodes[0])) {
      least = std::min(least, s.time_s / s.macs);
    }
  }
  ASSERT_TRUE(std::isfinite(least));
  const double ceiling = kCeilingFactor * big.model.macs * least;
  auto absurd = WithPhysicalBounds([] { return std::unique_ptr<Estimator>(new Broken(1e100)); });
  ASSERT_TRUE(absurd->Fit(d.layers, d.models, Target::kTime).ok());
  auto p = absurd->Predict(big.model, big.catalog);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_NEAR(p->value / ceiling, 1.0, 1e-9);
  bool said = false;
  for (const std::string& w : p->warnings) said = said || w.find("ceiling") != std::string::npos;
  EXPECT_TRUE(said);
  // The ceiling survives a round trip of the stored state.
  auto again = WithPhysicalBounds([] { return std::unique_ptr<Estimator>(new Broken(1e100)); });
  ASSERT_TRUE(again->FromJson(absurd->ToJson()).ok());
  auto q = again->Predict(big.model, big.catalog);
  ASSERT_TRUE(q.ok());
  EXPECT_DOUBLE_EQ(q->value, p->value);

  auto sane = WithPhysicalBounds([&] { return std::unique_ptr<Estimator>(new Broken(ceiling / 2)); });
  ASSERT_TRUE(sane->Fit(d.layers, d.models, Target::kTime).ok());
  auto r = sane->Predict(big.model, big.catalog);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->value, ceiling / 2);
  // The layer-wise methods and PRE stay below it. `macs`, a line through whole models, prices
  // the convolution at its MACs where every convolution of this dataset cost a flat 50 µs,
  // whatever its size: held, rightly.
  for (const char* name : {"wattlayer", "measured-layers", "pre"}) {
    SCOPED_TRACE(name);
    auto est = MakeEstimator(name);
    ASSERT_TRUE(est.ok());
    if (!(*est)->Fit(d.layers, d.models, Target::kTime).ok()) continue;
    auto t = (*est)->Predict(big.model, big.catalog);
    ASSERT_TRUE(t.ok());
    for (const std::string& w : t->warnings) EXPECT_EQ(w.find("ceiling"), std::string::npos) << w;
  }
}

// A large layer's ceiling comes from the layers of its group measured at no more work, their
// calls included, not from the least efficient layer of any kind plus the dearest call: a
// two-logit classifier's call, thousands of times its MACs' worth, once let a 3 GMAC step be
// priced at 1 378 times its time. A layer smaller than every measured one of its group, or of
// a group never measured, keeps the kind's.
TEST(PhysicalBounds, ACeilingComesFromTheSmallerLayersOfItsGroup) {
  auto linear = [](int64_t in, int64_t out, int64_t batch) {
    return OneLayer("linear", LayerType::kLinear,
                    {{"in_features", static_cast<double>(in)},
                     {"out_features", static_cast<double>(out)}},
                    {in}, batch)
        .nodes[0];
  };
  std::vector<LayerSample> layers;
  auto measure = [&](LayerSample s, double seconds) {
    Measure(&s, seconds);
    layers.push_back(s);
    return s;
  };
  const LayerSample classifier = measure(linear(16, 2, 2), 20e-6);  // 64 MACs: 3e-7 s per MAC
  const LayerSample wide = measure(linear(512, 512, 8), 2.1e-3);    // 1 ns per MAC
  measure(linear(256, 256, 8), 0.6e-3);                             // 1.14 ns per MAC
  const PhysicalBounds b = FitPhysicalBounds(layers, {}, Target::kTime);
  const LayerSample big = linear(4096, 4096, 8);
  const double per_mac = wide.time_s / wide.macs;
  EXPECT_NEAR(b.LayerCeiling(big), kCeilingFactor * big.macs * per_mac,
              1e-9 * b.LayerCeiling(big));
  EXPECT_LT(b.LayerCeiling(big), 1e-2 * kCeilingFactor * big.macs * classifier.time_s /
                                     classifier.macs);
  // Below every measured Linear: the kind's slowest cost per MAC.
  const LayerSample tiny = linear(4, 2, 2);
  EXPECT_NEAR(b.LayerCeiling(tiny),
              kCeilingFactor * (tiny.macs * classifier.time_s / classifier.macs + wide.time_s),
              1e-9 * b.LayerCeiling(tiny));
  // Stored and read back; a stored group cost out of order is refused.
  auto back = PhysicalBounds::FromJson(b.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_DOUBLE_EQ(back->LayerCeiling(big), b.LayerCeiling(big));
  nlohmann::json bad = b.ToJson();
  ASSERT_GE(bad["group_cost"]["Linear"].size(), 2u);
  std::swap(bad["group_cost"]["Linear"][0], bad["group_cost"]["Linear"][1]);
  EXPECT_EQ(PhysicalBounds::FromJson(bad).status().code(), StatusCode::kCorruption);
}

// A method whose energy and time disagree (100 W, or 1 W, on a device measured between 8 and
// 20 W) is held to the band: energy over time comes out at the highest or the idle power.
class Disagreeing final : public Estimator {
 public:
  Disagreeing(double watts, double seconds) : watts_(watts), seconds_(seconds) {}
  std::string name() const override { return "disagreeing"; }
  Status Fit(const std::vector<LayerSample>&, const std::vector<ModelSample>&,
             Target target) override {
    target_ = target;
    return Status::OK();
  }
  Result<Estimate> Predict(const ModelSample&, const LayerCatalog&) const override {
    Estimate e;
    e.value = target_ == Target::kTime ? seconds_ : seconds_ * watts_;
    return e;
  }
  nlohmann::json ToJson() const override {
    return {{"estimator", name()}, {"time", target_ == Target::kTime}};
  }
  Status FromJson(const nlohmann::json& j) override {
    target_ = j.at("time").get<bool>() ? Target::kTime : Target::kEnergy;
    return Status::OK();
  }

 private:
  double watts_, seconds_;
  Target target_ = Target::kEnergy;
};

TEST(PhysicalBounds, EnergyIsHeldBetweenIdleAndTheHighestPowerOfItsTime) {
  const Small d = SmallDataset();
  const ArchitectureSample big = BigConvolution();
  // A time within the device's bounds, which this test is not about.
  const PhysicalBounds times = FitPhysicalBounds(d.layers, d.models, Target::kTime);
  const double seconds =
      std::sqrt(times.LayerLowerBound(big.nodes[0]) * times.LayerCeiling(big.nodes[0]));
  for (const auto& [watts, expected] : {std::pair<double, double>{100, kIdleW + kDynamicW},
                                        {1, kIdleW}, {15, 15}}) {
    auto make = [w = watts, seconds] {
      return std::unique_ptr<Estimator>(new Disagreeing(w, seconds));
    };
    auto energy = WithPhysicalBounds(make), time = WithPhysicalBounds(make);
    ASSERT_TRUE(energy->Fit(d.layers, d.models, Target::kEnergy).ok());
    ASSERT_TRUE(time->Fit(d.layers, d.models, Target::kTime).ok());
    auto e = energy->Predict(big.model, big.catalog);
    auto t = time->Predict(big.model, big.catalog);
    ASSERT_TRUE(e.ok() && t.ok());
    EXPECT_NEAR(e->value / t->value, expected, 1e-9) << watts << " W asked";
    // The round trip keeps the time twin and the band.
    auto restored = WithPhysicalBounds(make);
    ASSERT_TRUE(restored->FromJson(energy->ToJson()).ok());
    EXPECT_DOUBLE_EQ(restored->Predict(big.model, big.catalog)->value, e->value);
  }
}

// The layer-wise estimators state an interval of their own from a handful of whole models, it
// holds the estimate, and it widens as the estimate reaches beyond the work measured.
TEST(PhysicalBounds, LayerwiseEstimatesCarryASmallDataInterval) {
  const Small d = SmallDataset();
  for (const char* name : {"wattlayer", "measured-layers"}) {
    SCOPED_TRACE(name);
    auto est = MakeEstimator(name);
    ASSERT_TRUE(est.ok());
    (*est)->UseLayerFeatures(&d.features);
    ASSERT_TRUE((*est)->Fit(d.layers, d.models, Target::kTime).ok());
    double previous_width = 0;
    for (const char* arch : {"lenet5", "resnet18"}) {
      auto a = FindZooArchitecture(arch);
      ASSERT_TRUE(a.ok());
      auto s = MakeArchitectureSample(*a, 16, "cpu", "inference");
      ASSERT_TRUE(s.ok());
      auto e = PredictMonotoneInBatch(**est, s->model, s->catalog);
      ASSERT_TRUE(e.ok());
      ASSERT_TRUE(e->interval.has_value()) << arch;
      EXPECT_LE(e->interval->first, e->value);
      EXPECT_GE(e->interval->second, e->value);
      const double width = e->interval->second / e->interval->first;
      EXPECT_GT(width, previous_width) << arch << " is further from the data than the last";
      previous_width = width;
    }
  }
}

// κ is fitted from every whole model whose layers the fit can price, measured alone or not:
// whole models of networks none of whose layers were measured (as imported whole models are)
// move κ with their measurements, by exactly the factor they are measured at; before, they were
// passed over and κ stayed 1.
TEST(PhysicalBounds, KappaComesFromWholeModelsWhoseLayersWereNeverMeasured) {
  auto kappa_at = [](double factor, bool with_features) {
    Small d = SmallDataset({"resnet18", "mobilenet_v2", "vgg11"}, factor);
    d.models.erase(d.models.begin(), d.models.begin() + 3);  // only the unmeasured networks
    auto est = MakeEstimator("wattlayer");
    EXPECT_TRUE(est.ok());
    if (with_features) (*est)->UseLayerFeatures(&d.features);
    EXPECT_TRUE((*est)->Fit(d.layers, d.models, Target::kTime).ok());
    return (*est)->ToJson().at("inner").at("kappa").at("0").get<double>();
  };
  const double once = kappa_at(1.0, true), twice = kappa_at(2.0, true);
  EXPECT_NEAR(twice / once, 2.0, 1e-9);
  // Without the features of those layers nothing can price them: κ stays 1.
  EXPECT_DOUBLE_EQ(kappa_at(2.0, false), 1.0);
}

// Views and inference-time Dropout cost a call, not element-wise work over their tensor; with
// measurements of their own they are priced from those.
TEST(PhysicalBounds, ViewsArePricedAsViewsOrFromTheirOwnMeasurements) {
  Small d = SmallDataset();
  // Drop the dataset's own Flatten and Dropout measurements.
  std::vector<LayerSample> without;
  for (const LayerSample& s : d.layers) {
    if (s.type != "Flatten" && s.type != "Dropout") without.push_back(s);
  }
  double floor = std::numeric_limits<double>::infinity();
  for (const LayerSample& s : without) floor = std::min(floor, s.time_s);
  Architecture a;
  a.name = "big-views";
  a.family = "test";
  a.input_shape = {64, 128, 128};
  ArchNode drop, flat;
  drop.name = "drop";
  drop.spec = testing::Spec(LayerType::kDropout, {{"p", 0.5}}, {64, 128, 128});
  drop.inputs = {GraphInput()};
  flat.name = "flat";
  flat.spec = testing::Spec(LayerType::kFlatten, {}, {64, 128, 128});
  flat.inputs = {0};
  a.nodes = {drop, flat};
  auto s = MakeArchitectureSample(a, 16, "cpu", "inference");
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto est = MakeEstimator("wattlayer");
  ASSERT_TRUE(est.ok());
  ASSERT_TRUE((*est)->Fit(without, d.models, Target::kTime).ok());
  auto e = (*est)->Predict(s->model, s->catalog);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->layers.size(), 2u);
  // 16 M elements each way: element-wise work would cost tens of milliseconds here.
  for (double v : e->layers) EXPECT_LE(v, 1.1 * floor * 2) << "priced as element-wise work";
  // One measured Dropout of its own, on a small tensor: this one costs what it cost, per
  // call, not scaled by its tensor.
  std::vector<LayerSample> one_own = without;
  {
    auto one = MakeLayerSample(testing::Spec(LayerType::kDropout, {{"p", 0.5}}, {4, 8, 8}), 16,
                               "cpu", "inference");
    ASSERT_TRUE(one.ok());
    Measure(&*one, 30e-6);
    one_own.push_back(*one);
  }
  auto single = MakeEstimator("wattlayer");
  ASSERT_TRUE(single.ok());
  ASSERT_TRUE((*single)->Fit(one_own, d.models, Target::kTime).ok());
  auto p1 = (*single)->Predict(s->model, s->catalog);
  ASSERT_TRUE(p1.ok());
  EXPECT_NEAR(p1->layers[0], 30e-6, 3e-6) << "its own measurement (times κ), per call";
  // Measured Dropout layers of its own: a line through them prices this one.
  std::vector<LayerSample> with = without;
  for (int64_t c : {8, 16, 32, 48}) {
    auto one = MakeLayerSample(testing::Spec(LayerType::kDropout, {{"p", 0.5}}, {c, 128, 128}),
                               16, "cpu", "inference");
    ASSERT_TRUE(one.ok());
    Measure(&*one, 40e-6);
    with.push_back(*one);
  }
  auto own = MakeEstimator("wattlayer");
  ASSERT_TRUE(own.ok());
  ASSERT_TRUE((*own)->Fit(with, d.models, Target::kTime).ok());
  auto o = (*own)->Predict(s->model, s->catalog);
  ASSERT_TRUE(o.ok());
  EXPECT_NEAR(o->layers[0], 40e-6, 20e-6) << "the Dropout's own measurements";
}

// A layer with at least the work of a measured one of its type and mode, in every dimension,
// is never priced below it, whatever the method's curve says: LSTM costs that fall as the
// layers grow (noise, too few layers of a type) must not price a 2 x 128 LSTM below the
// 1 x 128 one measured.
TEST(PhysicalBounds, NoLayerBelowASmallerMeasuredOneOfItsType) {
  Small d = SmallDataset();
  auto lstm = [](int64_t layers, int64_t hidden) {
    return OneLayer("lstm", LayerType::kLSTM,
                    {{"input_size", 32}, {"hidden_size", static_cast<double>(hidden)},
                     {"num_layers", static_cast<double>(layers)}},
                    {16, 32}, 8);
  };
  const struct {
    int64_t layers, hidden;
    double seconds;
  } measured[] = {{1, 32, 9.0e-3}, {1, 64, 10.0e-3}, {1, 128, 11.1e-3}, {2, 64, 7.8e-3},
                  {2, 32, 6.0e-3}};
  for (const auto& m : measured) {
    LayerSample s = lstm(m.layers, m.hidden).nodes[0];
    Measure(&s, m.seconds);
    d.layers.push_back(s);
  }
  const ArchitectureSample bigger = lstm(2, 128);
  for (const char* name : {"wattlayer", "measured-layers", "macs", "wattlayer-paper"}) {
    auto e = MakeEstimator(name);
    ASSERT_TRUE(e.ok()) << name;
    ASSERT_TRUE((*e)->Fit(d.layers, d.models, Target::kTime).ok()) << name;
    auto p = (*e)->Predict(bigger.model, bigger.catalog);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status().ToString();
    EXPECT_GE(p->value, 11.1e-3 * (1 - 1e-9)) << name;
    // Its state keeps the floor.
    auto restored = MakeEstimator(name);
    ASSERT_TRUE(restored.ok());
    ASSERT_TRUE((*restored)->FromJson((*e)->ToJson()).ok()) << name;
    auto again = (*restored)->Predict(bigger.model, bigger.catalog);
    ASSERT_TRUE(again.ok());
    EXPECT_DOUBLE_EQ(again->value, p->value) << name;
  }
  // The floor itself: the dearest of the layers it outdoes, none for a smaller one; never a
  // layer's own measurement (2 x 64's 7.8 ms); and no floor from a layer the device
  // contradicts (1 x 64 at 10 ms, 1 x 32 at 9 ms, where the larger 2 x 64 and 2 x 32 ran in
  // 7.8 and 6.0: another kernel, not noise).
  MeasuredFloor floor;
  floor.Fit(d.layers, Target::kTime);
  EXPECT_DOUBLE_EQ(floor.Of(bigger.nodes[0]), 11.1e-3);
  EXPECT_DOUBLE_EQ(floor.Of(lstm(1, 16).nodes[0]), 0.0);
  EXPECT_DOUBLE_EQ(floor.Of(lstm(2, 64).nodes[0]), 6.0e-3);

  // An update's tensors are a dimension too: one over 38 tensors is no floor for one over 8,
  // however few parameters it updates (a call per tensor and operation is most of its cost).
  auto adam = [](double tensors, double params) {
    auto s = MakeLayerSample(testing::Spec(LayerType::kAdamStep, {{"tensors", tensors}},
                                           {static_cast<int64_t>(params)}),
                             8, "cpu", "training");
    EXPECT_TRUE(s.ok()) << s.status().message();
    return *s;
  };
  std::vector<LayerSample> updates;
  for (auto [tensors, params, seconds] : {std::tuple{38.0, 132e3, 507e-6},
                                         std::tuple{6.0, 118e3, 155e-6}}) {
    LayerSample s = adam(tensors, params);
    Measure(&s, seconds);
    updates.push_back(s);
  }
  MeasuredFloor update_floor;
  update_floor.Fit(updates, Target::kTime);
  EXPECT_DOUBLE_EQ(update_floor.Of(adam(8, 135e3)), 155e-6);
  EXPECT_DOUBLE_EQ(update_floor.Of(adam(38, 135e3)), 507e-6);
}

// A recurrent layer's steps run one after another, each a few kernels per layer and
// direction: what a call costs is paid per step, layer and direction, so a 2-layer LSTM fitted
// from 1-layer ones pays its second layer's steps (priced per call once per layer, it came
// out a fifth low), and a longer sequence its steps.
TEST(PhysicalBounds, ARecurrentLayerPaysItsCallsPerStep) {
  struct Lstm {
    int64_t layers, hidden, steps;
    bool both_ways;
  };
  auto make = [](const Lstm& l) {
    return OneLayer("lstm", LayerType::kLSTM,
                    {{"input_size", 32}, {"hidden_size", static_cast<double>(l.hidden)},
                     {"num_layers", static_cast<double>(l.layers)},
                     {"bidirectional", l.both_ways ? 1.0 : 0.0}},
                    {l.steps, 32}, 1);
  };
  // 60 µs per step, layer and direction, and 2.8 ns per MAC.
  auto seconds = [&](const Lstm& l) {
    return 60e-6 * static_cast<double>(l.layers * l.steps * (l.both_ways ? 2 : 1)) +
           2.8e-9 * make(l).nodes[0].macs;
  };
  EXPECT_DOUBLE_EQ(make({2, 64, 16, false}).nodes[0].calls, 32);
  EXPECT_DOUBLE_EQ(make({1, 64, 16, true}).nodes[0].calls, 32);
  Small d = SmallDataset();
  for (int64_t hidden : {32, 64, 128, 256}) {
    const Lstm one{1, hidden, 16, false};
    LayerSample s = make(one).nodes[0];
    Measure(&s, seconds(one));
    d.layers.push_back(s);
  }
  for (const Lstm& held : {Lstm{2, 64, 16, false}, Lstm{1, 64, 64, false}}) {
    const ArchitectureSample arch = make(held);
    for (const char* name : {"wattlayer", "measured-layers"}) {
      SCOPED_TRACE(std::string(name) + ", " + std::to_string(held.layers) + " layers, " +
                   std::to_string(held.steps) + " steps");
      auto p = TimePrediction(name, d.layers, d.models, arch);
      ASSERT_TRUE(p.ok()) << p.status().message();
      EXPECT_NEAR(p->value / seconds(held), 1.0, 0.1);
    }
  }
}

// What prices like nothing else prices no other layer: a training step's loss costs its call,
// hundreds of ns per logit; an update's element is a parameter; an embedding's backward
// scatters into its whole table, however few tokens it reads. A transpose never measured is
// priced as the streaming layers were, not at any of their costs per element.
TEST(PhysicalBounds, LossesUpdatesAndEmbeddingsNeverPriceALayer) {
  Small d = SmallDataset();
  for (int64_t classes : {10, 100, 1000, 5000}) {
    auto loss = MakeLayerSample(testing::Spec(LayerType::kCrossEntropyLoss, {}, {classes}), 16,
                                "cpu", "inference");
    ASSERT_TRUE(loss.ok()) << loss.status().message();
    Measure(&*loss, 15e-6 + 16 * classes * 200e-9);  // a call, then 200 ns per logit
    d.layers.push_back(*loss);
  }
  for (int64_t seq : {8, 16, 32, 64}) {
    auto embedding = MakeLayerSample(
        testing::Spec(LayerType::kEmbedding, {{"num_embeddings", 8000}, {"embedding_dim", 64}},
                      {seq}),
        16, "cpu", "inference");
    ASSERT_TRUE(embedding.ok()) << embedding.status().message();
    Measure(&*embedding, 1.2e-3);  // the table's gradient: 8 000 x 64, whatever the tokens
    d.layers.push_back(*embedding);
  }
  const ArchitectureSample transpose =
      OneLayer("one-transpose", LayerType::kTranspose, {}, {128, 256}, 16);
  const double streaming = FlatConvTime(transpose.nodes[0]);
  for (const char* name : {"wattlayer", "measured-layers"}) {
    auto p = TimePrediction(name, d.layers, d.models, transpose);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status().ToString();
    EXPECT_LT(p->value, 5 * streaming) << name;
  }
  EXPECT_TRUE(PricedByOwnKinOnly("CrossEntropyLoss"));
  EXPECT_TRUE(PricedByOwnKinOnly("AdamStep"));
  EXPECT_TRUE(PricedByOwnKinOnly("Embedding"));
  EXPECT_FALSE(PricedByOwnKinOnly("Transpose"));
  EXPECT_NE(CostKin("Embedding"), CostKin("Transpose"));
}

// An LSTM never measured is priced by its kin's curves, whose per-call terms count their own
// calls: a Transformer block's 2 ms per block is not paid per time step of the LSTM.
TEST(PhysicalBounds, AKinsPerCallTermPricesOnlyCallsItCounts) {
  Small d = SmallDataset();
  auto law = [](const LayerSample& s) {
    return (s.type == "TransformerEncoderLayer" ? 2e-3 : 10e-6) + s.macs / 1e9;
  };
  for (int64_t width : {64, 128, 256, 512}) {
    // Linears from 16 wide, as a classifier's are: their cost per MAC spans decades, so that
    // the kin's range holds nothing here.
    LayerSample linear = OneLinear(width / 4).nodes[0];
    Measure(&linear, law(linear));
    d.layers.push_back(linear);
    LayerSample block = OneLayer("block", LayerType::kTransformerEncoderLayer,
                                 {{"nhead", 4}, {"dim_feedforward", 4.0 * width}},
                                 {16, width}, 1).nodes[0];
    Measure(&block, law(block));
    d.layers.push_back(block);
  }
  const ArchitectureSample lstm =
      OneLayer("lstm", LayerType::kLSTM, {{"input_size", 32}, {"hidden_size", 64}}, {64, 32}, 1);
  ASSERT_DOUBLE_EQ(lstm.nodes[0].calls, 64);
  // Its work at the kin's rate, and nothing like 64 of a block's calls (priced so, it came
  // out at 3.5 times its work).
  const double work = lstm.nodes[0].macs / 1e9;
  for (const char* name : {"wattlayer", "measured-layers"}) {
    auto p = TimePrediction(name, d.layers, d.models, lstm);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status().ToString();
    EXPECT_LT(p->value, 2 * work) << name;
    EXPECT_GT(p->value, work) << name;
  }
}

// A loss over a vocabulary, a thousand times the logits of any loss measured, is priced as
// the stream of logits it is, not at the per-logit cost of small losses, which is their call.
TEST(PhysicalBounds, ALossOverAVocabularyStreamsItsLogits) {
  Small d = SmallDataset();
  auto loss = [](std::vector<int64_t> shape, int64_t batch) {
    auto s = MakeLayerSample(testing::Spec(LayerType::kCrossEntropyLoss, {}, shape), batch,
                             "cpu", "training");
    EXPECT_TRUE(s.ok()) << s.status().message();
    return *s;
  };
  // A call, then 8 ns per logit: no cheaper per element than the streaming layers measured.
  auto seconds = [](const LayerSample& s) { return 15e-6 + 8e-9 * s.input_elements; };
  for (int64_t classes : {2, 10, 35}) {
    for (int64_t batch : {2, 8}) {
      LayerSample s = loss({classes}, batch);
      Measure(&s, seconds(s));
      d.layers.push_back(s);
    }
  }
  Architecture a;
  a.name = "lm-loss";
  a.family = "test";
  a.input_shape = {32, 8000};
  ArchNode node;
  node.name = "loss";
  node.spec = testing::Spec(LayerType::kCrossEntropyLoss, {}, {32, 8000});
  node.inputs = {GraphInput()};
  a.nodes.push_back(node);
  auto lm = MakeArchitectureSample(a, 2, "cpu", "training");
  ASSERT_TRUE(lm.ok()) << lm.status().message();
  const double truth = seconds(lm->nodes[0]);
  ASSERT_GT(lm->nodes[0].input_elements, 1000 * 35 * 8);
  for (const char* name : {"wattlayer", "measured-layers"}) {
    auto p = TimePrediction(name, d.layers, d.models, *lm);
    ASSERT_TRUE(p.ok()) << name << ": " << p.status().ToString();
    EXPECT_GT(p->value, truth / 3) << name;
    EXPECT_LT(p->value, truth * 3) << name;
  }
}

// Every layer type has a kin, so that none falls to an unrelated type's curve.
TEST(PhysicalBounds, EveryLayerTypeHasAKin) {
  for (LayerType type : AllLayerTypes()) {
    EXPECT_FALSE(CostKin(LayerTypeName(type)).empty()) << LayerTypeName(type);
  }
}

}  // namespace
}  // namespace wattfleet
