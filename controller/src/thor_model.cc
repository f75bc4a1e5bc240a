// THOR per kind: the three GPs fitted in dependency order (output, input, hidden).
#include "thor_model.h"

#include <cmath>
#include <limits>
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

Result<double> MeanAt(const GaussianProcess& gp, std::initializer_list<int64_t> widths,
                      double* variance = nullptr) {
  Eigen::MatrixXd x(1, static_cast<Eigen::Index>(widths.size()));
  Eigen::Index j = 0;
  for (int64_t w : widths) x(0, j++) = static_cast<double>(w);
  WF_ASSIGN_OR_RETURN(GpPrediction p, gp.Predict(x));
  if (variance != nullptr) *variance = std::max(0.0, p.variance(0));
  return p.mean(0);
}

Result<GaussianProcess> FitRole(const std::vector<const ThorProbe*>& probes, const char* role,
                                size_t min_distinct, const GpOptions& options,
                                const std::function<Result<double>(const ThorProbe&)>& target) {
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
    WF_ASSIGN_OR_RETURN(y(i), target(p));
  }
  // Energy grows as a product of widths (E_hid ~ C1·C2): on log widths that is a stationary
  // function only of log energy. A GP on the linear target has one absolute noise and signal
  // scale for millijoules at 32 channels and joules at 512, which misplaces the uncertainty
  // active profiling reads. Log energy is modelled whenever every differenced sample is
  // positive; noise can make a small E_hid sample negative, and then the role stays linear.
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
  WF_ASSIGN_OR_RETURN(GaussianProcess gp_out,
                      FitRole(out, "output", 2, options,
                              [](const ThorProbe& p) -> Result<double> { return p.value; }));
  m.out_ = std::move(gp_out);
  WF_ASSIGN_OR_RETURN(
      GaussianProcess gp_in,
      FitRole(in, "input", 2, options, [&](const ThorProbe& p) -> Result<double> {
        WF_ASSIGN_OR_RETURN(double e_out, MeanAt(*m.out_, {p.widths[0]}));
        return p.value - e_out;
      }));
  m.in_ = std::move(gp_in);
  WF_ASSIGN_OR_RETURN(
      GaussianProcess gp_hidden,
      FitRole(hidden, "hidden", 3, options, [&](const ThorProbe& p) -> Result<double> {
        WF_ASSIGN_OR_RETURN(double e_in, MeanAt(*m.in_, {p.widths[0]}));
        WF_ASSIGN_OR_RETURN(double e_out, MeanAt(*m.out_, {p.widths[1]}));
        return p.value - e_in - e_out;
      }));
  m.hidden_ = std::move(gp_hidden);
  return m;
}

Result<ThorPrediction> ThorKindModel::Predict(const std::vector<int64_t>& widths) const {
  if (widths.empty()) return Status::InvalidArgument("thor: a network needs a width");
  ThorPrediction p;
  auto add = [&](double mean, double variance) {
    p.parts.push_back(mean);
    p.mean += mean;
    p.variance += variance;
  };
  double var = 0;
  WF_ASSIGN_OR_RETURN(double e_in, MeanAt(*in_, {widths[0]}, &var));
  add(e_in, var);
  for (size_t i = 1; i < widths.size(); ++i) {
    WF_ASSIGN_OR_RETURN(double e_hid, MeanAt(*hidden_, {widths[i - 1], widths[i]}, &var));
    add(e_hid, var);
  }
  WF_ASSIGN_OR_RETURN(double e_out, MeanAt(*out_, {widths.back()}, &var));
  add(e_out, var);
  return p;
}

Result<ProbeUncertainty> ThorKindModel::Uncertainty(ProbeRole role,
                                                    const std::vector<int64_t>& widths) const {
  const size_t want = role == ProbeRole::kHidden ? 2 : 1;
  if (widths.size() != want) return Status::InvalidArgument("thor: wrong number of widths");
  ProbeUncertainty u;
  double var = 0;
  if (role == ProbeRole::kOutput) {
    WF_ASSIGN_OR_RETURN(u.predicted, MeanAt(*out_, {widths[0]}, &var));
  } else {
    WF_ASSIGN_OR_RETURN(ThorPrediction p, Predict(widths));
    u.predicted = p.mean;
    if (role == ProbeRole::kInput) {
      WF_RETURN_IF_ERROR(MeanAt(*in_, {widths[0]}, &var).status());
    } else {
      WF_RETURN_IF_ERROR(MeanAt(*hidden_, {widths[0], widths[1]}, &var).status());
    }
  }
  u.component_std = std::sqrt(var);
  return u;
}

nlohmann::json ThorKindModel::ToJson() const {
  return {{"output", nlohmann::json::parse(out_->ToJson())},
          {"input", nlohmann::json::parse(in_->ToJson())},
          {"hidden", nlohmann::json::parse(hidden_->ToJson())}};
}

Result<ThorKindModel> ThorKindModel::FromJson(const nlohmann::json& j) {
  ThorKindModel m;
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
