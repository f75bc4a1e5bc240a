// Recursive-descent parser and tree evaluator for mapping expressions.
//
// Grammar (whitespace between tokens is ignored):
//
//   expr    := term   (('+' | '-') term)*
//   term    := unary  (('*' | '/') unary)*
//   unary   := '-' unary | '+' unary | primary
//   primary := NUMBER | COLUMN | '(' expr ')'
//   NUMBER  := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]   (also ".5")
//   COLUMN  := [A-Za-z_][A-Za-z0-9_.]*  |  '`' any characters but '`' '`'
//
// Backquotes name columns whose header has spaces or symbols (`FLOPs_QKV Projections`).
// Operators are left-associative; unary minus binds tighter than * and /.
#include "expression.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <utility>

namespace wattfleet {

struct Expression::Node {
  enum class Kind { kNumber, kColumn, kNeg, kAdd, kSub, kMul, kDiv } kind;
  double number = 0;
  std::string column;
  std::shared_ptr<const Node> lhs, rhs;
};

namespace {

using Node = Expression::Node;
using NodePtr = std::shared_ptr<const Node>;

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Result<NodePtr> ParseAll(std::vector<std::string>* columns) {
    columns_ = columns;
    WF_ASSIGN_OR_RETURN(NodePtr root, Expr());
    SkipSpace();
    if (pos_ < s_.size()) return Err("unexpected '" + std::string(1, s_[pos_]) + "'");
    return root;
  }

 private:
  Status Err(const std::string& what) const {
    return Status::InvalidArgument("expression '" + s_ + "', character " +
                                   std::to_string(pos_ + 1) + ": " + what);
  }
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Accept(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  static NodePtr Binary(Node::Kind kind, NodePtr lhs, NodePtr rhs) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->lhs = std::move(lhs);
    n->rhs = std::move(rhs);
    return n;
  }

  // Left-associative binary operators of one precedence: operands by `operand`, each
  // operator character in `ops` making its node.
  Result<NodePtr> LeftToRight(Result<NodePtr> (Parser::*operand)(),
                              std::initializer_list<std::pair<char, Node::Kind>> ops) {
    WF_ASSIGN_OR_RETURN(NodePtr lhs, (this->*operand)());
    for (;;) {
      const auto op = std::find_if(ops.begin(), ops.end(),
                                   [this](const auto& o) { return Accept(o.first); });
      if (op == ops.end()) return lhs;
      WF_ASSIGN_OR_RETURN(NodePtr rhs, (this->*operand)());
      lhs = Binary(op->second, lhs, rhs);
    }
  }
  Result<NodePtr> Expr() {
    return LeftToRight(&Parser::Term, {{'+', Node::Kind::kAdd}, {'-', Node::Kind::kSub}});
  }
  Result<NodePtr> Term() {
    return LeftToRight(&Parser::Unary, {{'*', Node::Kind::kMul}, {'/', Node::Kind::kDiv}});
  }

  Result<NodePtr> Unary() {
    if (++depth_ > kMaxDepth) return Err("nested too deeply");
    Result<NodePtr> out = UnaryInner();
    --depth_;
    return out;
  }
  Result<NodePtr> UnaryInner() {
    if (Accept('-')) {
      WF_ASSIGN_OR_RETURN(NodePtr operand, Unary());
      auto n = std::make_shared<Node>();
      n->kind = Node::Kind::kNeg;
      n->lhs = std::move(operand);
      return NodePtr(n);
    }
    if (Accept('+')) return Unary();
    return Primary();
  }

  Result<NodePtr> Primary() {
    SkipSpace();
    if (pos_ >= s_.size()) return Err("expected a number, a column or '(' at the end");
    const char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      WF_ASSIGN_OR_RETURN(NodePtr inner, Expr());
      if (!Accept(')')) return Err("expected ')'");
      return inner;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return Number();
    if (c == '`') {
      const size_t close = s_.find('`', pos_ + 1);
      if (close == std::string::npos) return Err("unterminated `column`");
      if (close == pos_ + 1) return Err("empty `` column name");
      std::string name = s_.substr(pos_ + 1, close - pos_ - 1);
      pos_ = close + 1;
      return Column(std::move(name));
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                  s_[pos_] == '_' || s_[pos_] == '.')) {
        ++pos_;
      }
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == '(') {
        return Err("function calls are not supported ('" + s_.substr(start, pos_ - start) +
                   "(...)')");
      }
      std::string name = s_.substr(start, pos_ - start);
      while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back())))
        name.pop_back();
      return Column(std::move(name));
    }
    return Err("unexpected '" + std::string(1, c) + "'");
  }

  Result<NodePtr> Number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      return pos_ > from;
    };
    bool any = digits();
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      any = digits() || any;
    }
    if (!any) {
      pos_ = start;
      return Err("malformed number");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return Err("malformed exponent");
    }
    auto n = std::make_shared<Node>();
    n->kind = Node::Kind::kNumber;
    n->number = std::strtod(s_.substr(start, pos_ - start).c_str(), nullptr);
    if (!std::isfinite(n->number)) return Err("number out of range");
    return NodePtr(n);
  }

  Result<NodePtr> Column(std::string name) {
    bool seen = false;
    for (const std::string& c : *columns_) seen = seen || c == name;
    if (!seen) columns_->push_back(name);
    auto n = std::make_shared<Node>();
    n->kind = Node::Kind::kColumn;
    n->column = std::move(name);
    return NodePtr(n);
  }

  // Bounds the recursion on inputs like "------...1" or "((((...".
  static constexpr int kMaxDepth = 200;
  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::vector<std::string>* columns_ = nullptr;
};

Result<double> Eval(const Node& n, const Expression::Lookup& lookup) {
  using K = Node::Kind;
  switch (n.kind) {
    case K::kNumber: return n.number;
    case K::kColumn: return lookup(n.column);
    case K::kNeg: {
      WF_ASSIGN_OR_RETURN(const double v, Eval(*n.lhs, lookup));
      return -v;
    }
    default: break;
  }
  WF_ASSIGN_OR_RETURN(const double a, Eval(*n.lhs, lookup));
  WF_ASSIGN_OR_RETURN(const double b, Eval(*n.rhs, lookup));
  switch (n.kind) {
    case K::kAdd: return a + b;
    case K::kSub: return a - b;
    case K::kMul: return a * b;
    case K::kDiv:
      if (b == 0) return Status::InvalidArgument("division by zero");
      return a / b;
    default: return Status::Internal("expression: unknown node");
  }
}

}  // namespace

Result<Expression> Expression::Parse(const std::string& text) {
  Expression e;
  e.text_ = text;
  Parser p(e.text_);
  WF_ASSIGN_OR_RETURN(e.root_, p.ParseAll(&e.columns_));
  return e;
}

Result<double> Expression::Evaluate(const Lookup& lookup) const {
  if (root_ == nullptr) return Status::Internal("evaluating an unparsed expression");
  WF_ASSIGN_OR_RETURN(const double v, Eval(*root_, lookup));
  if (!std::isfinite(v)) {
    return Status::InvalidArgument("'" + text_ + "' is not a finite number");
  }
  return v;
}

}  // namespace wattfleet
