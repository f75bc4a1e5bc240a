// Fitting every estimator on 100 000 measurements (docs/design/estimators.md): the fit of a
// dataset of that size must stay practical.
//
//   ./build/bench/bench_estimators --benchmark_counters_tabular=true
//
// The dataset is synthetic, for timing only (no accuracy is claimed from it): 90 000 layer
// measurements (30 types, 9 000 distinct layers measured 10 times each), 9 000 whole-model
// measurements (1 500 architectures of 12 to 60 nodes, 6 repeats) and 1 000 probe
// measurements (10 THOR kinds, a 5-width grid of 35 probes each, repeated), which is the
// proportion a large campaign has: probes are few, layers many. Energies follow a noisy
// power law of the features so that every regression has something to fit.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "wattfleet/estimate/estimator.h"
#include "wattfleet/common/probe.h"

namespace wattfleet {
namespace {

struct Dataset {
  std::vector<LayerSample> layers;
  std::vector<ModelSample> models;
  LayerCatalog catalog;
};

const Dataset& Data() {
  static const Dataset data = [] {
    Dataset d;
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> log_size(std::log(1e3), std::log(1e9));
    std::normal_distribution<double> noise(1.0, 0.05);
    const int kTypes = 30, kDistinct = 9000, kRepeats = 10;
    std::vector<LayerSample> distinct;
    for (int i = 0; i < kDistinct; ++i) {
      LayerSample s;
      s.device_class = "cpu";
      s.mode = "inference";
      s.key = "layer-" + std::to_string(i);
      s.type = "Type" + std::to_string(i % kTypes);
      s.batch = 16;
      s.macs = std::exp(log_size(rng));
      s.flops = 2 * s.macs;
      s.params = s.macs / 100;
      s.input_elements = s.macs / 50;
      s.output_elements = s.macs / 60;
      s.energy_j = 1e-10 * std::pow(s.macs, 0.95) * (1 + 0.1 * (i % kTypes));
      s.time_s = s.energy_j / 20;
      distinct.push_back(s);
      d.catalog.emplace(s.key, s);
    }
    for (int r = 0; r < kRepeats; ++r) {
      for (LayerSample s : distinct) {
        const double f = noise(rng);
        s.energy_j *= f;
        s.time_s *= f;
        d.layers.push_back(std::move(s));
      }
    }
    std::uniform_int_distribution<int> pick(0, kDistinct - 1), depth(12, 60);
    for (int a = 0; a < 1500; ++a) {
      ModelSample m;
      m.device_class = "cpu";
      m.mode = "inference";
      m.kind = JobKind::kModel;
      m.name = "arch-" + std::to_string(a);
      m.family = "family-" + std::to_string(a % 12);
      m.batch = 16;
      const int n = depth(rng);
      double energy = 0;
      for (int i = 0; i < n; ++i) {
        const LayerSample& l = distinct[static_cast<size_t>(pick(rng))];
        m.layer_keys.push_back(l.key);
        m.macs += l.macs;
        m.flops += l.flops;
        m.params += l.params;
        energy += l.energy_j;
      }
      // One architecture in ten is a chain THOR can predict.
      if (a % 10 == 0) {
        m.thor_kind = "linear-" + std::to_string(100 + a % 100 / 10) + "-c10";
        m.thor_widths = {64, 128, 256};
      }
      m.input_size = 3 * 224 * 224;
      m.device = DeviceFeatures{16, 64e9, 1e12, 200};
      for (int r = 0; r < 6; ++r) {
        ModelSample repeat = m;
        repeat.energy_j = 1.2 * energy * noise(rng);
        repeat.time_s = repeat.energy_j / 20;
        d.models.push_back(std::move(repeat));
      }
    }
    // Probes: 10 kinds, every probe of a 5-width grid, repeated to 100 per kind.
    const std::vector<int64_t> widths = {32, 64, 128, 256, 512};
    for (int k = 0; k < 10; ++k) {
      std::vector<ModelSample> grid;
      auto probe = [&](ProbeRole role, std::vector<int64_t> w, double e) {
        ModelSample p;
        p.device_class = "cpu";
        p.mode = "inference";
        p.kind = JobKind::kProbe;
        p.batch = 16;
        p.thor_kind = "linear-" + std::to_string(100 + k) + "-c10";
        p.probe_role = std::string(ProbeRoleName(role));
        p.thor_widths = std::move(w);
        p.name = p.thor_kind + "/" + p.probe_role;
        p.energy_j = e;
        p.time_s = e / 20;
        grid.push_back(std::move(p));
      };
      for (int64_t c : widths) {
        probe(ProbeRole::kOutput, {c}, 1e-6 * static_cast<double>(c));
        probe(ProbeRole::kInput, {c}, 3e-6 * static_cast<double>(c));
      }
      for (int64_t a : widths) {
        for (int64_t b : widths) probe(ProbeRole::kHidden, {a, b}, 1e-8 * static_cast<double>(a * b) + 4e-6 * static_cast<double>(a));
      }
      for (size_t i = 0; i < 100; ++i) {
        ModelSample p = grid[i % grid.size()];
        p.energy_j *= noise(rng);
        p.time_s *= noise(rng);
        d.models.push_back(std::move(p));
      }
    }
    return d;
  }();
  return data;
}

void BM_Fit(benchmark::State& state, const std::string& name) {
  const Dataset& d = Data();
  for (auto _ : state) {
    auto estimator = MakeEstimator(name);
    if (!estimator.ok()) {
      state.SkipWithError(estimator.status().ToString().c_str());
      return;
    }
    Status s = (*estimator)->Fit(d.layers, d.models, Target::kEnergy);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(estimator);
  }
  state.counters["measurements"] = static_cast<double>(d.layers.size() + d.models.size());
}

void BM_PredictAll(benchmark::State& state, const std::string& name) {
  const Dataset& d = Data();
  auto estimator = MakeEstimator(name);
  if (!estimator.ok() || !(*estimator)->Fit(d.layers, d.models, Target::kEnergy).ok()) {
    state.SkipWithError("fit failed");
    return;
  }
  size_t predicted = 0;
  for (auto _ : state) {
    predicted = 0;
    for (const ModelSample& m : d.models) {
      if (m.kind != JobKind::kModel) continue;
      auto p = (*estimator)->Predict(m, d.catalog);
      predicted += p.ok();
    }
  }
  state.counters["predicted"] = static_cast<double>(predicted);
}

const bool kRegistered = [] {
  for (const std::string& name : EstimatorNames()) {
    benchmark::RegisterBenchmark(("BM_Fit/" + name).c_str(), BM_Fit, name)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
    benchmark::RegisterBenchmark(("BM_PredictAll/" + name).c_str(), BM_PredictAll, name)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
  }
  return true;
}();

}  // namespace
}  // namespace wattfleet

BENCHMARK_MAIN();
