// Two loops timed against each other in one process: rounds in which each runs `n`
// iterations, which goes first alternating, so that whatever the first run of a round leaves
// behind (caches, allocator state, clocks) favours neither.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace wattfleet::bench {

// Seconds per iteration of `run(n)`.
template <typename Run>
double PerIteration(Run&& run, int64_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  run(n);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
         static_cast<double>(n);
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Rounds {
  std::vector<double> first, second, ratios;  // per round; ratios second / first, sorted
};

template <typename A, typename B>
Rounds AlternatingRounds(A&& first, B&& second, int64_t n, int rounds) {
  Rounds out;
  for (int r = 0; r < rounds; ++r) {
    double a, b;
    if (r % 2 == 0) {
      a = PerIteration(first, n);
      b = PerIteration(second, n);
    } else {
      b = PerIteration(second, n);
      a = PerIteration(first, n);
    }
    out.first.push_back(a);
    out.second.push_back(b);
    out.ratios.push_back(b / a);
  }
  std::sort(out.ratios.begin(), out.ratios.end());
  return out;
}

}  // namespace wattfleet::bench
