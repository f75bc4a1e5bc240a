#include "wattfleet/numeric/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <string>
#include <vector>

namespace wattfleet {

const char* LbfgsStopName(LbfgsStop stop) {
  switch (stop) {
    case LbfgsStop::kGradient: return "gradient";
    case LbfgsStop::kRelativeDecrease: return "relative_decrease";
    case LbfgsStop::kMaxIterations: return "max_iterations";
    case LbfgsStop::kLineSearch: return "line_search";
  }
  return "unknown";
}

namespace {

struct Correction {
  Eigen::VectorXd s;  // x_{k+1} - x_k
  Eigen::VectorXd y;  // g_{k+1} - g_k
  double rho;         // 1 / (y's)
};

// The two-loop recursion: -H g, with H the L-BFGS inverse-Hessian approximation scaled by
// gamma = s'y / y'y of the newest pair (Nocedal & Wright, algorithm 7.4).
Eigen::VectorXd Direction(const std::deque<Correction>& history, const Eigen::VectorXd& g) {
  if (history.empty()) {
    // No curvature yet: a steepest-descent step of unit length, so that the first trial
    // point does not depend on the gradient's scale.
    const double norm = g.norm();
    return -g / (norm > 0 ? norm : 1.0);
  }
  Eigen::VectorXd q = g;
  std::vector<double> a(history.size());
  for (size_t i = history.size(); i-- > 0;) {
    a[i] = history[i].rho * history[i].s.dot(q);
    q -= a[i] * history[i].y;
  }
  const Correction& last = history.back();
  q *= last.s.dot(last.y) / last.y.squaredNorm();
  for (size_t i = 0; i < history.size(); ++i) {
    const double b = history[i].rho * history[i].y.dot(q);
    q += (a[i] - b) * history[i].s;
  }
  return -q;
}

}  // namespace

Result<LbfgsResult> MinimizeLbfgs(const LbfgsObjective& objective, const Eigen::VectorXd& x0,
                                  const LbfgsOptions& options) {
  if (options.max_iterations < 0 || options.memory < 1 || options.max_line_search < 1 ||
      !(options.armijo > 0 && options.armijo < 1)) {
    return Status::InvalidArgument("lbfgs: options out of range");
  }
  LbfgsResult r;
  r.x = x0;
  r.gradient.resize(x0.size());
  r.f = objective(r.x, &r.gradient);
  r.evaluations = 1;
  if (!std::isfinite(r.f) || !r.gradient.allFinite()) {
    return Status::InvalidArgument("lbfgs: objective or gradient not finite at the start");
  }

  std::deque<Correction> history;
  Eigen::VectorXd x_new(x0.size()), g_new(x0.size());
  r.stop = LbfgsStop::kMaxIterations;
  while (r.iterations < options.max_iterations) {
    if (options.early_stop &&
        r.gradient.lpNorm<Eigen::Infinity>() <=
            options.gradient_tolerance * std::max(1.0, std::abs(r.f))) {
      r.stop = LbfgsStop::kGradient;
      break;
    }
    Eigen::VectorXd d = Direction(history, r.gradient);
    double slope = r.gradient.dot(d);
    if (!(slope < 0) || !d.allFinite()) {
      // The approximation lost positive definiteness (rounding): start it afresh.
      history.clear();
      d = Direction(history, r.gradient);
      slope = r.gradient.dot(d);
      if (!(slope < 0)) {  // zero gradient
        r.stop = LbfgsStop::kGradient;
        break;
      }
    }

    // Backtracking from the full quasi-Newton step: a safeguarded quadratic interpolation of
    // f along d when the trial value is finite, a fixed shrink when it is not.
    double step = 1.0;
    double f_new = 0;
    bool accepted = false;
    for (int ls = 0; ls < options.max_line_search; ++ls) {
      x_new = r.x + step * d;
      f_new = objective(x_new, nullptr);
      ++r.evaluations;
      if (std::isfinite(f_new) && f_new <= r.f + options.armijo * step * slope) {
        accepted = true;
        break;
      }
      double next = 0.25 * step;
      if (std::isfinite(f_new)) {
        const double denom = 2.0 * (f_new - r.f - slope * step);
        if (denom > 0) next = -slope * step * step / denom;
        next = std::clamp(next, 0.1 * step, 0.5 * step);
      }
      step = next;
    }
    if (accepted) {
      f_new = objective(x_new, &g_new);
      ++r.evaluations;
      accepted = std::isfinite(f_new) && g_new.allFinite();
    }
    if (!accepted) {
      if (!history.empty()) {
        // A poor quasi-Newton direction; retry this point along steepest descent.
        history.clear();
        ++r.iterations;
        continue;
      }
      r.stop = LbfgsStop::kLineSearch;
      break;
    }

    Correction c{x_new - r.x, g_new - r.gradient, 0.0};
    const double sy = c.s.dot(c.y);
    // Keep only pairs with positive curvature so that H stays positive definite.
    if (sy > 1e-12 * c.y.squaredNorm() && sy > 0) {
      c.rho = 1.0 / sy;
      history.push_back(std::move(c));
      if (static_cast<int>(history.size()) > options.memory) history.pop_front();
    }
    const double decrease = r.f - f_new;
    r.x = x_new;
    r.f = f_new;
    r.gradient = g_new;
    ++r.iterations;
    if (options.early_stop &&
        decrease <= options.relative_tolerance * std::max(1.0, std::abs(r.f))) {
      r.stop = LbfgsStop::kRelativeDecrease;
      break;
    }
  }
  return r;
}

}  // namespace wattfleet
