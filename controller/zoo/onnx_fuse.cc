// Runs of ONNX nodes that are one PyTorch module, found before the walk and mapped onto that
// module's layer: LayerNorm as opsets before 17 spell it out, GELU (x * 0.5 * (1 + erf(x /
// sqrt 2))), SiLU (x * sigmoid(x)) and self-attention as exporters write it: projections,
// head reshapes, MatMul, Softmax, MatMul, an output projection. A run is taken only when its
// inner values are read by nothing outside it, so that no layer is lost to a fusion.
#include <algorithm>
#include <cmath>

#include "onnx_mapper.h"

namespace wattfleet::onnx_internal {
namespace {

bool Near(std::optional<double> v, double want) {
  return v && std::abs(*v - want) <= 1e-3 * std::max(1.0, std::abs(want));
}

}  // namespace

void Fuser::Run() {
  const auto& nodes = m_.g_.nodes;
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (m_.done_[n]) continue;
    const std::string& op = nodes[n].op;
    if (op == "Softmax") Attention(n);
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (m_.done_[n]) continue;
    const std::string& op = nodes[n].op;
    if (op == "ReduceMean") LayerNorm(n);
    if (op == "Erf") Gelu(n);
    if (op == "Sigmoid") SiLU(n);
  }
}

void Fuser::Record(const std::set<size_t>& nodes, Fused fused) {
  for (size_t n : nodes) m_.done_[n] = true;
  m_.fused_[*nodes.rbegin()] = std::move(fused);
}

int Fuser::DataOperand(const OnnxNode& node) const {
  int found = -1;
  for (int v : node.inputs) {
    if (!m_.Flows(v)) continue;
    if (found >= 0 && v != found) return -1;
    found = v;
  }
  return found;
}

int Fuser::Up(int v, const std::set<std::string>& ops, const OnnxNode** stop) const {
  while (v >= 0) {
    const OnnxNode* p = m_.Producer(v);
    if (!p || ops.count(p->op) == 0) {
      if (stop) *stop = p;
      return v;
    }
    v = DataOperand(*p);
  }
  return -1;
}

bool Fuser::LayerNorm(size_t first) {
  // mean = ReduceMean(x); d = x - mean; var = ReduceMean(d ^ 2); y = d / sqrt(var + eps),
  // then * gamma + beta when affine.
  auto last_axis = [&](const OnnxNode& r) {
    const auto axes = m_.Attrs(r, "axes");
    return axes.size() == 1 && axes[0] == -1 && m_.Attr(r, "keepdims").value_or(1) == 1;
  };
  const OnnxNode& r1 = Node(first);
  const int x = r1.inputs[0];
  if (!m_.Flows(x) || !last_axis(r1)) return false;
  int at = -1;
  std::set<size_t> run = {first};
  auto next = [&](int v, const char* op) -> const OnnxNode* {
    const OnnxNode* u = m_.SoleUser(v, &at);
    if (!u || u->op != op || m_.done_[static_cast<size_t>(at)]) return nullptr;
    run.insert(static_cast<size_t>(at));
    return u;
  };
  const OnnxNode* sub = next(r1.outputs[0], "Sub");
  if (!sub || sub->inputs[0] != x) return false;
  const int d = sub->outputs[0];
  const auto& d_users = m_.users_[static_cast<size_t>(d)];
  if (d_users.size() != 2) return false;
  const OnnxNode* pow = nullptr;
  const OnnxNode* div = nullptr;
  for (int u : d_users) {
    const OnnxNode& node = Node(static_cast<size_t>(u));
    if (node.op == "Pow" && Near(m_.Scalar(node.inputs[1]), 2)) pow = &node;
    if (node.op == "Div" && node.inputs[0] == d) div = &node;
    run.insert(static_cast<size_t>(u));
  }
  if (!pow || !div) return false;
  const OnnxNode* r2 = next(pow->outputs[0], "ReduceMean");
  if (!r2 || !last_axis(*r2)) return false;
  const OnnxNode* eps = next(r2->outputs[0], "Add");
  if (!eps || !m_.Scalar(eps->inputs[0] == r2->outputs[0] ? eps->inputs[1] : eps->inputs[0])) {
    return false;
  }
  const OnnxNode* sqrt = next(eps->outputs[0], "Sqrt");
  if (!sqrt || m_.SoleUser(sqrt->outputs[0]) != div) return false;
  // gamma and beta: a product and a sum with constants, when affine.
  int out = div->outputs[0];
  bool affine = false;
  auto constant_step = [&](int v, const char* op) -> const OnnxNode* {
    int i = -1;
    const OnnxNode* u = m_.SoleUser(v, &i);
    if (!u || u->op != op || m_.done_[static_cast<size_t>(i)] ||
        !m_.IsConst(u->inputs[0] == v ? u->inputs[1] : u->inputs[0])) {
      return nullptr;
    }
    run.insert(static_cast<size_t>(i));
    return u;
  };
  if (const OnnxNode* mul = constant_step(out, "Mul")) {
    affine = true;
    out = mul->outputs[0];
    if (const OnnxNode* add = constant_step(out, "Add")) out = add->outputs[0];
  }
  Record(run, Fused{T::kLayerNorm, {{"elementwise_affine", affine ? 1.0 : 0.0}}, {x}, out,
                    "LayerNorm (spelled out)"});
  return true;
}

bool Fuser::Gelu(size_t erf) {
  // x * 0.5 * (1 + erf(x / sqrt(2))), in either order of the two products.
  const OnnxNode& e = Node(erf);
  const OnnxNode* scale = m_.Producer(e.inputs[0]);
  if (!scale || m_.SoleUser(e.inputs[0]) != &e) return false;
  const int x = scale->inputs[0];
  const bool divides = scale->op == "Div" && Near(m_.Scalar(scale->inputs[1]), std::sqrt(2.0));
  const bool multiplies =
      scale->op == "Mul" && Near(m_.Scalar(scale->inputs[1]), 1 / std::sqrt(2.0));
  if ((!divides && !multiplies) || !m_.Flows(x)) return false;
  std::set<size_t> run = {IndexOf(scale), erf};
  int at = -1;
  const OnnxNode* one = m_.SoleUser(e.outputs[0], &at);
  if (!one || one->op != "Add" || !Near(m_.Scalar(one->inputs[0] == e.outputs[0]
                                                      ? one->inputs[1] : one->inputs[0]), 1)) {
    return false;
  }
  run.insert(static_cast<size_t>(at));
  const OnnxNode* product = m_.SoleUser(one->outputs[0], &at);
  if (!product || product->op != "Mul") return false;
  run.insert(static_cast<size_t>(at));
  const int other = product->inputs[0] == one->outputs[0] ? product->inputs[1] : product->inputs[0];
  int out = -1;
  if (other == x) {  // (x * (1 + erf)) * 0.5
    const OnnxNode* half = m_.SoleUser(product->outputs[0], &at);
    if (!half || half->op != "Mul" || !Near(m_.Scalar(half->inputs[1]), 0.5)) return false;
    run.insert(static_cast<size_t>(at));
    out = half->outputs[0];
  } else {  // (x * 0.5) * (1 + erf)
    const OnnxNode* half = m_.Producer(other);
    if (!half || half->op != "Mul" || half->inputs[0] != x ||
        !Near(m_.Scalar(half->inputs[1]), 0.5) || m_.SoleUser(other) != product) {
      return false;
    }
    run.insert(IndexOf(half));
    out = product->outputs[0];
  }
  for (size_t n : run) {
    if (m_.done_[n]) return false;
  }
  Record(run, Fused{T::kGELU, {}, {x}, out, "GELU (spelled out)"});
  return true;
}

bool Fuser::SiLU(size_t sigmoid) {
  const OnnxNode& s = Node(sigmoid);
  const int x = s.inputs[0];
  int at = -1;
  const OnnxNode* mul = m_.SoleUser(s.outputs[0], &at);
  if (!m_.Flows(x) || !mul || mul->op != "Mul" || m_.done_[static_cast<size_t>(at)]) return false;
  const int other = mul->inputs[0] == s.outputs[0] ? mul->inputs[1] : mul->inputs[0];
  if (other != x) return false;  // a gate (squeeze-and-excitation) multiplies something else
  Record({sigmoid, static_cast<size_t>(at)}, Fused{T::kSiLU, {}, {x}, mul->outputs[0], "SiLU"});
  return true;
}

}  // namespace wattfleet::onnx_internal
