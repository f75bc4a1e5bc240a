// Layer cost curves: non-negative combinations of monotone bases (layer_cost.h).
#include "wattfleet/estimate/layer_cost.h"
#include "wattfleet/numeric/least_squares.h"
#include "wattfleet/numeric/regression_tree.h"


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
constexpr TreeOptions kTree{/*depth=*/6, /*min_leaf=*/3, /*min_gain=*/0.02};

}  // namespace

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
      // A lookup is a gather, but its training backward scatters into the whole table (its
      // gradient is vocabulary x width), however few tokens it reads: nothing else prices
      // like it (PricedByOwnKinOnly).
      {"Embedding", "gather"},
      {"Flatten", "view"}, {"SelectToken", "view"},
      // A training step's parts: a loss never measured is priced by the losses that were, an
      // optimiser by the updates that were, per unit of their work. Neither prices a layer:
      // a loss over 10 logits costs its call, hundreds of ns per logit, and an update's
      // element is a parameter (PricedByOwnKinOnly).
      {"CrossEntropyLoss", "loss"}, {"MSELoss", "loss"},
      {"SGDStep", "update"}, {"SGDMomentumStep", "update"}, {"AdamStep", "update"},
      {"AdamWStep", "update"}};
  auto it = kKin.find(type);
  return it == kKin.end() ? std::string_view() : it->second;
}

bool PricedByOwnKinOnly(std::string_view type) {
  const std::string_view kin = CostKin(type);
  return kin == "loss" || kin == "update" || kin == "gather";
}

std::string CostGroupType(const std::string& group) { return group.substr(0, group.find('/')); }

std::vector<double> LayerCostModel::Basis(const LayerSample& s) const {
  const double w = LayerWork(s);
  // The constant is a call's own cost, paid once per call of the layer's kernels.
  const double calls = std::max(1.0, s.calls);
  switch (shape_) {
    case CostShape::kSaturating: return {calls, SaturatedWork(w, alpha_, k_)};
    case CostShape::kSaturatingMemory:
      return {calls, SaturatedWork(w, alpha_, k_), LayerMemory(s)};
    case CostShape::kLinear: return {calls, w, LayerMemory(s)};
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
    for (size_t i = 0; i < usable.size(); ++i) {
      x.push_back(RegimeFeatures(*usable[i]));
      z.push_back(std::log(y[i] / works[i]));
    }
    m.tree_ = RegressionTree::Fit(x, z, kTree);
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
    const double v = LayerWork(s) * std::exp(tree_.Predict(RegimeFeatures(s)));
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
    j["tree"] = tree_.ToJson();
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
      auto tree = RegressionTree::FromJson(j.at("tree"), RegimeFeatures(LayerSample{}).size());
      if (!tree.ok()) return Status::Corruption("layer cost: " + tree.status().message());
      m.tree_ = std::move(*tree);
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
