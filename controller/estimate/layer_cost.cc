// Layer cost curves: non-negative combinations of monotone bases (layer_cost.h).
#include "wattfleet/estimate/layer_cost.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace wattfleet {
namespace {

constexpr double kAlphas[] = {0.2, 0.35, 0.5, 0.65, 0.8, 1.0};
// k is placed by where the curve bends: k · W_median^α takes these values.
constexpr double kBends[] = {0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0};
constexpr size_t kMinPoints = 3;

double Median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::infinity();
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// W / η(W), with η(W) = 1 − exp(−k W^α); -expm1 keeps precision where k W^α is tiny.
double SaturatedWork(double w, double alpha, double k) {
  const double eta = -std::expm1(-k * std::pow(w, alpha));
  return eta > 0 ? w / eta : std::numeric_limits<double>::infinity();
}

// Relative sum of squared errors of a fit (rows already divided by y: residual = x·c − 1).
double RelativeSse(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                   const std::vector<double>& c) {
  double sse = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double p = 0;
    for (size_t j = 0; j < c.size(); ++j) p += c[j] * x[i][j];
    const double r = p / y[i] - 1.0;
    sse += r * r;
  }
  return sse;
}

}  // namespace

std::string_view CostShapeName(CostShape s) {
  switch (s) {
    case CostShape::kSaturating: return "saturating";
    case CostShape::kSaturatingMemory: return "saturating+memory";
    case CostShape::kLinear: return "linear";
    case CostShape::kRegimes: return "regimes";
  }
  return "";
}

namespace {

// The features the regimes tree splits on.
std::vector<double> RegimeFeatures(const LayerSample& s) {
  const double w = LayerWork(s);
  return {std::log(w),
          std::log(std::max(s.input_elements, 1.0)),
          std::log(std::max(s.output_elements, 1.0)),
          std::log1p(s.params),
          s.kernel,
          s.stride,
          s.groups > 1 ? 1.0 : 0.0,
          std::log(static_cast<double>(std::max<int64_t>(s.batch, 1))),
          std::log(w / std::max(s.params, 1.0))};
}

// Deep enough for the kernel switches of one framework on one device (libtorch's CPU
// convolutions switch by batch, kernel, threads, input size and channel shape); leaves of 3
// layers and a 2 % gain keep it from splitting noise.
constexpr int kTreeDepth = 6;
constexpr size_t kTreeLeaf = 3;          // samples per leaf at least
constexpr double kTreeMinGain = 0.02;    // a split must remove 2 % of the node's squared error

}  // namespace

int LayerCostModel::Grow(const std::vector<std::vector<double>>& x, const std::vector<double>& z,
                         std::vector<size_t> rows, int depth) {
  double sum = 0, sum2 = 0;
  for (size_t r : rows) {
    sum += z[r];
    sum2 += z[r] * z[r];
  }
  const double n = static_cast<double>(rows.size());
  const double sse = sum2 - sum * sum / n;
  const int index = static_cast<int>(tree_.size());
  tree_.push_back(Node{-1, 0, -1, -1, sum / n});
  if (depth == 0 || rows.size() < 2 * kTreeLeaf) return index;
  double best_sse = sse * (1 - kTreeMinGain);
  int best_feature = -1;
  double best_threshold = 0;
  const size_t features = x[rows[0]].size();
  for (size_t f = 0; f < features; ++f) {
    std::sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return x[a][f] < x[b][f]; });
    double left = 0, left2 = 0;
    for (size_t i = 0; i + 1 < rows.size(); ++i) {
      left += z[rows[i]];
      left2 += z[rows[i]] * z[rows[i]];
      const size_t nl = i + 1, nr = rows.size() - nl;
      if (nl < kTreeLeaf || nr < kTreeLeaf) continue;
      const double a = x[rows[i]][f], b = x[rows[i + 1]][f];
      if (a == b) continue;
      const double right = sum - left, right2 = sum2 - left2;
      const double split_sse = (left2 - left * left / static_cast<double>(nl)) +
                               (right2 - right * right / static_cast<double>(nr));
      if (split_sse < best_sse) {
        best_sse = split_sse;
        best_feature = static_cast<int>(f);
        best_threshold = 0.5 * (a + b);
      }
    }
  }
  if (best_feature < 0) return index;
  std::vector<size_t> lo, hi;
  for (size_t r : rows) {
    (x[r][static_cast<size_t>(best_feature)] <= best_threshold ? lo : hi).push_back(r);
  }
  const int l = Grow(x, z, std::move(lo), depth - 1);
  const int h = Grow(x, z, std::move(hi), depth - 1);
  tree_[static_cast<size_t>(index)].feature = best_feature;
  tree_[static_cast<size_t>(index)].threshold = best_threshold;
  tree_[static_cast<size_t>(index)].left = l;
  tree_[static_cast<size_t>(index)].right = h;
  return index;
}

double LayerWork(const LayerSample& s) {
  double w = s.macs > 0 ? s.macs : (s.flops > 0 ? s.flops : s.input_elements);
  return std::max(w, 1.0);
}

std::string_view WorkKind(const LayerSample& s) {
  if (s.macs > 0) return "macs";
  if (s.flops > 0) return "flops";
  return "elements";
}

double LayerMemory(const LayerSample& s) {
  return s.input_elements + s.output_elements + s.params;
}

std::string CostGroup(const LayerSample& s) {
  if (s.type == "Conv1d" || s.type == "Conv2d") {
    if (s.groups > 1) return s.type + "/grouped";
    if (s.kernel == 1) return s.type + "/1x1";
    return s.type + "/kxk";
  }
  return s.type;
}

std::string_view CostKin(std::string_view type) {
  static const std::map<std::string_view, std::string_view> kKin = {
      {"Linear", "matmul"}, {"MultiheadAttention", "matmul"},
      {"TransformerEncoderLayer", "matmul"}, {"LSTM", "matmul"}, {"GRU", "matmul"},
      {"Conv1d", "conv"}, {"Conv2d", "conv"}, {"ConvTranspose2d", "conv"},
      {"ReLU", "elementwise"}, {"ReLU6", "elementwise"}, {"GELU", "elementwise"},
      {"SiLU", "elementwise"}, {"Sigmoid", "elementwise"}, {"Tanh", "elementwise"},
      {"Hardswish", "elementwise"}, {"Hardsigmoid", "elementwise"}, {"Add", "elementwise"},
      {"Mul", "elementwise"}, {"LayerScale", "elementwise"}, {"Dropout", "elementwise"},
      {"Softmax", "elementwise"}, {"PositionalEmbedding", "elementwise"},
      {"BatchNorm1d", "norm"}, {"BatchNorm2d", "norm"}, {"LayerNorm", "norm"},
      {"GroupNorm", "norm"},
      {"MaxPool1d", "pool"}, {"MaxPool2d", "pool"}, {"AvgPool1d", "pool"},
      {"AvgPool2d", "pool"}, {"AdaptiveAvgPool1d", "pool"}, {"AdaptiveAvgPool2d", "pool"},
      {"Concat", "copy"}, {"Narrow", "copy"}, {"Transpose", "copy"},
      {"ChannelsFirst", "copy"}, {"ChannelsLast", "copy"}, {"Tokens", "copy"},
      {"ChannelShuffle", "copy"}, {"Upsample", "copy"}, {"ClassToken", "copy"},
      {"Embedding", "copy"},
      {"Flatten", "view"}, {"SelectToken", "view"},
      // A training step's parts: a loss is element-wise work over the network's output; an
      // optimiser never measured is priced by the updates that were, per unit of their work.
      {"CrossEntropyLoss", "elementwise"}, {"MSELoss", "elementwise"},
      {"SGDStep", "update"}, {"SGDMomentumStep", "update"}, {"AdamStep", "update"},
      {"AdamWStep", "update"}};
  auto it = kKin.find(type);
  return it == kKin.end() ? std::string_view() : it->second;
}

std::string CostGroupType(const std::string& group) { return group.substr(0, group.find('/')); }

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

std::vector<double> LayerCostModel::Basis(const LayerSample& s) const {
  const double w = LayerWork(s);
  switch (shape_) {
    case CostShape::kSaturating: return {1.0, SaturatedWork(w, alpha_, k_)};
    case CostShape::kSaturatingMemory:
      return {1.0, SaturatedWork(w, alpha_, k_), LayerMemory(s)};
    case CostShape::kLinear: return {1.0, w, LayerMemory(s)};
    case CostShape::kRegimes: return {};
  }
  return {};
}

Result<LayerCostModel> LayerCostModel::Fit(const std::vector<const LayerSample*>& samples,
                                           CostShape shape, Target target) {
  std::vector<const LayerSample*> usable;
  std::vector<double> y, works;
  for (const LayerSample* s : samples) {
    const double v = TargetOf(*s, target);
    if (!(v > 0) || !std::isfinite(v)) continue;
    usable.push_back(s);
    y.push_back(v);
    works.push_back(LayerWork(*s));
  }
  if (usable.size() < kMinPoints) {
    return Status::Unavailable("layer cost: fewer than " + std::to_string(kMinPoints) +
                               " measurements with a positive value");
  }
  LayerCostModel best;
  double best_sse = std::numeric_limits<double>::infinity();
  auto consider = [&](LayerCostModel m) {
    std::vector<std::vector<double>> x;
    x.reserve(usable.size());
    for (const LayerSample* s : usable) x.push_back(m.Basis(*s));
    m.coef_ = NonNegativeRelativeLeastSquares(x, y);
    if (m.coef_.empty()) return;
    const double sse = RelativeSse(x, y, m.coef_);
    if (sse < best_sse) {
      best_sse = sse;
      best = std::move(m);
    }
  };
  LayerCostModel m;
  m.shape_ = shape;
  m.work_min_ = *std::min_element(works.begin(), works.end());
  m.work_max_ = *std::max_element(works.begin(), works.end());
  if (shape == CostShape::kRegimes) {
    std::vector<std::vector<double>> x;
    std::vector<double> z;
    std::vector<size_t> rows;
    for (size_t i = 0; i < usable.size(); ++i) {
      x.push_back(RegimeFeatures(*usable[i]));
      z.push_back(std::log(y[i] / works[i]));
      rows.push_back(i);
    }
    m.Grow(x, z, std::move(rows), kTreeDepth);
    return m;
  }
  if (shape == CostShape::kLinear) {
    consider(m);
  } else {
    const double w_median = Median(works);
    for (double alpha : kAlphas) {
      for (double bend : kBends) {
        m.alpha_ = alpha;
        m.k_ = bend / std::pow(w_median, alpha);
        consider(m);
      }
    }
  }
  if (best.coef_.empty()) {
    return Status::Unavailable("layer cost: no non-negative fit of the " +
                               std::string(CostShapeName(shape)) + " shape");
  }
  return best;
}

double LayerCostModel::Predict(const LayerSample& s) const {
  if (shape_ == CostShape::kRegimes) {
    if (tree_.empty()) return 0;
    const std::vector<double> f = RegimeFeatures(s);
    size_t node = 0;
    while (tree_[node].feature >= 0) {
      const Node& n = tree_[node];
      node = static_cast<size_t>(f[static_cast<size_t>(n.feature)] <= n.threshold ? n.left : n.right);
    }
    const double v = LayerWork(s) * std::exp(tree_[node].value);
    return std::isfinite(v) ? v : 0.0;
  }
  const std::vector<double> x = Basis(s);
  double v = 0;
  for (size_t j = 0; j < coef_.size() && j < x.size(); ++j) v += coef_[j] * x[j];
  return std::isfinite(v) ? std::max(v, 0.0) : 0.0;
}

nlohmann::json LayerCostModel::ToJson() const {
  nlohmann::json j = {{"shape", CostShapeName(shape_)}, {"alpha", alpha_},
                      {"k", k_},                        {"coef", coef_},
                      {"work_min", work_min_},          {"work_max", work_max_}};
  if (shape_ == CostShape::kRegimes) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const Node& n : tree_) nodes.push_back({n.feature, n.threshold, n.left, n.right, n.value});
    j["tree"] = nodes;
  }
  return j;
}

Result<LayerCostModel> LayerCostModel::FromJson(const nlohmann::json& j) {
  try {
    LayerCostModel m;
    const std::string shape = j.at("shape").get<std::string>();
    bool known = false;
    for (CostShape s : {CostShape::kSaturating, CostShape::kSaturatingMemory, CostShape::kLinear,
                        CostShape::kRegimes}) {
      if (shape == CostShapeName(s)) {
        m.shape_ = s;
        known = true;
      }
    }
    if (!known) return Status::Corruption("layer cost: unknown shape '" + shape + "'");
    m.alpha_ = j.at("alpha").get<double>();
    m.k_ = j.at("k").get<double>();
    m.coef_ = j.at("coef").get<std::vector<double>>();
    m.work_min_ = j.at("work_min").get<double>();
    m.work_max_ = j.at("work_max").get<double>();
    if (m.shape_ == CostShape::kRegimes) {
      const nlohmann::json& nodes = j.at("tree");
      const int count = static_cast<int>(nodes.size());
      for (const auto& n : nodes) {
        Node node{n.at(0).get<int>(), n.at(1).get<double>(), n.at(2).get<int>(),
                  n.at(3).get<int>(), n.at(4).get<double>()};
        // Children come after their parent: a stored cycle cannot make Predict loop.
        const int self = static_cast<int>(m.tree_.size());
        if (node.feature >= 9 || (node.feature >= 0 && (node.left <= self || node.right <= self ||
                                                        node.left >= count || node.right >= count))) {
          return Status::Corruption("layer cost: malformed regimes tree");
        }
        m.tree_.push_back(node);
      }
      if (m.tree_.empty()) return Status::Corruption("layer cost: empty regimes tree");
      return m;
    }
    if (m.coef_.size() != m.Basis(LayerSample{}).size() || !(m.alpha_ > 0) || !(m.k_ > 0)) {
      return Status::Corruption("layer cost: coefficients do not match the shape");
    }
    for (double c : m.coef_) {
      if (!(c >= 0)) return Status::Corruption("layer cost: a negative coefficient");
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("layer cost: malformed state: ") + e.what());
  }
}

namespace {

// Held-out predictions of a K-fold over distinct keys: (predicted, measured) pairs. Empty when
// a fold cannot be fitted.
std::vector<std::pair<double, double>> HeldOutPairs(const std::vector<const LayerSample*>& samples,
                                                    CostShape shape, Target target,
                                                    size_t folds) {
  std::vector<std::string> keys;
  for (const LayerSample* s : samples) keys.push_back(s->key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  const size_t k = std::min(folds, keys.size());
  if (k < 2) return {};
  std::vector<std::pair<double, double>> out;
  auto fold_of = [&](const LayerSample* s) {
    return static_cast<size_t>(std::lower_bound(keys.begin(), keys.end(), s->key) -
                               keys.begin()) % k;
  };
  for (size_t fold = 0; fold < k; ++fold) {
    std::vector<const LayerSample*> train;
    for (const LayerSample* s : samples) {
      if (fold_of(s) != fold) train.push_back(s);
    }
    auto m = LayerCostModel::Fit(train, shape, target);
    if (!m.ok()) return {};
    for (const LayerSample* s : samples) {
      if (fold_of(s) != fold) continue;
      const double truth = TargetOf(*s, target);
      if (truth > 0) out.emplace_back(m->Predict(*s), truth);
    }
  }
  return out;
}

}  // namespace

double CrossValidateCost(const std::vector<const LayerSample*>& samples, CostShape shape,
                         Target target, size_t folds) {
  const auto pairs = HeldOutPairs(samples, shape, target, folds);
  if (pairs.empty()) return std::numeric_limits<double>::infinity();
  std::vector<double> apes;
  for (const auto& [predicted, truth] : pairs) apes.push_back(std::fabs(predicted - truth) / truth);
  return Median(apes);
}

std::vector<double> CrossValidatedLogErrors(const std::vector<const LayerSample*>& samples,
                                            CostShape shape, Target target, size_t folds) {
  std::vector<double> out;
  for (const auto& [predicted, truth] : HeldOutPairs(samples, shape, target, folds)) {
    // A layer priced at nothing is an unbounded error: it widens, never narrows.
    out.push_back(predicted > 0 ? std::fabs(std::log(predicted / truth))
                                : std::numeric_limits<double>::infinity());
  }
  return out;
}

}  // namespace wattfleet
