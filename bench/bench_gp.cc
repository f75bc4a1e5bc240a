// Gaussian-process fit and prediction times (THOR's core, controller/numeric/include/wattfleet/numeric/gaussian_process.h).
//
//   ./build/bench/bench_gp
//
// Data: 3-D log-uniform inputs in [8, 4096]^3 (channel widths, batch sizes) and an
// energy-like target 1e-6 · x1^0.9 · x2^1.1 · x3^0.5 with 5 % multiplicative noise.
// BM_GpFitFixedIterations runs one optimiser start for a stated number of L-BFGS iterations
// (early stopping off; the counters report the iterations and likelihood evaluations done);
// BM_GpFitFull is the default fit (4 starts, up to 200 iterations each, early stopping);
// BM_GpPredict predicts 10 000 candidates from a model fitted on N points. Eigen runs
// single-threaded (the project does not build it with OpenMP).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "wattfleet/numeric/gaussian_process.h"

namespace wattfleet {
namespace {

Eigen::MatrixXd Inputs(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(std::log(8.0), std::log(4096.0));
  Eigen::MatrixXd X(n, 3);
  for (int i = 0; i < n; ++i)
    for (int d = 0; d < 3; ++d) X(i, d) = std::exp(u(rng));
  return X;
}

Eigen::VectorXd Target(const Eigen::MatrixXd& X, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.05);
  Eigen::VectorXd y(X.rows());
  for (Eigen::Index i = 0; i < X.rows(); ++i) {
    y(i) = 1e-6 * std::pow(X(i, 0), 0.9) * std::pow(X(i, 1), 1.1) * std::sqrt(X(i, 2)) *
           (1 + noise(rng));
  }
  return y;
}

void Report(benchmark::State& state, const GaussianProcess& gp) {
  state.counters["points"] = double(gp.size());
  state.counters["starts"] = gp.fit_info().starts;
  state.counters["iterations"] = gp.fit_info().iterations;
  state.counters["evaluations"] = gp.fit_info().evaluations;
}

// range(0): points; range(1): L-BFGS iterations.
void BM_GpFitFixedIterations(benchmark::State& state) {
  const Eigen::MatrixXd X = Inputs(int(state.range(0)), 1);
  const Eigen::VectorXd y = Target(X, 2);
  GpOptions options;
  options.restarts = 1;
  options.max_iterations = int(state.range(1));
  options.early_stop = false;
  for (auto _ : state) {
    auto gp = GaussianProcess::Fit(X, y, options);
    if (!gp.ok()) {
      state.SkipWithError(gp.status().ToString().c_str());
      return;
    }
    Report(state, *gp);
  }
}
BENCHMARK(BM_GpFitFixedIterations)->Args({1000, 20})->Args({4000, 5})
    ->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

void BM_GpFitFull(benchmark::State& state) {
  const Eigen::MatrixXd X = Inputs(int(state.range(0)), 1);
  const Eigen::VectorXd y = Target(X, 2);
  for (auto _ : state) {
    auto gp = GaussianProcess::Fit(X, y);
    if (!gp.ok()) {
      state.SkipWithError(gp.status().ToString().c_str());
      return;
    }
    Report(state, *gp);
  }
}
BENCHMARK(BM_GpFitFull)->Arg(1000)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

void BM_GpPredict(benchmark::State& state) {
  const Eigen::MatrixXd X = Inputs(int(state.range(0)), 1);
  const Eigen::VectorXd y = Target(X, 2);
  GpOptions options;
  options.restarts = 1;
  options.max_iterations = 3;  // the hyper-parameters do not change the prediction's cost
  auto gp = GaussianProcess::Fit(X, y, options);
  if (!gp.ok()) {
    state.SkipWithError(gp.status().ToString().c_str());
    return;
  }
  const Eigen::MatrixXd candidates = Inputs(10000, 3);
  for (auto _ : state) {
    auto p = gp->Predict(candidates);
    benchmark::DoNotOptimize(p);
  }
  state.counters["points"] = double(gp->size());
  state.counters["candidates"] = double(candidates.rows());
}
BENCHMARK(BM_GpPredict)->Arg(1000)->Arg(4000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace wattfleet

BENCHMARK_MAIN();
