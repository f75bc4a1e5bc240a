// A least-squares regression tree: axis-aligned splits that each remove at least a share of
// their node's squared error, down to a depth and a least number of samples per leaf. The
// layer cost curves use one over a layer's features for the regimes of a framework's kernels.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct TreeOptions {
  int depth = 6;
  size_t min_leaf = 3;    // samples per leaf at least
  double min_gain = 0.02;  // a split must remove this share of its node's squared error
};

class RegressionTree {
 public:
  // Fits z ~ x (one row of features per sample, every row as long). Empty input: an empty
  // tree, which predicts nothing.
  static RegressionTree Fit(const std::vector<std::vector<double>>& x,
                            const std::vector<double>& z, const TreeOptions& options);

  bool empty() const { return nodes_.empty(); }
  // The leaf value `features` falls in; 0 for an empty tree.
  double Predict(const std::vector<double>& features) const;

  // [[feature, threshold, left, right, value], ...], the root first.
  nlohmann::json ToJson() const;
  // Corruption for a malformed list: a feature index of `features` or more, a child before
  // its parent (a stored cycle could not make Predict loop), or no node at all.
  static Result<RegressionTree> FromJson(const nlohmann::json& nodes, size_t features);

 private:
  // A split (feature >= 0; x[feature] <= threshold goes left) or a leaf holding its value.
  struct Node {
    int feature = -1;
    double threshold = 0;
    int left = -1, right = -1;  // indices into nodes_
    double value = 0;
  };
  int Grow(const std::vector<std::vector<double>>& x, const std::vector<double>& z,
           std::vector<size_t> rows, int depth, const TreeOptions& options);

  std::vector<Node> nodes_;
};

}  // namespace wattfleet
