// PRE: kernel ridge regression on log-scaled, standardised architecture and device features.
//
// Choices, and why:
// - Features are log-scaled: FLOPs, parameters, memory and peak throughput span orders of
//   magnitude, and energy grows roughly as a power of them, which is linear in logs.
// - The target is modelled in log space: energies per iteration span decades (a small MLP's
//   millijoules beside a CNN's joules). A squared error on raw energies would be dominated by
//   the largest architectures and one RBF length scale cannot follow a multiplicative spread;
//   in logs the fit minimises relative errors (what the evaluation scores) and every
//   prediction stays positive.
// - The kernel is an RBF kernel plus, when the inner cross-validation prefers it, a linear
//   kernel on the same features: far from the training points an RBF alone falls back to the
//   mean log energy, whereas the linear part keeps the power-law trend (more FLOPs, more
//   energy), which matters for an architecture or a device outside the training range.
// - λ, γ and the linear weight are chosen by grouped K-fold cross-validation on the training
//   set (an architecture's samples in one fold), by mean squared log error.
// - A feature that is 0 (unknown: input size of an architecture without one, a device figure
//   its agent did not report) is set to the training mean, so it contributes no distance.
//   Features constant over the training set are dropped: the data cannot say what they do.
#include "estimator_pre.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

namespace wattfleet {

std::array<double, kPreFeatures> PreFeatures(const ModelSample& m) {
  const double flops = m.flops > 0 ? m.flops : 2 * m.macs;
  return {flops,
          m.params,
          static_cast<double>(m.batch),
          m.input_size,
          m.device.cores,
          m.device.memory_bytes,
          m.device.peak_flops,
          m.device.max_power_w};
}

namespace {

constexpr const char* kName = "pre";
constexpr size_t kMinSamples = 5;
constexpr size_t kMinGroups = 3;  // each inner training fold keeps at least two architectures
constexpr int kFolds = 5;
constexpr size_t kMaxPoints = 2000;   // distinct points in the final solve
constexpr size_t kMaxCvPoints = 400;  // points in each cross-validation solve
// Features from this index on may be 0 for "unknown" (input size, device figures); before it
// (FLOPs, parameters, batch) 0 is a value.
constexpr size_t kFirstOptional = 3;

// RBF widths relative to the number of active features d (γ = g / d keeps the typical
// squared distance of standardised points, about 2d, at a comparable scale), ridge penalties
// and linear-kernel weights tried by the inner cross-validation.
constexpr double kGammaTimesD[] = {0.01, 0.03, 0.1, 0.3, 1.0};
constexpr double kLambdas[] = {1.0, 0.1, 1e-2, 1e-3, 1e-4};  // strongest first: ties keep it
constexpr double kLinearWeights[] = {0.0, 1.0};

double Transform(double raw, size_t j, bool* known) {
  *known = raw > 0 || (j < kFirstOptional && raw == 0);
  return *known ? std::log1p(raw) : 0.0;
}

struct Hyper {
  double gamma = 0, lambda = 0, linear = 0;
};

double Kernel(const Eigen::VectorXd& a, const Eigen::VectorXd& b, const Hyper& h, double d) {
  const double rbf = std::exp(-h.gamma * (a - b).squaredNorm());
  return h.linear == 0 ? rbf : rbf + h.linear * a.dot(b) / d;
}

// Dual weights of kernel ridge regression on rows `x` (standardised) and centred targets.
// Empty when the system cannot be solved.
Eigen::VectorXd SolveDual(const std::vector<Eigen::VectorXd>& x, const Eigen::VectorXd& r,
                          const Hyper& h, double d) {
  const Eigen::Index n = static_cast<Eigen::Index>(x.size());
  Eigen::MatrixXd k(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j <= i; ++j) {
      k(i, j) = k(j, i) = Kernel(x[static_cast<size_t>(i)], x[static_cast<size_t>(j)], h, d);
    }
    k(i, i) += h.lambda;
  }
  Eigen::LDLT<Eigen::MatrixXd> ldlt(k);
  if (ldlt.info() != Eigen::Success) return {};
  Eigen::VectorXd alpha = ldlt.solve(r);
  if (!alpha.allFinite()) return {};
  return alpha;
}

// `limit` of `v`'s elements, evenly strided (in their order, so that every region keeps its
// share); all of them when there are no more.
template <typename T>
std::vector<T> Strided(const std::vector<T>& v, size_t limit) {
  if (v.size() <= limit) return v;
  std::vector<T> kept;
  kept.reserve(limit);
  for (size_t i = 0; i < limit; ++i) kept.push_back(v[i * v.size() / limit]);
  return kept;
}

class PreEstimator final : public Estimator {
 public:
  std::string name() const override { return kName; }

  Status Fit(const std::vector<LayerSample>&, const std::vector<ModelSample>& models,
             Target target) override {
    target_ = target;
    alpha_.resize(0);  // a failed fit leaves an unfitted estimator, not a half-updated one
    x_.clear();
    std::vector<const ModelSample*> used;
    for (const ModelSample& m : models) {
      if (m.kind != JobKind::kModel || TargetOf(m, target) <= 0) continue;
      if (PreFeatures(m)[0] <= 0) continue;  // FLOPs unknown: not an architecture we can place
      used.push_back(&m);
    }
    std::set<std::string> groups;
    for (const ModelSample* m : used) groups.insert(m->name);
    if (used.size() < kMinSamples || groups.size() < kMinGroups) {
      return Status::Unavailable(
          "pre: needs whole-model measurements of at least " + std::to_string(kMinSamples) +
          " samples and " + std::to_string(kMinGroups) + " architectures (has " +
          std::to_string(used.size()) + " of " + std::to_string(groups.size()) + ")");
    }
    Standardise(used);

    // Repeats of one architecture on one device at one batch are one point of the regression
    // (their mean log target): kernel ridge costs the cube of its points, and a repeat adds
    // no new place in feature space.
    std::map<std::vector<double>, std::tuple<double, int, std::string>> points;
    for (const ModelSample* m : used) {
      const Eigen::VectorXd row = Scaled(*m);
      auto& [sum, count, name] = points[std::vector<double>(row.data(), row.data() + row.size())];
      sum += std::log(TargetOf(*m, target));
      if (count++ == 0) name = m->name;
    }
    std::vector<Eigen::VectorXd> x;
    std::vector<double> ys;
    std::vector<std::string> point_names;
    for (const auto& [row, value] : points) {
      const auto& [sum, count, name] = value;
      x.push_back(Eigen::Map<const Eigen::VectorXd>(row.data(), static_cast<Eigen::Index>(row.size())));
      ys.push_back(sum / count);
      point_names.push_back(name);
    }
    // Past kMaxPoints distinct points, an evenly strided subset (in feature order, so every
    // region keeps its share) is fitted: 2 000 points already cost a few seconds per solve.
    if (x.size() > kMaxPoints) {
      x = Strided(x, kMaxPoints);
      ys = Strided(ys, kMaxPoints);
      point_names = Strided(point_names, kMaxPoints);
    }
    Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(ys.data(), static_cast<Eigen::Index>(ys.size()));
    // Fold of each point: its architecture's rank among the sorted names, dealt round-robin.
    const std::vector<std::string> names(groups.begin(), groups.end());
    const int k = std::min<int>(kFolds, static_cast<int>(names.size()));
    std::vector<int> fold(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      fold[i] = static_cast<int>(std::lower_bound(names.begin(), names.end(), point_names[i]) -
                                 names.begin()) % k;
    }
    // The hyper-parameter search solves the system 5 x 50 times: on at most kMaxCvPoints of
    // the points (strided likewise); the final solve uses them all.
    const size_t cv_points = std::min(x.size(), kMaxCvPoints);
    const std::vector<double> cv_ys = Strided(ys, cv_points);
    const double best_mse =
        SearchHyper(Strided(x, cv_points),
                    Eigen::Map<const Eigen::VectorXd>(cv_ys.data(),
                                                      static_cast<Eigen::Index>(cv_ys.size())),
                    Strided(fold, cv_points), k);
    if (!std::isfinite(best_mse)) {
      return Status::Unavailable("pre: no kernel ridge system of the grid could be solved");
    }
    log_sigma_ = std::sqrt(best_mse);
    log_mean_ = y.mean();
    alpha_ = SolveDual(x, y.array() - log_mean_, hyper_, dims_);
    if (alpha_.size() == 0) return Status::Unavailable("pre: the kernel system is singular");
    x_ = std::move(x);
    return Status::OK();
  }

  // The grid of hyper-parameters searched by grouped k-fold cross-validation; the best is
  // kept in hyper_ and its mean squared error (log units) returned, +inf when no system of
  // the grid could be solved.
  double SearchHyper(const std::vector<Eigen::VectorXd>& x, const Eigen::VectorXd& y,
                     const std::vector<int>& fold, int k) {
    double best_mse = std::numeric_limits<double>::infinity();
    for (double linear : kLinearWeights) {
      for (double g : kGammaTimesD) {
        for (double lambda : kLambdas) {
          const Hyper h{g / dims_, lambda, linear};
          const double mse = CrossValidate(x, y, fold, k, h);
          if (mse < best_mse) {
            best_mse = mse;
            hyper_ = h;
          }
        }
      }
    }
    return best_mse;
  }

  Result<Estimate> Predict(const ModelSample& m, const LayerCatalog&) const override {
    if (alpha_.size() == 0) return Status::Unavailable("pre: not fitted");
    if (PreFeatures(m)[0] <= 0) {
      return Status::Unavailable("pre: " + m.name + " has no FLOPs or MACs to place it by");
    }
    const Eigen::VectorXd q = Scaled(m);
    double log_value = log_mean_;
    for (size_t i = 0; i < x_.size(); ++i) {
      log_value += alpha_(static_cast<Eigen::Index>(i)) * Kernel(x_[i], q, hyper_, dims_);
    }
    const double value = std::exp(log_value);
    // Log-normal spread with the cross-validated log residual: the standard deviation of
    // exp(N(log_value, s²)) about its median.
    const double std = value * std::sqrt(std::expm1(log_sigma_ * log_sigma_));
    Estimate e;
    e.value = value;
    e.std = std;
    return e;
  }

  nlohmann::json ToJson() const override {
    nlohmann::json x = nlohmann::json::array();
    for (const Eigen::VectorXd& row : x_) {
      x.push_back(std::vector<double>(row.data(), row.data() + row.size()));
    }
    return {{"estimator", kName},
            {"target", TargetName(target_)},
            {"gamma", hyper_.gamma},
            {"lambda", hyper_.lambda},
            {"linear", hyper_.linear},
            {"dims", dims_},
            {"log_mean", log_mean_},
            {"log_sigma", log_sigma_},
            {"feature_mean", std::vector<double>(mean_.begin(), mean_.end())},
            {"feature_scale", std::vector<double>(scale_.begin(), scale_.end())},
            {"x", x},
            {"alpha", std::vector<double>(alpha_.data(), alpha_.data() + alpha_.size())}};
  }

  Status FromJson(const nlohmann::json& j) override {
    WF_RETURN_IF_ERROR(CheckStateOf(j, kName));
    const auto corrupt = [](const std::string& what) {
      return Status::Corruption("pre: stored state: " + what);
    };
    for (const char* key : {"gamma", "lambda", "linear", "dims", "log_mean", "log_sigma"}) {
      auto it = j.find(key);
      if (it == j.end() || !it->is_number()) return corrupt(std::string("no number ") + key);
    }
    auto target = j.find("target");
    auto mean = j.find("feature_mean");
    auto scale = j.find("feature_scale");
    auto x = j.find("x");
    auto alpha = j.find("alpha");
    if (target == j.end() || !target->is_string() || mean == j.end() || scale == j.end() ||
        x == j.end() || alpha == j.end() || !x->is_array() || !alpha->is_array()) {
      return corrupt("lacks target, feature_mean, feature_scale, x or alpha");
    }
    try {
      const auto m = mean->get<std::vector<double>>();
      const auto s = scale->get<std::vector<double>>();
      const auto a = alpha->get<std::vector<double>>();
      if (m.size() != kPreFeatures || s.size() != kPreFeatures || a.size() != x->size() ||
          a.empty()) {
        return corrupt("feature or sample counts do not match");
      }
      std::vector<Eigen::VectorXd> rows;
      for (const auto& r : *x) {
        const auto v = r.get<std::vector<double>>();
        if (v.size() != kPreFeatures) return corrupt("a training row of the wrong length");
        rows.push_back(Eigen::Map<const Eigen::VectorXd>(v.data(), kPreFeatures));
      }
      std::copy(m.begin(), m.end(), mean_.begin());
      std::copy(s.begin(), s.end(), scale_.begin());
      alpha_ = Eigen::Map<const Eigen::VectorXd>(a.data(), static_cast<Eigen::Index>(a.size()));
      x_ = std::move(rows);
    } catch (const nlohmann::json::exception& e) {
      return corrupt(e.what());
    }
    target_ = *target == "time" ? Target::kTime : Target::kEnergy;
    hyper_ = {j["gamma"].get<double>(), j["lambda"].get<double>(), j["linear"].get<double>()};
    dims_ = j["dims"].get<double>();
    log_mean_ = j["log_mean"].get<double>();
    log_sigma_ = j["log_sigma"].get<double>();
    return Status::OK();
  }

 private:
  // Means and scales of the log features over the training samples (known values only);
  // scale 0 marks a feature the training set does not vary, which is then left out.
  void Standardise(const std::vector<const ModelSample*>& used) {
    dims_ = 0;
    for (size_t j = 0; j < kPreFeatures; ++j) {
      double sum = 0, sum2 = 0, n = 0;
      for (const ModelSample* m : used) {
        bool known = false;
        const double v = Transform(PreFeatures(*m)[j], j, &known);
        if (!known) continue;
        sum += v;
        sum2 += v * v;
        n += 1;
      }
      mean_[j] = n > 0 ? sum / n : 0;
      const double var = n > 1 ? std::max(0.0, sum2 / n - mean_[j] * mean_[j]) : 0;
      scale_[j] = var > 1e-12 ? std::sqrt(var) : 0;
      dims_ += scale_[j] > 0 ? 1 : 0;
    }
    dims_ = std::max(dims_, 1.0);
  }

  Eigen::VectorXd Scaled(const ModelSample& m) const {
    const auto raw = PreFeatures(m);
    Eigen::VectorXd z = Eigen::VectorXd::Zero(kPreFeatures);
    for (size_t j = 0; j < kPreFeatures; ++j) {
      bool known = false;
      const double v = Transform(raw[j], j, &known);
      if (known && scale_[j] > 0) z(static_cast<Eigen::Index>(j)) = (v - mean_[j]) / scale_[j];
    }
    return z;
  }

  // Mean squared log error of `h` over the folds (each fit on the others, centred on their
  // own mean); infinity when a system cannot be solved.
  double CrossValidate(const std::vector<Eigen::VectorXd>& x, const Eigen::VectorXd& y,
                       const std::vector<int>& fold, int k, const Hyper& h) const {
    double sse = 0;
    size_t n = 0;
    for (int f = 0; f < k; ++f) {
      std::vector<Eigen::VectorXd> train;
      std::vector<double> ty;
      for (size_t i = 0; i < x.size(); ++i) {
        if (fold[i] == f) continue;
        train.push_back(x[i]);
        ty.push_back(y(static_cast<Eigen::Index>(i)));
      }
      const Eigen::VectorXd t =
          Eigen::Map<const Eigen::VectorXd>(ty.data(), static_cast<Eigen::Index>(ty.size()));
      const double mean = t.mean();
      const Eigen::VectorXd alpha = SolveDual(train, t.array() - mean, h, dims_);
      if (alpha.size() == 0) return std::numeric_limits<double>::infinity();
      for (size_t i = 0; i < x.size(); ++i) {
        if (fold[i] != f) continue;
        double p = mean;
        for (size_t r = 0; r < train.size(); ++r) {
          p += alpha(static_cast<Eigen::Index>(r)) * Kernel(train[r], x[i], h, dims_);
        }
        const double e = p - y(static_cast<Eigen::Index>(i));
        sse += e * e;
        ++n;
      }
    }
    return n > 0 ? sse / static_cast<double>(n) : std::numeric_limits<double>::infinity();
  }

  Target target_ = Target::kEnergy;
  Hyper hyper_;
  double dims_ = 1;
  double log_mean_ = 0, log_sigma_ = 0;
  std::array<double, kPreFeatures> mean_{}, scale_{};
  std::vector<Eigen::VectorXd> x_;
  Eigen::VectorXd alpha_;
};

}  // namespace

std::unique_ptr<Estimator> MakePreEstimator() { return std::make_unique<PreEstimator>(); }

}  // namespace wattfleet
