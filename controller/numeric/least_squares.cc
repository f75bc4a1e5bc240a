#include "wattfleet/numeric/least_squares.h"

#include <Eigen/Dense>

#include <cmath>
#include <limits>

namespace wattfleet {

std::vector<double> LeastSquares(const std::vector<std::vector<double>>& rows,
                                 const std::vector<double>& y) {
  if (rows.empty() || rows.size() != y.size()) return {};
  const Eigen::Index n = static_cast<Eigen::Index>(rows.size());
  const Eigen::Index p = static_cast<Eigen::Index>(rows[0].size());
  Eigen::MatrixXd X(n, p);
  Eigen::VectorXd b(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < p; ++j) X(i, j) = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
    b(i) = y[static_cast<size_t>(i)];
  }
  // Column scaling keeps MACs (1e9) and intercepts (1) in one well-conditioned system.
  Eigen::VectorXd scale = X.colwise().norm().transpose();
  for (Eigen::Index j = 0; j < p; ++j) {
    if (scale(j) == 0) return {};
    X.col(j) /= scale(j);
  }
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(X);
  if (qr.rank() < p) return {};
  Eigen::VectorXd coef = qr.solve(b);
  std::vector<double> out(static_cast<size_t>(p));
  for (Eigen::Index j = 0; j < p; ++j) out[static_cast<size_t>(j)] = coef(j) / scale(j);
  return out;
}

std::vector<double> NonNegativeRelativeLeastSquares(const std::vector<std::vector<double>>& x,
                                                    const std::vector<double>& y) {
  if (x.empty() || x.size() != y.size()) return {};
  const size_t p = x[0].size();
  if (p == 0 || p > 6) return {};
  // The normal equations of the relative residuals, once: G = AᵀA and h = Aᵀ1 with
  // A = X / y row by row. Every subset of columns is then a p × p solve, whatever n is.
  const Eigen::Index q_all = static_cast<Eigen::Index>(p);
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(q_all, q_all);
  Eigen::VectorXd h = Eigen::VectorXd::Zero(q_all);
  Eigen::VectorXd row(q_all);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(y[i] > 0) || !std::isfinite(y[i])) return {};
    for (size_t j = 0; j < p; ++j) row(static_cast<Eigen::Index>(j)) = x[i][j] / y[i];
    if (!row.allFinite()) return {};
    g.noalias() += row * row.transpose();
    h += row;
  }
  const double n = static_cast<double>(x.size());
  std::vector<double> best;
  double best_sse = std::numeric_limits<double>::infinity();
  for (unsigned mask = 1; mask < (1u << p); ++mask) {
    std::vector<Eigen::Index> cols;
    for (size_t j = 0; j < p; ++j) {
      if (mask & (1u << j)) cols.push_back(static_cast<Eigen::Index>(j));
    }
    const Eigen::Index q = static_cast<Eigen::Index>(cols.size());
    if (static_cast<Eigen::Index>(x.size()) < q) continue;
    Eigen::MatrixXd gs(q, q);
    Eigen::VectorXd hs(q), scale(q);
    for (Eigen::Index a = 0; a < q; ++a) {
      scale(a) = std::sqrt(g(cols[a], cols[a]));
      hs(a) = h(cols[a]);
      for (Eigen::Index b = 0; b < q; ++b) gs(a, b) = g(cols[a], cols[b]);
    }
    if (!(scale.minCoeff() > 0)) continue;
    // Scaled to unit diagonal: work in MACs (1e9) and an intercept (1) in one system.
    const Eigen::MatrixXd gn = scale.asDiagonal().inverse() * gs * scale.asDiagonal().inverse();
    const Eigen::VectorXd hn = scale.asDiagonal().inverse() * hs;
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(gn);
    qr.setThreshold(1e-12);
    if (qr.rank() < q) continue;
    const Eigen::VectorXd cn = qr.solve(hn);
    const Eigen::VectorXd c = scale.asDiagonal().inverse() * cn;
    if (!c.allFinite() || c.minCoeff() < 0) continue;
    const double sse = n - 2 * c.dot(hs) + c.dot(gs * c);
    if (sse < best_sse) {
      best_sse = sse;
      best.assign(p, 0.0);
      for (Eigen::Index a = 0; a < q; ++a) best[static_cast<size_t>(cols[a])] = c(a);
    }
  }
  return best;
}

}  // namespace wattfleet
