// THOR per kind: a GP per probe role, THOR's components from their predictions.
#include "wattfleet/estimate/thor_model.h"

#include <cmath>
#include <limits>
#include <map>
#include <utility>
#include <set>
#include <string>

namespace wattfleet {
namespace {

struct Samples {
  Eigen::MatrixXd X;
  Eigen::VectorXd y;
};

size_t DistinctRows(const std::vector<const ThorProbe*>& probes) {
  std::set<std::vector<int64_t>> rows;
  for (const ThorProbe* p : probes) rows.insert(p->widths);
  return rows.size();
}

Eigen::MatrixXd RowOf(std::initializer_list<int64_t> widths) {
  Eigen::MatrixXd x(1, static_cast<Eigen::Index>(widths.size()));
  Eigen::Index j = 0;
  for (int64_t w : widths) x(0, j++) = static_cast<double>(w);
  return x;
}

// What a prediction takes of a role's GP at each row of `x`: its median, held between the
// probes measured at widths no larger and no smaller in every dimension. A probe's cost never
// falls as its widths grow, and far from its few probes a GP on log cost reverts to their
// mean with a variance that makes the log-normal mean, exp(μ + v/2), many times any probe: a
// 1-layer LSTM of 64 was priced at 27 times its measured step from probes of 128 and 512.
Result<Eigen::VectorXd> ValuesAt(const GaussianProcess& gp, const Eigen::MatrixXd& x,
                                 Eigen::VectorXd* variance = nullptr) {
  WF_ASSIGN_OR_RETURN(GpPrediction p, gp.Predict(x));
  Eigen::VectorXd v = p.median;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    WF_ASSIGN_OR_RETURN(GpEnvelope around, gp.Envelope(x.row(i)));
    // Probes that contradict each other (a larger one measured cheaper) bound nothing.
    if (around.low > around.high) continue;
    if (around.low > v(i)) v(i) = around.low;
    if (around.high < v(i)) v(i) = around.high;
  }
  if (variance != nullptr) *variance = p.variance.cwiseMax(0.0);
  return v;
}

Result<double> ValueAt(const GaussianProcess& gp, std::initializer_list<int64_t> widths,
                       double* variance) {
  Eigen::VectorXd var;
  WF_ASSIGN_OR_RETURN(Eigen::VectorXd v, ValuesAt(gp, RowOf(widths), &var));
  *variance = var(0);
  return v(0);
}

// The GP of one role's probes: widths in, measured value out.
Result<GaussianProcess> FitRole(const std::vector<const ThorProbe*>& probes, const char* role,
                                size_t min_distinct, const GpOptions& options) {
  if (DistinctRows(probes) < min_distinct) {
    return Status::Unavailable("thor: " + std::string(role) + " probes at " +
                               std::to_string(DistinctRows(probes)) +
                               " distinct widths; at least " + std::to_string(min_distinct) +
                               " needed");
  }
  const Eigen::Index n = static_cast<Eigen::Index>(probes.size());
  const Eigen::Index d = static_cast<Eigen::Index>(probes[0]->widths.size());
  Eigen::MatrixXd X(n, d);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const ThorProbe& p = *probes[static_cast<size_t>(i)];
    for (Eigen::Index j = 0; j < d; ++j) X(i, j) = static_cast<double>(p.widths[static_cast<size_t>(j)]);
    y(i) = p.value;
  }
  // Energy grows as a product of widths: on log widths that is a stationary function only of
  // log energy. A GP on the linear target has one absolute noise and signal scale for
  // millijoules at 32 channels and joules at 512, which misplaces the uncertainty active
  // profiling reads. Measured energies are positive; a target that is not stays linear.
  GpOptions role_options = options;
  if (y.minCoeff() > 0) role_options.log_target = true;
  Result<GaussianProcess> gp = GaussianProcess::Fit(X, y, role_options);
  if (!gp.ok()) {
    return Status::Unavailable("thor: the " + std::string(role) + " GP: " + gp.status().message());
  }
  return gp;
}

}  // namespace

double ProbeUncertainty::Relative() const {
  return predicted == 0 ? std::numeric_limits<double>::infinity()
                        : component_std / std::fabs(predicted);
}

std::vector<ThorTerm> ThorTerms(const std::vector<int64_t>& widths) {
  std::map<std::pair<ProbeRole, std::vector<int64_t>>, double> coef;
  if (widths.empty()) return {};
  coef[{ProbeRole::kInput, {widths[0]}}] += 1;
  coef[{ProbeRole::kOutput, {widths[0]}}] -= 1;
  for (size_t i = 1; i < widths.size(); ++i) {
    coef[{ProbeRole::kHidden, {widths[i - 1], widths[i]}}] += 1;
    coef[{ProbeRole::kInput, {widths[i - 1]}}] -= 1;
    coef[{ProbeRole::kOutput, {widths[i - 1]}}] += 1;
    coef[{ProbeRole::kOutput, {widths[i]}}] -= 1;
  }
  coef[{ProbeRole::kOutput, {widths.back()}}] += 1;
  std::vector<ThorTerm> terms;
  for (const auto& [key, c] : coef) {
    if (c != 0) terms.push_back(ThorTerm{key.first, key.second, c});
  }
  return terms;
}

Result<ThorKindModel> ThorKindModel::Fit(const std::vector<ThorProbe>& probes,
                                         const GpOptions& options) {
  std::vector<const ThorProbe*> out, in, hidden;
  for (const ThorProbe& p : probes) {
    const size_t want = p.role == ProbeRole::kHidden ? 2 : 1;
    if (p.widths.size() != want || !std::isfinite(p.value)) {
      return Status::InvalidArgument("thor: a " + std::string(ProbeRoleName(p.role)) +
                                     " probe with " + std::to_string(p.widths.size()) +
                                     " widths or a non-finite value");
    }
    (p.role == ProbeRole::kOutput ? out : p.role == ProbeRole::kInput ? in : hidden).push_back(&p);
  }
  ThorKindModel m;
  WF_ASSIGN_OR_RETURN(GaussianProcess gp_out, FitRole(out, "output", 2, options));
  m.out_ = std::move(gp_out);
  WF_ASSIGN_OR_RETURN(GaussianProcess gp_in, FitRole(in, "input", 2, options));
  m.in_ = std::move(gp_in);
  WF_ASSIGN_OR_RETURN(GaussianProcess gp_hidden, FitRole(hidden, "hidden", 3, options));
  m.hidden_ = std::move(gp_hidden);
  return m;
}

Result<ThorPrediction> ThorKindModel::Predict(const std::vector<int64_t>& widths) const {
  if (widths.empty()) return Status::InvalidArgument("thor: a network needs a width");
  // P_out, P_in and P_hid are the probes' GPs. THOR's components follow from them:
  //   E_out(C) = P_out(C),  E_in(C) = P_in(C) − P_out(C),
  //   E_hid(a, b) = P_hid(a, b) − P_in(a) + P_out(a) − P_out(b).
  // A part's variance is the sum of its terms' variances (the GPs are independent; the
  // covariance of one GP at two widths is left out).
  ThorPrediction p;
  double v1 = 0, v2 = 0, v3 = 0, v4 = 0;
  WF_ASSIGN_OR_RETURN(double in0, ValueAt(*in_, {widths[0]}, &v1));
  WF_ASSIGN_OR_RETURN(double out0, ValueAt(*out_, {widths[0]}, &v2));
  p.parts.push_back(in0 - out0);
  p.variance += v1 + v2;
  for (size_t i = 1; i < widths.size(); ++i) {
    WF_ASSIGN_OR_RETURN(double hid, ValueAt(*hidden_, {widths[i - 1], widths[i]}, &v1));
    WF_ASSIGN_OR_RETURN(double in_a, ValueAt(*in_, {widths[i - 1]}, &v2));
    WF_ASSIGN_OR_RETURN(double out_a, ValueAt(*out_, {widths[i - 1]}, &v3));
    WF_ASSIGN_OR_RETURN(double out_b, ValueAt(*out_, {widths[i]}, &v4));
    p.parts.push_back(hid - in_a + out_a - out_b);
    p.variance += v1 + v2 + v3 + v4;
  }
  WF_ASSIGN_OR_RETURN(double out_last, ValueAt(*out_, {widths.back()}, &v1));
  p.parts.push_back(out_last);
  p.variance += v1;
  for (double part : p.parts) p.mean += part;
  return p;
}

Result<ProbeUncertainty> ThorKindModel::Uncertainty(ProbeRole role,
                                                    const std::vector<int64_t>& widths) const {
  const size_t want = role == ProbeRole::kHidden ? 2 : 1;
  if (widths.size() != want) return Status::InvalidArgument("thor: wrong number of widths");
  ProbeUncertainty u;
  double var = 0;
  if (role == ProbeRole::kOutput) {
    WF_ASSIGN_OR_RETURN(u.predicted, ValueAt(*out_, {widths[0]}, &var));
  } else if (role == ProbeRole::kInput) {
    WF_ASSIGN_OR_RETURN(u.predicted, ValueAt(*in_, {widths[0]}, &var));
  } else {
    WF_ASSIGN_OR_RETURN(u.predicted, ValueAt(*hidden_, {widths[0], widths[1]}, &var));
  }
  u.component_std = std::sqrt(var);
  return u;
}

const GaussianProcess& ThorKindModel::Gp(ProbeRole role) const {
  return role == ProbeRole::kOutput ? *out_ : role == ProbeRole::kInput ? *in_ : *hidden_;
}

namespace {

// One role's terms of a chain: their inputs, c_t·s_t (coefficient times the scale that makes
// the GP's covariance absolute) and the role's share of the chain's total.
struct RoleTerms {
  Eigen::MatrixXd X;
  Eigen::VectorXd weight;
  double mean = 0;
};

Result<RoleTerms> TermsOfRole(const GaussianProcess& gp, const std::vector<ThorTerm>& terms,
                              ProbeRole role) {
  RoleTerms r;
  std::vector<const ThorTerm*> mine;
  for (const ThorTerm& t : terms) {
    if (t.role == role) mine.push_back(&t);
  }
  const Eigen::Index n = static_cast<Eigen::Index>(mine.size());
  r.X.resize(n, gp.dims());
  r.weight.resize(n);
  if (n == 0) return r;
  for (Eigen::Index i = 0; i < n; ++i) {
    const ThorTerm& t = *mine[static_cast<size_t>(i)];
    if (static_cast<int>(t.widths.size()) != gp.dims()) {
      return Status::InvalidArgument("thor: wrong number of widths");
    }
    for (Eigen::Index j = 0; j < gp.dims(); ++j) {
      r.X(i, j) = static_cast<double>(t.widths[static_cast<size_t>(j)]);
    }
  }
  // The values a prediction takes (ValuesAt), so that the chain's total is Predict's.
  WF_ASSIGN_OR_RETURN(Eigen::VectorXd value, ValuesAt(gp, r.X));
  for (Eigen::Index i = 0; i < n; ++i) {
    const double c = mine[static_cast<size_t>(i)]->coef;
    r.weight(i) = c * (gp.options().log_target ? value(i) : 1.0);
    r.mean += c * value(i);
  }
  return r;
}

constexpr ProbeRole kRoles[] = {ProbeRole::kOutput, ProbeRole::kInput, ProbeRole::kHidden};

}  // namespace

Result<double> ThorKindModel::ChainRelativeStd(const std::vector<int64_t>& chain) const {
  if (chain.empty()) return Status::InvalidArgument("thor: a network needs a width");
  const std::vector<ThorTerm> terms = ThorTerms(chain);
  double total = 0, variance = 0;
  for (ProbeRole role : kRoles) {
    WF_ASSIGN_OR_RETURN(RoleTerms r, TermsOfRole(Gp(role), terms, role));
    if (r.X.rows() == 0) continue;
    WF_ASSIGN_OR_RETURN(Eigen::MatrixXd cov, Gp(role).LatentCovariance(r.X, r.X));
    total += r.mean;
    variance += std::max(0.0, r.weight.dot(cov * r.weight));
  }
  return total == 0 ? std::numeric_limits<double>::infinity()
                    : std::sqrt(variance) / std::fabs(total);
}

Result<Eigen::VectorXd> ThorKindModel::ChainVarianceReduction(
    const std::vector<int64_t>& chain, ProbeRole role, const Eigen::MatrixXd& probes) const {
  if (chain.empty()) return Status::InvalidArgument("thor: a network needs a width");
  const GaussianProcess& gp = Gp(role);
  if (probes.cols() != gp.dims()) return Status::InvalidArgument("thor: wrong number of widths");
  const std::vector<ThorTerm> terms = ThorTerms(chain);
  double total = 0;
  RoleTerms mine;
  for (ProbeRole r : kRoles) {
    WF_ASSIGN_OR_RETURN(RoleTerms t, TermsOfRole(Gp(r), terms, r));
    total += t.mean;
    if (r == role) mine = std::move(t);
  }
  Eigen::VectorXd reduction = Eigen::VectorXd::Zero(probes.rows());
  if (mine.X.rows() == 0 || probes.rows() == 0) return reduction;  // the role is not used
  if (total == 0) {
    reduction.setConstant(std::numeric_limits<double>::infinity());
    return reduction;
  }
  WF_ASSIGN_OR_RETURN(Eigen::MatrixXd cross, gp.LatentCovariance(mine.X, probes));
  WF_ASSIGN_OR_RETURN(Eigen::MatrixXd self, gp.LatentCovariance(probes, probes));
  const Eigen::VectorXd c = cross.transpose() * mine.weight;
  for (Eigen::Index i = 0; i < probes.rows(); ++i) {
    const double denominator = std::max(0.0, self(i, i)) + gp.noise_variance();
    reduction(i) = denominator > 0 ? c(i) * c(i) / denominator / (total * total) : 0.0;
  }
  return reduction;
}

nlohmann::json ThorKindModel::ToJson() const {
  return {{"form", "probe-totals"},
          {"output", nlohmann::json::parse(out_->ToJson())},
          {"input", nlohmann::json::parse(in_->ToJson())},
          {"hidden", nlohmann::json::parse(hidden_->ToJson())}};
}

Result<ThorKindModel> ThorKindModel::FromJson(const nlohmann::json& j) {
  ThorKindModel m;
  // Models stored by builds that fitted differenced samples read differently: refused, so
  // that the caller refits.
  if (j.value("form", "") != "probe-totals") {
    return Status::Corruption("thor: stored model is of an older form");
  }
  for (const char* role : {"output", "input", "hidden"}) {
    auto it = j.find(role);
    if (it == j.end()) return Status::Corruption(std::string("thor: stored model lacks ") + role);
    WF_ASSIGN_OR_RETURN(GaussianProcess gp, GaussianProcess::FromJson(it->dump()));
    (std::string(role) == "output" ? m.out_ : std::string(role) == "input" ? m.in_ : m.hidden_) =
        std::move(gp);
  }
  return m;
}

}  // namespace wattfleet
