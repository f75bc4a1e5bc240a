#include "wattfleet/estimate/power_law.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include <Eigen/Dense>
#include <unsupported/Eigen/LevenbergMarquardt>

namespace wattfleet {

double PowerLawParams::Eta(double c_tflop) const {
  if (c_tflop <= 0) return 0;
  return eta_max * (1.0 - std::exp(-k * std::pow(c_tflop, alpha)));
}

namespace {

double Sigmoid(double u) { return 1.0 / (1.0 + std::exp(-u)); }

// The unconstrained parameters (u, v, w) of a curve, and back.
Eigen::VectorXd Encode(const PowerLawParams& p) {
  const double share = std::clamp(p.eta_max / 100.0, 1e-6, 1.0 - 1e-9);
  Eigen::VectorXd x(3);
  x << std::log(share / (1.0 - share)), std::log(p.k), std::log(p.alpha);
  return x;
}
PowerLawParams Decode(const Eigen::VectorXd& x) {
  return PowerLawParams{100.0 * Sigmoid(x(0)), std::exp(x(1)), std::exp(x(2))};
}

// Residuals η(c_i) − η_i and their analytic Jacobian in (u, v, w).
struct CurveFunctor : Eigen::DenseFunctor<double> {
  CurveFunctor(const std::vector<double>& c, const std::vector<double>& eta)
      : Eigen::DenseFunctor<double>(3, static_cast<int>(c.size())), c_(c), eta_(eta) {}

  int operator()(const InputType& x, ValueType& f) const {
    const PowerLawParams p = Decode(x);
    for (size_t i = 0; i < c_.size(); ++i) f(i) = p.Eta(c_[i]) - eta_[i];
    return 0;
  }
  int df(const InputType& x, JacobianType& j) const {
    const PowerLawParams p = Decode(x);
    const double share = Sigmoid(x(0));
    for (size_t i = 0; i < c_.size(); ++i) {
      const double g = p.k * std::pow(c_[i], p.alpha);  // k·c^α
      const double e = std::exp(-g);
      j(i, 0) = p.eta_max * (1.0 - share) * (1.0 - e);  // dη_max/du = η_max (1 − σ)
      j(i, 1) = p.eta_max * e * g;                       // dk/dv = k
      j(i, 2) = p.eta_max * e * g * std::log(c_[i]) * p.alpha;  // dα/dw = α
    }
    return 0;
  }

  const std::vector<double>& c_;
  const std::vector<double>& eta_;
};

bool Converged(Eigen::LevenbergMarquardtSpace::Status s) {
  using namespace Eigen::LevenbergMarquardtSpace;
  return s == RelativeReductionTooSmall || s == RelativeErrorTooSmall ||
         s == RelativeErrorAndReductionTooSmall || s == CosinusTooSmall;
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

CurveStart FitFromStart(const std::vector<double>& c, const std::vector<double>& eta,
                        const std::string& label, const PowerLawParams& start) {
  CurveStart out;
  out.label = label;
  out.start = start;
  CurveFunctor functor(c, eta);
  Eigen::LevenbergMarquardt<CurveFunctor> lm(functor);
  lm.setMaxfev(2000);
  Eigen::VectorXd x = Encode(start);
  const auto status = lm.minimize(x);
  out.lm_status = static_cast<int>(status);
  out.end = Decode(x);
  Eigen::VectorXd f(c.size());
  functor(x, f);
  out.sse = f.squaredNorm();
  // LM also reports convergence when a start slides to α → 0, k → ∞: a constant η over
  // the data, which is a flat line rather than a saturation curve. Such an end counts as not
  // converged: the curve must still rise between the smallest and the largest cost.
  const double c_min = *std::min_element(c.begin(), c.end());
  const bool rises = out.end.Eta(c_min) < 0.99 * out.end.eta_max;
  out.converged = Converged(status) && std::isfinite(out.sse) && std::isfinite(out.end.k) &&
                  std::isfinite(out.end.alpha) && out.end.k > 0 && out.end.alpha > 1e-3 &&
                  rises;
  return out;
}

Result<CurveFit> FitEfficiencyCurve(const std::vector<double>& c_in,
                                    const std::vector<double>& eta_in) {
  if (c_in.size() != eta_in.size()) {
    return Status::InvalidArgument("efficiency curve: costs and efficiencies differ in length");
  }
  std::vector<double> c, eta;
  for (size_t i = 0; i < c_in.size(); ++i) {
    if (c_in[i] > 0 && eta_in[i] > 0 && std::isfinite(c_in[i]) && std::isfinite(eta_in[i])) {
      c.push_back(c_in[i]);
      eta.push_back(eta_in[i]);
    }
  }
  if (c.size() < 4) {
    return Status::InvalidArgument("efficiency curve: " + std::to_string(c.size()) +
                                   " usable points (c > 0, η > 0), at least 4 needed");
  }
  const double eta_top = *std::max_element(eta.begin(), eta.end());
  const double eta_max0 = std::min(99.0, 1.05 * eta_top);

  std::vector<std::pair<std::string, PowerLawParams>> starts;
  // Grid: for each α, k such that k·c^α = 1 (the curve at 63 % of its top) at a low, the
  // middle and a high quantile of the data's costs.
  for (const double alpha : {0.25, 0.5, 1.0, 2.0}) {
    for (const double q : {0.1, 0.5, 0.9}) {
      const double cq = Quantile(c, q);
      const double k = std::pow(cq, -alpha);
      char label[64];
      std::snprintf(label, sizeof(label), "grid a=%g k=c%.0f^-a", alpha, q * 100);
      starts.emplace_back(label, PowerLawParams{eta_max0, k, alpha});
    }
  }
  // Log-linear: ln(−ln(1 − η/η_max)) = ln k + α ln c on the rising part (η < 90 % of top).
  {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      const double share = eta[i] / eta_max0;
      if (share >= 0.9) continue;
      const double x = std::log(c[i]);
      const double y = std::log(-std::log(1.0 - share));
      sx += x, sy += y, sxx += x * x, sxy += x * y;
      ++n;
    }
    const double den = n * sxx - sx * sx;
    if (n >= 3 && den > 0) {
      const double alpha = (n * sxy - sx * sy) / den;
      const double lnk = (sy - alpha * sx) / n;
      if (alpha > 0 && std::isfinite(lnk)) {
        starts.emplace_back("log-linear", PowerLawParams{eta_max0, std::exp(lnk), alpha});
      }
    }
  }
  // scipy's curve_fit default (every parameter 1): what a single-start fit would use.
  starts.emplace_back("naive", PowerLawParams{1.0, 1.0, 1.0});

  CurveFit fit;
  fit.n = static_cast<int64_t>(c.size());
  const CurveStart* best = nullptr;
  for (const auto& [label, p] : starts) {
    fit.starts.push_back(FitFromStart(c, eta, label, p));
  }
  for (const CurveStart& s : fit.starts) {
    if (s.converged && (best == nullptr || s.sse < best->sse)) best = &s;
  }
  if (best != nullptr) {
    fit.converged = true;
    fit.params = best->end;
    fit.rmse = std::sqrt(best->sse / static_cast<double>(c.size()));
  }
  return fit;
}

double PredictedSeconds(const PowerLawParams& curve, double flops, double peak_flops) {
  if (flops <= 0) return 0;
  const double eta = curve.Eta(flops / 1e12) / 100.0;
  return flops / (peak_flops * eta);
}

double LinearEnergyModel::Predict(const std::vector<double>& x) const {
  double e = h0;
  for (size_t i = 0; i < h.size() && i < x.size(); ++i) e += h[i] * x[i];
  return e;
}

Result<LinearEnergyModel> FitLinearEnergy(const std::vector<std::vector<double>>& x,
                                          const std::vector<double>& y) {
  if (x.empty() || x.size() != y.size()) {
    return Status::InvalidArgument("energy model: no rows, or rows and targets differ");
  }
  const size_t p = x.front().size();
  if (x.size() < p + 2) {
    return Status::InvalidArgument("energy model: " + std::to_string(x.size()) +
                                   " rows for " + std::to_string(p + 1) + " coefficients");
  }
  Eigen::MatrixXd a(x.size(), p + 1);
  Eigen::VectorXd b(y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].size() != p) return Status::InvalidArgument("energy model: ragged rows");
    a(i, 0) = 1.0;
    for (size_t j = 0; j < p; ++j) a(i, j + 1) = x[i][j];
    b(i) = y[i];
  }
  // Column scaling keeps the QR well conditioned when durations differ by orders of
  // magnitude between operation types.
  Eigen::VectorXd scale = a.colwise().norm().transpose();
  for (Eigen::Index j = 0; j < scale.size(); ++j)
    if (scale(j) == 0) scale(j) = 1;
  const Eigen::MatrixXd as = a * scale.cwiseInverse().asDiagonal();
  const Eigen::VectorXd sol = as.colPivHouseholderQr().solve(b).cwiseQuotient(scale);
  if (!sol.allFinite()) return Status::InvalidArgument("energy model: singular system");
  LinearEnergyModel m;
  m.h0 = sol(0);
  for (size_t j = 0; j < p; ++j) m.h.push_back(sol(j + 1));
  return m;
}

ErrorSummary Summarise(const std::vector<double>& actual, const std::vector<double>& predicted) {
  ErrorSummary s;
  s.n = static_cast<int64_t>(actual.size());
  if (actual.empty() || actual.size() != predicted.size()) return s;
  double mean = 0;
  for (const double a : actual) mean += a;
  mean /= static_cast<double>(actual.size());
  double ss_res = 0, ss_tot = 0;
  std::vector<double> ape;
  for (size_t i = 0; i < actual.size(); ++i) {
    ss_res += (actual[i] - predicted[i]) * (actual[i] - predicted[i]);
    ss_tot += (actual[i] - mean) * (actual[i] - mean);
    if (actual[i] != 0) ape.push_back(100.0 * std::fabs(predicted[i] - actual[i]) / std::fabs(actual[i]));
  }
  s.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
  if (!ape.empty()) {
    double sum = 0;
    for (const double a : ape) sum += a;
    s.mape = sum / static_cast<double>(ape.size());
    s.median_ape = Quantile(ape, 0.5);
    s.p90_ape = Quantile(ape, 0.9);
  }
  return s;
}

std::vector<int> GroupedFolds(const std::vector<std::string>& groups, int k) {
  // FNV-1a of the group name orders the groups: fixed across runs and platforms.
  auto hash = [](const std::string& s) {
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    return h;
  };
  std::map<std::pair<uint64_t, std::string>, int> order;
  for (const std::string& g : groups) order.emplace(std::make_pair(hash(g), g), 0);
  int i = 0;
  for (auto& [key, fold] : order) fold = (i++) % std::max(1, k);
  std::vector<int> out;
  out.reserve(groups.size());
  for (const std::string& g : groups) out.push_back(order.at({hash(g), g}));
  return out;
}

}  // namespace wattfleet
