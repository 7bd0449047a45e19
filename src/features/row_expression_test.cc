// Row expressions: every operator and function against hand-computed values, null propagation,
// type errors with positions, and hostile input (deep nesting, huge literals, unterminated text).
#include "features/row_expression.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "features/point_in_time_join_test_support.h"

namespace falaj::features {
namespace {

using testing::Doubles;
using testing::Ints;
using testing::kNull;
using testing::MakeTable;
using testing::Strings;

constexpr int64_t kMonday5am = 1704085200000000;  // 2024-01-01T05:00:00Z, a Monday

std::shared_ptr<arrow::Table> Rows() {
  arrow::BooleanBuilder flags;
  EXPECT_TRUE(flags.AppendValues(std::vector<bool>{true, false, true, true}).ok());
  EXPECT_TRUE(flags.AppendNull().ok());
  return MakeTable({
      {"a", Ints({1, -2, kNull, 7, 9})},
      {"x", Doubles({1.5, kNull, -0.5, 4.0, 2.5})},
      {"s", Strings({"Ab", kNull, "xyZ", "", "héllo"})},
      {"b", flags.Finish().ValueOrDie()},
      {"ts", Ints({kMonday5am, kMonday5am + 86400000000LL * 6 + 3600000000LL * 18, kNull, 0, -1},
                  arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))},
      {"odd name", Ints({10, 20, 30, 40, 50})},
  });
}

data::TableSchema Schema() {
  using data::ColumnType;
  return {{{"a", ColumnType::kInt64, true, {}},
           {"x", ColumnType::kFloat64, true, {}},
           {"s", ColumnType::kString, true, {}},
           {"b", ColumnType::kBool, true, {}},
           {"ts", ColumnType::kTimestamp, true, {}},
           {"odd name", ColumnType::kInt64, true, {}}}};
}

// Each row's value as text ("null" for a null), after checking the type Check() promised.
std::vector<std::string> Eval(const std::string& text) {
  auto expression = RowExpression::Parse(text);
  EXPECT_TRUE(expression) << text << ": " << expression.error().message;
  if (!expression) return {};
  auto type = expression->Check(Schema());
  EXPECT_TRUE(type) << text << ": " << type.error().message;
  auto table = Rows();
  auto values = expression->Evaluate(*table);
  EXPECT_TRUE(values) << text << ": " << values.error().message;
  if (!values) return {};
  EXPECT_TRUE((*values)->type()->Equals(*data::ArrowType(*type))) << text;
  EXPECT_EQ((*values)->length(), table->num_rows());
  std::vector<std::string> out;
  for (int64_t i = 0; i < (*values)->length(); ++i) {
    auto scalar = (*values)->GetScalar(i).ValueOrDie();
    out.push_back(scalar->is_valid ? scalar->ToString() : "null");
  }
  return out;
}

std::string ErrorOf(const std::string& text) {
  auto expression = RowExpression::Parse(text);
  if (!expression) return expression.error().message;
  auto type = expression->Check(Schema());
  if (!type) return type.error().message;
  auto values = expression->Evaluate(*Rows());
  return values ? "" : values.error().message;
}

using V = std::vector<std::string>;

TEST(RowExpressionTest, Arithmetic) {
  EXPECT_EQ(Eval("a + 1"), (V{"2", "-1", "null", "8", "10"}));
  EXPECT_EQ(Eval("a - x"), (V{"-0.5", "null", "null", "3", "6.5"}));
  EXPECT_EQ(Eval("a * 2 + 1"), (V{"3", "-3", "null", "15", "19"}));
  EXPECT_EQ(Eval("-a"), (V{"-1", "2", "null", "-7", "-9"}));
  EXPECT_EQ(Eval("a / 2"), (V{"0.5", "-1", "null", "3.5", "4.5"}));
  EXPECT_EQ(Eval("a / (a - 1)"),
            (V{"null", "0.6666666666666666", "null", "1.1666666666666667", "1.125"}));
  EXPECT_EQ(Eval("a % 4"), (V{"1", "-2", "null", "3", "1"}));
  EXPECT_EQ(Eval("a % -1"), (V{"0", "0", "null", "0", "0"}));
  EXPECT_EQ(Eval("a % 0"), (V{"null", "null", "null", "null", "null"}));
  EXPECT_EQ(Eval("x % 1"), (V{"0.5", "null", "-0.5", "0", "0.5"}));
  EXPECT_EQ(Eval("1 + 2 * 3 - 4 / 2"), (V{"5", "5", "5", "5", "5"}));
  EXPECT_EQ(Eval("(1 + 2) * 3"), (V{"9", "9", "9", "9", "9"}));
  EXPECT_EQ(Eval("`odd name` + a"), (V{"11", "18", "null", "47", "59"}));
  EXPECT_EQ(Eval("2.5e1 + 0"), (V{"25", "25", "25", "25", "25"}));
}

TEST(RowExpressionTest, ComparisonsAndLogic) {
  EXPECT_EQ(Eval("a > 1"), (V{"false", "false", "null", "true", "true"}));
  EXPECT_EQ(Eval("a >= 1"), (V{"true", "false", "null", "true", "true"}));
  EXPECT_EQ(Eval("a < x"), (V{"true", "null", "null", "false", "false"}));
  EXPECT_EQ(Eval("a <= 7"), (V{"true", "true", "null", "true", "false"}));
  EXPECT_EQ(Eval("a == 7"), (V{"false", "false", "null", "true", "false"}));
  EXPECT_EQ(Eval("a != 7"), (V{"true", "true", "null", "false", "true"}));
  EXPECT_EQ(Eval("s == 'Ab'"), (V{"true", "null", "false", "false", "false"}));
  EXPECT_EQ(Eval("b and a > 0"), (V{"true", "false", "null", "true", "null"}));
  // Three-valued: false and null is false, true or null is true.
  EXPECT_EQ(Eval("a > 100 and b"), (V{"false", "false", "null", "false", "false"}));
  EXPECT_EQ(Eval("b or a > 0"), (V{"true", "false", "true", "true", "true"}));
  EXPECT_EQ(Eval("not b"), (V{"false", "true", "false", "false", "null"}));
  EXPECT_EQ(Eval("NOT b OR false"), (V{"false", "true", "false", "false", "null"}));
  EXPECT_EQ(Eval("ts < ts"), (V{"false", "false", "null", "false", "false"}));
}

TEST(RowExpressionTest, Functions) {
  EXPECT_EQ(Eval("abs(a)"), (V{"1", "2", "null", "7", "9"}));
  EXPECT_EQ(Eval("sqrt(a * a)"), (V{"1", "2", "null", "7", "9"}));
  EXPECT_EQ(Eval("log(exp(x))"), (V{"1.5", "null", "-0.5", "4", "2.5"}));
  EXPECT_EQ(Eval("log1p(0)"), (V{"0", "0", "0", "0", "0"}));
  EXPECT_EQ(Eval("floor(x)"), (V{"1", "null", "-1", "4", "2"}));
  EXPECT_EQ(Eval("ceil(x)"), (V{"2", "null", "-0", "4", "3"}));
  EXPECT_EQ(Eval("round(x)"), (V{"2", "null", "-0", "4", "2"}));  // half to even
  EXPECT_EQ(Eval("floor(a)"), (V{"1", "-2", "null", "7", "9"}));
  EXPECT_EQ(Eval("min(a, 3)"), (V{"1", "-2", "null", "3", "3"}));
  EXPECT_EQ(Eval("max(a, x)"), (V{"1.5", "null", "null", "7", "9"}));
  EXPECT_EQ(Eval("coalesce(a, 0)"), (V{"1", "-2", "0", "7", "9"}));
  EXPECT_EQ(Eval("coalesce(x, a)"), (V{"1.5", "-2", "-0.5", "4", "2.5"}));
  EXPECT_EQ(Eval("if(a > 1, a, x)"), (V{"1.5", "null", "-0.5", "7", "9"}));
  // A null condition takes the else branch, as in SQL.
  EXPECT_EQ(Eval("if(b, 'y', 'n')"), (V{"y", "n", "y", "y", "n"}));
  EXPECT_EQ(Eval("if(b, s, 'none')"), (V{"Ab", "none", "xyZ", "", "none"}));
  EXPECT_EQ(Eval("lower(s)"), (V{"ab", "null", "xyz", "", "héllo"}));
  EXPECT_EQ(Eval("upper(s)"), (V{"AB", "null", "XYZ", "", "HÉLLO"}));
  EXPECT_EQ(Eval("length(s)"), (V{"2", "null", "3", "0", "5"}));
  EXPECT_EQ(Eval("hour(ts)"), (V{"5", "23", "null", "0", "23"}));
  EXPECT_EQ(Eval("day_of_week(ts)"), (V{"0", "6", "null", "3", "2"}));
  EXPECT_EQ(Eval("'it''s'"), (V{"it's", "it's", "it's", "it's", "it's"}));
}

TEST(RowExpressionTest, TypesAreInferred) {
  auto type = [](const std::string& text) {
    return RowExpression::Parse(text)->Check(Schema()).value();
  };
  EXPECT_EQ(type("a + 1"), data::ColumnType::kInt64);
  EXPECT_EQ(type("a + 1.0"), data::ColumnType::kFloat64);
  EXPECT_EQ(type("a / 1"), data::ColumnType::kFloat64);
  EXPECT_EQ(type("a > 1 and b"), data::ColumnType::kBool);
  EXPECT_EQ(type("length(s)"), data::ColumnType::kInt64);
  EXPECT_EQ(type("max(ts, ts)"), data::ColumnType::kTimestamp);
}

TEST(RowExpressionTest, ErrorsNameTheProblemAndPosition) {
  EXPECT_EQ(ErrorOf("log1p(amout)"),
            "expression 'log1p(amout)': unknown column 'amout' at position 7");
  EXPECT_EQ(ErrorOf("a + s"),
            "expression 'a + s': '+' needs numbers, not int64, string at position 3");
  EXPECT_EQ(ErrorOf("b and 1"),
            "expression 'b and 1': 'and' needs bool, not bool, int64 at position 3");
  EXPECT_EQ(ErrorOf("if(a, 1, 2)"),
            "expression 'if(a, 1, 2)': 'if' needs a bool condition, not int64, int64, int64 at "
            "position 1");
  EXPECT_EQ(ErrorOf("s < 1"),
            "expression 's < 1': '<' needs operands of one type, not string, "
            "int64 at position 3");
  EXPECT_EQ(ErrorOf("hour(a)"),
            "expression 'hour(a)': 'hour' needs a timestamp, not int64 at "
            "position 1");
  EXPECT_EQ(ErrorOf("upper(a)"),
            "expression 'upper(a)': 'upper' needs a string, not int64 at "
            "position 1");
  EXPECT_EQ(ErrorOf("sqrt(s)"),
            "expression 'sqrt(s)': 'sqrt' needs a number, not string at "
            "position 1");
  EXPECT_EQ(ErrorOf("frobnicate(a)"),
            "expression 'frobnicate(a)': unknown function 'frobnicate' at position 1");
  EXPECT_EQ(ErrorOf("min(a)"), "expression 'min(a)': min takes 2 arguments, not 1 at position 1");
  EXPECT_EQ(ErrorOf("a +"), "expression 'a +': unexpected end of expression at position 4");
  EXPECT_EQ(ErrorOf("(a + 1"), "expression '(a + 1': missing ')' at position 7");
  EXPECT_EQ(ErrorOf("a 1"), "expression 'a 1': unexpected '1' at position 3");
  EXPECT_EQ(ErrorOf("a $ 1"), "expression 'a $ 1': unexpected '$' at position 3");
  EXPECT_EQ(ErrorOf("and a"), "expression 'and a': 'and' needs an operand before it at position 1");
  EXPECT_EQ(ErrorOf("12abc"), "expression '12abc': unexpected 'a' after a number at position 3");
  EXPECT_EQ(ErrorOf("1.2.3"), "expression '1.2.3': malformed number '1.2.3' at position 1");
  EXPECT_EQ(ErrorOf("``"), "expression '``': empty `quoted name` at position 1");
}

TEST(RowExpressionTest, IntegerOverflowFails) {
  EXPECT_NE(ErrorOf("a * 9223372036854775807").find("overflow"), std::string::npos)
      << ErrorOf("a * 9223372036854775807");
}

TEST(RowExpressionTest, HostileInputIsRefused) {
  EXPECT_EQ(ErrorOf("'abc"), "expression ''abc': unterminated string at position 1");
  EXPECT_EQ(ErrorOf("a + `b"), "expression 'a + `b': unterminated `quoted name` at position 5");
  EXPECT_EQ(ErrorOf("99999999999999999999"),
            "expression '99999999999999999999': number '99999999999999999999' is out of range at "
            "position 1");
  EXPECT_NE(ErrorOf("1e999").find("out of range"), std::string::npos);
  std::string deep = std::string(200, '(') + "a" + std::string(200, ')');
  EXPECT_NE(ErrorOf(deep).find("nesting deeper than 64"), std::string::npos);
  std::string negations(500, '-');
  EXPECT_NE(ErrorOf(negations + "a").find("nesting deeper than 64"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 300; ++i) nots += "not ";
  EXPECT_NE(ErrorOf(nots + "b").find("nesting deeper than 64"), std::string::npos);
  EXPECT_NE(ErrorOf(std::string(5000, '1')).find("longer than 4096"), std::string::npos);
  // Long but shallow is fine: a chain of additions is a loop, not recursion.
  std::string chain = "a";
  for (int i = 0; i < 1000; ++i) chain += " + 1";
  EXPECT_EQ(Eval(chain)[0], "1001");
  const std::string nul(1, '\0');
  EXPECT_EQ(ErrorOf("a" + nul + "b"),
            "expression 'a" + nul + "b': unexpected '" + nul + "' at position 2");
}

}  // namespace
}  // namespace falaj::features
