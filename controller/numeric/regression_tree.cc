#include "wattfleet/numeric/regression_tree.h"

#include <algorithm>
#include <utility>

namespace wattfleet {

RegressionTree RegressionTree::Fit(const std::vector<std::vector<double>>& x,
                                   const std::vector<double>& z, const TreeOptions& options) {
  RegressionTree tree;
  if (x.empty() || x.size() != z.size()) return tree;
  std::vector<size_t> rows(x.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  tree.Grow(x, z, std::move(rows), options.depth, options);
  return tree;
}

int RegressionTree::Grow(const std::vector<std::vector<double>>& x, const std::vector<double>& z,
                         std::vector<size_t> rows, int depth, const TreeOptions& options) {
  double sum = 0, sum2 = 0;
  for (size_t r : rows) {
    sum += z[r];
    sum2 += z[r] * z[r];
  }
  const double n = static_cast<double>(rows.size());
  const double sse = sum2 - sum * sum / n;
  const int index = static_cast<int>(nodes_.size());
  nodes_.push_back(Node{-1, 0, -1, -1, sum / n});
  const size_t leaf = options.min_leaf;
  if (depth == 0 || rows.size() < 2 * leaf) return index;
  double best_sse = sse * (1 - options.min_gain);
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
      if (nl < leaf || nr < leaf) continue;
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
  const int l = Grow(x, z, std::move(lo), depth - 1, options);
  const int h = Grow(x, z, std::move(hi), depth - 1, options);
  Node& node = nodes_[static_cast<size_t>(index)];
  node.feature = best_feature;
  node.threshold = best_threshold;
  node.left = l;
  node.right = h;
  return index;
}

double RegressionTree::Predict(const std::vector<double>& features) const {
  if (nodes_.empty()) return 0;
  size_t node = 0;
  while (nodes_[node].feature >= 0) {
    const Node& n = nodes_[node];
    node = static_cast<size_t>(features[static_cast<size_t>(n.feature)] <= n.threshold ? n.left
                                                                                        : n.right);
  }
  return nodes_[node].value;
}

nlohmann::json RegressionTree::ToJson() const {
  nlohmann::json nodes = nlohmann::json::array();
  for (const Node& n : nodes_) nodes.push_back({n.feature, n.threshold, n.left, n.right, n.value});
  return nodes;
}

Result<RegressionTree> RegressionTree::FromJson(const nlohmann::json& nodes, size_t features) {
  try {
    RegressionTree tree;
    const int count = static_cast<int>(nodes.size());
    for (const auto& n : nodes) {
      Node node{n.at(0).get<int>(), n.at(1).get<double>(), n.at(2).get<int>(),
                n.at(3).get<int>(), n.at(4).get<double>()};
      const int self = static_cast<int>(tree.nodes_.size());
      if (node.feature >= static_cast<int>(features) ||
          (node.feature >= 0 && (node.left <= self || node.right <= self ||
                                 node.left >= count || node.right >= count))) {
        return Status::Corruption("malformed regression tree");
      }
      tree.nodes_.push_back(node);
    }
    if (tree.nodes_.empty()) return Status::Corruption("empty regression tree");
    return tree;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("malformed regression tree: ") + e.what());
  }
}

}  // namespace wattfleet
