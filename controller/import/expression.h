// Per-row arithmetic of import mappings (docs/import.md): numbers, column names, + - * /,
// parentheses and unary minus. Nothing else — no function calls, no assignments — so a
// mapping file can never do more than compute a number from one CSV row.
//
// SQLite could evaluate such expressions, but it also runs any SQL function named in them
// and turns a division by zero into NULL instead of an error; both are wrong for a file
// format, hence this small evaluator.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

class Expression {
 public:
  // Parses `text`. Errors (InvalidArgument) give the 1-based character position in `text`.
  static Result<Expression> Parse(const std::string& text);

  // The column names the expression reads, in order of first appearance.
  const std::vector<std::string>& Columns() const { return columns_; }
  const std::string& Text() const { return text_; }

  // Evaluates with `lookup` giving each column's value: nullopt from it means the cell is
  // missing or not a number, reported as InvalidArgument naming the column. Division by zero
  // and non-finite results are InvalidArgument too.
  using Lookup = std::function<Result<double>(const std::string& column)>;
  Result<double> Evaluate(const Lookup& lookup) const;

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;  // immutable once parsed: copies share it
  std::vector<std::string> columns_;
};

}  // namespace wattfleet
