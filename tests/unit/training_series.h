// Synthetic training series whose warm-up length and full-run total are known: for STEP's
// tests (step_test.cc) and `wattfleet project`'s (integration/cli_project_test.cc).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace wattfleet::testing {

// A run of `n` iterations: a warm-up of `warmup` iterations that ramps down linearly from
// `level * (1 + excess)` (the first iteration `first_factor` times the level), then the level
// with Gaussian noise of `rel_noise` relative, and `spikes` (iteration, factor) afterwards.
struct TrainingRun {
  int64_t warmup = 60;
  double level = 10;
  double excess = 0.6;
  double first_factor = 4;
  double rel_noise = 0.03;
  std::vector<std::pair<int64_t, double>> spikes;
};

inline std::vector<double> Simulate(const TrainingRun& run, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, run.rel_noise * run.level);
  std::vector<double> x;
  for (int64_t i = 0; i < n; ++i) {
    double v = run.level;
    if (i < run.warmup) {
      v *= 1 + run.excess * (1 - static_cast<double>(i) / static_cast<double>(run.warmup));
    }
    if (i == 0) v = run.first_factor * run.level;
    for (const auto& [at, factor] : run.spikes) v *= i == at ? factor : 1.0;
    x.push_back(v + noise(rng));
  }
  return x;
}

}  // namespace wattfleet::testing
