// Limited-memory BFGS minimisation with a backtracking Armijo line search.
//
// Hand-written on purpose: Eigen has no quasi-Newton optimiser, and the Debian packages that
// do (liblbfgs-dev, liblbfgspp-dev) are not among the project's dependencies
// (DEVELOPERS.md). The estimators only need to maximise smooth, low-dimensional objectives
// (a Gaussian process's log marginal likelihood has a handful of hyper-parameters), for
// which this compact version is enough and keeps the build on the packages it already has.
#pragma once

#include <Eigen/Core>

#include <functional>

#include "wattfleet/common/status.h"

namespace wattfleet {

// Returns the objective at x and, when `grad` is non-null, writes its gradient there. A
// non-finite value marks x as outside the objective's domain (a parameter past its bounds,
// a matrix that cannot be factorised): the line search then takes a shorter step. The line
// search asks for values only, and the gradient only at the accepted point, so an objective
// may cache the work it shares between the two calls at the same x.
using LbfgsObjective = std::function<double(const Eigen::VectorXd& x, Eigen::VectorXd* grad)>;

struct LbfgsOptions {
  int max_iterations = 200;
  int memory = 8;  // correction pairs kept
  // Stop when max |g_i| <= gradient_tolerance * max(1, |f|).
  double gradient_tolerance = 1e-6;
  // Stop when one iteration decreases f by less than relative_tolerance * max(1, |f|).
  double relative_tolerance = 1e-10;
  // False: only max_iterations (or a failed line search) stops the run; for benchmarks that
  // must do a stated amount of work.
  bool early_stop = true;
  int max_line_search = 30;
  double armijo = 1e-4;  // sufficient-decrease constant c1
};

enum class LbfgsStop { kGradient, kRelativeDecrease, kMaxIterations, kLineSearch };
const char* LbfgsStopName(LbfgsStop stop);

struct LbfgsResult {
  Eigen::VectorXd x;
  double f = 0;
  Eigen::VectorXd gradient;
  int iterations = 0;
  int evaluations = 0;  // calls of the objective, with or without gradient
  LbfgsStop stop = LbfgsStop::kMaxIterations;
};

// Minimises `objective` from x0. The result is the best point reached, also when the line
// search could not make further progress (stop == kLineSearch). InvalidArgument when the
// objective or its gradient is not finite at x0, or the options are out of range.
Result<LbfgsResult> MinimizeLbfgs(const LbfgsObjective& objective, const Eigen::VectorXd& x0,
                                  const LbfgsOptions& options = {});

}  // namespace wattfleet
