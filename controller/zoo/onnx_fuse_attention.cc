// Self-attention as exporters write it, mapped onto one MultiheadAttention layer (whose MACs
// and parameters the layer model knows): scores = MatMul(q, k^T) (scaled, maybe masked),
// Softmax, MatMul(weights, v), then an output projection; q, k and v come from projections of
// one tensor X (one [3E, E] weight, or three [E, E] ones) through head reshapes, transposes
// and slices. The run is every node on a data path from X to the projection's output Y, and
// is taken only when nothing outside it reads its inner values.
#include <algorithm>
#include <optional>
#include <set>

#include "onnx_mapper.h"

namespace wattfleet::onnx_internal {
namespace {

double D(int64_t v) { return static_cast<double>(v); }

// Between the projections and the score product: head reshapes, transposes, q's scaling,
// the slices of a packed projection and the bias additions.
const std::set<std::string>& Plumbing() {
  static const std::set<std::string> k = {"Reshape", "Transpose", "Div",      "Mul",
                                          "Slice",   "Split",     "Gather",   "Squeeze",
                                          "Unsqueeze", "Identity", "Cast",    "Add"};
  return k;
}

}  // namespace

bool Fuser::IsProjection(const OnnxNode* p) const {
  return p && ((p->op == "MatMul" || p->op == "Gemm") && p->inputs.size() >= 2 &&
               m_.IsConst(p->inputs[1]) && m_.Val(p->inputs[1]).shape.size() == 2);
}

// The nodes on a data path from X to Y; none when the path reaches the model's input
// without passing X, when a node outside reads an inner value (shape arithmetic aside), or
// when a node of it was already taken.
std::optional<std::set<size_t>> Fuser::SealedRun(int x, int y) const {
  std::set<size_t> run;
  std::vector<int> stack = {y};
  while (!stack.empty()) {
    const int v = stack.back();
    stack.pop_back();
    if (v == x || !m_.Flows(v)) continue;
    const int p = m_.Val(v).producer;
    if (p < 0 || !run.insert(static_cast<size_t>(p)).second) {
      if (p < 0) return std::nullopt;  // reached the model's input without passing X
      continue;
    }
    for (int in : Node(static_cast<size_t>(p)).inputs) stack.push_back(in);
  }
  for (size_t n : run) {
    if (m_.done_[n]) return std::nullopt;
    for (int o : Node(n).outputs) {
      if (o == y) continue;
      for (int u : m_.users_[static_cast<size_t>(o)]) {
        const OnnxNode& user = Node(static_cast<size_t>(u));
        const bool reads_data = !user.outputs.empty() && m_.Flows(user.outputs[0]);
        if (run.count(static_cast<size_t>(u)) == 0 && reads_data) return std::nullopt;
      }
    }
  }
  return run;
}

// E of a self-attention whose projections are in `run`: the output one's weight [E, E], the
// others 3E rows of E in all (as [out, in]); none where they are not. `bias`: whether they add one.
std::optional<int64_t> Fuser::EmbedDimOf(const std::set<size_t>& run,
                                         const OnnxNode& out_projection, bool* bias) const {
  std::vector<Shape> weights;
  for (size_t n : run) {
    const OnnxNode& p = Node(n);
    if (!IsProjection(&p)) continue;
    Shape wt = m_.Val(p.inputs[1]).shape;
    if (p.op == "MatMul" || m_.Attr(p, "transB").value_or(0) == 0) {
      std::reverse(wt.begin(), wt.end());
    }
    if (&p != &out_projection) weights.push_back(wt);
    if (p.op == "Gemm" && p.inputs.size() > 2 && p.inputs[2] >= 0) *bias = true;
    if (p.op == "MatMul") {
      const OnnxNode* add = m_.SoleUser(p.outputs[0]);
      *bias |= add && add->op == "Add" && run.count(IndexOf(add)) > 0;
    }
  }
  Shape out_w = m_.Val(out_projection.inputs[1]).shape;
  const int64_t e = out_w[0];
  if (out_w[1] != e || weights.empty()) return std::nullopt;
  int64_t rows = 0;
  for (const Shape& wt : weights) {
    if (wt[1] != e) return std::nullopt;
    rows += wt[0];
  }
  if (rows != 3 * e) return std::nullopt;
  return e;
}

// An additive mask of the [L, L] scores, a constant [L, L] (or [1, L, L]): taken for the
// causal one, as the TorchScript import does (what it costs is the same whatever it masks).
bool Fuser::CausalMaskIn(const std::set<size_t>& run, int64_t l) const {
  bool masked = false;
  for (size_t n : run) {
    for (int v : Node(n).inputs) {
      if (!m_.IsConst(v)) continue;
      const Shape& m = m_.Val(v).shape;
      if (m.size() < 2 || m.back() != l || m[m.size() - 2] != l || l < 2) continue;
      masked |= std::all_of(m.begin(), m.end() - 2, [](int64_t d) { return d == 1; });
    }
  }
  return masked;
}

bool Fuser::Attention(size_t softmax) {
  const OnnxNode& s = Node(softmax);
  if (!m_.Flows(s.inputs[0])) return false;
  // Scores: MatMul(q, k^T), through the scaling and an additive mask.
  const OnnxNode* m1 = nullptr;
  Up(s.inputs[0], {"Add", "Div", "Mul", "Where", "Cast", "Identity"}, &m1);
  if (!m1 || m1->op != "MatMul" || !m_.Flows(m1->inputs[0]) || !m_.Flows(m1->inputs[1])) {
    return false;
  }
  // Weights times values.
  int w = s.outputs[0];
  const OnnxNode* m2 = m_.SoleUser(w);
  while (m2 && (m2->op == "Dropout" || m2->op == "Identity" || m2->op == "Cast")) {
    w = m2->outputs[0];
    m2 = m_.SoleUser(w);
  }
  if (!m2 || m2->op != "MatMul" || m2->inputs[0] != w || !m_.Flows(m2->inputs[1])) return false;

  // q, k and v back to their projections, and those back to the one tensor they read.
  int x = -1;
  for (int v : {m1->inputs[0], m1->inputs[1], m2->inputs[1]}) {
    const OnnxNode* p = nullptr;
    Up(v, Plumbing(), &p);
    if (!IsProjection(p)) return false;
    const int top = Up(p->inputs[0], {"Transpose", "Reshape", "Identity"});
    if (top < 0 || (x >= 0 && top != x)) return false;  // not self-attention
    x = top;
  }
  // Forward to the output projection, its bias, and the reshapes back to X's layout.
  int y = m2->outputs[0];
  const OnnxNode* next = m_.SoleUser(y);
  while (next && (next->op == "Transpose" || next->op == "Reshape" || next->op == "Identity")) {
    y = next->outputs[0];
    next = m_.SoleUser(y);
  }
  if (!IsProjection(next)) return false;
  const OnnxNode* out_projection = next;
  y = next->outputs[0];
  next = m_.SoleUser(y);
  if (out_projection->op == "MatMul" && next && next->op == "Add" &&
      m_.IsConst(next->inputs[0] == y ? next->inputs[1] : next->inputs[0])) {
    y = next->outputs[0];
    next = m_.SoleUser(y);
  }
  while (next && (next->op == "Transpose" || next->op == "Reshape")) {
    y = next->outputs[0];
    next = m_.SoleUser(y);
  }
  const OnnxValue& xv = m_.Val(x);
  const OnnxValue& yv = m_.Val(y);
  if (!xv.ranked || !yv.ranked || xv.shape != yv.shape) return false;

  const std::optional<std::set<size_t>> run = SealedRun(x, y);
  if (!run) return false;

  bool bias = false;
  const std::optional<int64_t> e = EmbedDimOf(*run, *out_projection, &bias);
  if (!e) return false;

  // Heads: the score tensor holds batch x heads x L x L elements.
  const OnnxValue& scores = m_.Val(m1->outputs[0]);
  if (!scores.ranked || scores.shape.size() < 2) return false;
  int64_t elements = 1;
  for (int64_t d : scores.shape) elements *= d;
  const int64_t l = scores.shape.back();
  if (elements <= 0 || l <= 0 || m_.batch_ <= 0 || elements % (m_.batch_ * l * l) != 0) {
    return false;
  }
  const int64_t heads = elements / (m_.batch_ * l * l);
  if (heads < 1 || *e % heads != 0) return false;

  const bool masked = CausalMaskIn(*run, l);
  Record(*run, Fused{T::kMultiheadAttention,
                    {{"embed_dim", D(*e)},
                     {"num_heads", D(heads)},
                     {"bias", bias ? 1.0 : 0.0},
                     {"causal", masked ? 1.0 : 0.0}},
                    {x}, y, "attention"});
  return true;
}

}  // namespace wattfleet::onnx_internal
