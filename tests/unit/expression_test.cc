// The mapping expression evaluator: grammar, precedence, errors.
#include <cmath>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "expression.h"
#include "wattfleet/common/sha256.h"

namespace wattfleet {
namespace {

Result<double> Eval(const std::string& text, const std::map<std::string, double>& cols = {}) {
  auto e = Expression::Parse(text);
  if (!e.ok()) return e.status();
  return e->Evaluate([&](const std::string& c) -> Result<double> {
    auto it = cols.find(c);
    if (it == cols.end()) return Status::InvalidArgument("no column " + c);
    return it->second;
  });
}

double Value(const std::string& text, const std::map<std::string, double>& cols = {}) {
  auto v = Eval(text, cols);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? *v : std::nan("");
}

TEST(ExpressionTest, PrecedenceAndAssociativity) {
  EXPECT_DOUBLE_EQ(Value("1 + 2 * 3"), 7);
  EXPECT_DOUBLE_EQ(Value("(1 + 2) * 3"), 9);
  EXPECT_DOUBLE_EQ(Value("8 / 4 / 2"), 1);  // left-associative
  EXPECT_DOUBLE_EQ(Value("10 - 4 - 3"), 3);
  EXPECT_DOUBLE_EQ(Value("-2 * 3"), -6);
  EXPECT_DOUBLE_EQ(Value("2 * -3"), -6);
  EXPECT_DOUBLE_EQ(Value("--4"), 4);
  EXPECT_DOUBLE_EQ(Value("-(1 + 2) * 2"), -6);
  EXPECT_DOUBLE_EQ(Value("1.5e3 + .5 + 2E-1"), 1500.7);
}

TEST(ExpressionTest, ColumnsPlainAndBackquoted) {
  const std::map<std::string, double> cols = {
      {"energy_kWh", 2.0}, {"num_repeats", 4.0}, {"FLOPs_QKV Projections", 0.5}};
  EXPECT_DOUBLE_EQ(Value("energy_kWh * 3.6e6 / num_repeats", cols), 1.8e6);
  EXPECT_DOUBLE_EQ(Value("`FLOPs_QKV Projections` * 1e12", cols), 5e11);
  auto e = Expression::Parse("a * b + a / `c d`");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->Columns(), (std::vector<std::string>{"a", "b", "c d"}));
}

TEST(ExpressionTest, SyntaxErrorsNamePosition) {
  for (const char* bad : {"", "1 +", "(1 + 2", "1 2", "2 ** 3", "`open", "1e", "exp(1)", "a $ b"}) {
    auto e = Expression::Parse(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.status().message().find("character"), std::string::npos) << e.status().message();
  }
  auto call = Expression::Parse("log(x)");
  ASSERT_FALSE(call.ok());
  EXPECT_NE(call.status().message().find("function calls"), std::string::npos);
  // Deep nesting is refused instead of overflowing the stack.
  EXPECT_FALSE(Expression::Parse(std::string(100000, '-') + "1").ok());
}

TEST(ExpressionTest, EvaluationErrors) {
  auto div = Eval("x / (y - 1)", {{"x", 1}, {"y", 1}});
  ASSERT_FALSE(div.ok());
  EXPECT_NE(div.status().message().find("division by zero"), std::string::npos);
  auto missing = Eval("x + z", {{"x", 1}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("z"), std::string::npos);
  EXPECT_FALSE(Eval("1e308 * 1e308").ok());  // not finite
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Two blocks of padding (56 bytes).
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

}  // namespace
}  // namespace wattfleet
