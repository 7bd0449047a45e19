// Row expressions: the small language of a feature view's `transformations` ("log1p(amount)",
// "amount > 1000 and merchant_category != 7"). Parse() builds an immutable syntax tree with a
// recursive-descent parser; Check() infers the result type from the columns' types; Evaluate()
// computes every row at once with Arrow compute kernels over a table's columns.
//
// The language: column names (identifiers, or `back quoted` for any other name); integer, float,
// 'string' / "string", true and false literals; + - * / % (/ always gives float64; / and % by zero
// give null; % takes the sign of the dividend, as in C and SQL); == != < <= > >=; and, or, not
// (three-valued, as in SQL); parentheses; and the functions abs, sqrt, log (natural), log1p, exp,
// floor, ceil, round (half to even), min(a, b), max(a, b), coalesce(a, b), if(cond, a, b), lower,
// upper, length, hour(ts) and day_of_week(ts) (UTC; Monday is 0). A null operand gives null
// (except in and/or, coalesce and if's branches); if() with a null condition takes the else
// branch, as SQL's CASE does. Integer arithmetic that overflows int64 fails.
// Mixing int64 and float64 promotes to float64; any other mix of types is a type error.
//
// Errors name the expression, the problem and its 1-based character position:
//   expression 'log1p(amout)': unknown column 'amout' at position 7
//
// Thread-safe: a RowExpression is immutable; copies share their tree.
#pragma once

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "data/table_schema.h"

namespace falaj::features {

struct ExprNode;

class RowExpression {
 public:
  // Limits on hostile input: longer text and deeper nesting are INVALID_ARGUMENT.
  static constexpr size_t kMaxLength = 4096;
  static constexpr int kMaxDepth = 64;

  // INVALID_ARGUMENT for a syntax error, an unknown function or a wrong argument count.
  static Result<RowExpression> Parse(std::string_view text);

  // The type of the result when evaluated over columns of `columns`; INVALID_ARGUMENT for an
  // unknown column or operands of the wrong types.
  Result<data::ColumnType> Check(const data::TableSchema& columns) const;

  // One value per row of `table` (whose columns are int32/int64, float64, utf8/large_utf8, bool
  // or timestamp), typed as Check() says (its Arrow type is data::ArrowType of it).
  // INVALID_ARGUMENT for the errors of Check() and for integer overflow.
  Result<std::shared_ptr<arrow::ChunkedArray>> Evaluate(const arrow::Table& table) const;

  const std::string& text() const { return text_; }

 private:
  RowExpression(std::string text, std::shared_ptr<const ExprNode> root)
      : text_(std::move(text)), root_(std::move(root)) {}

  std::string text_;
  std::shared_ptr<const ExprNode> root_;
};

// The syntax tree; internal to row_expression*.cc, declared here so both halves share it.
struct ExprNode {
  enum class Kind { kColumn, kInt, kFloat, kString, kBool, kUnary, kBinary, kCall };
  Kind kind = Kind::kColumn;
  std::string name;  // column, operator ("-", "not", "+", "and", …) or function name
  int64_t int_value = 0;
  double float_value = 0;
  std::string string_value;
  bool bool_value = false;
  std::vector<ExprNode> args;
  size_t position = 1;  // 1-based, in the expression's text
};

// "expression '<text>': <problem> at position <p>", as INVALID_ARGUMENT.
std::unexpected<Error> ExpressionError(std::string_view text, size_t position,
                                       std::string_view problem);

}  // namespace falaj::features
