// The typing and evaluation half of row_expression.h: Check() walks the tree with column types;
// Evaluate() walks it again calling Arrow compute kernels on whole columns.
#include "features/row_expression.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <set>

#include "data/arrow_status.h"

namespace falaj::features {
namespace {

using data::ColumnType;

bool Numeric(ColumnType type) { return type == ColumnType::kInt64 || type == ColumnType::kFloat64; }

// int64 with int64 stays int64; any other numeric pair is float64.
ColumnType Promote(ColumnType a, ColumnType b) {
  return a == ColumnType::kInt64 && b == ColumnType::kInt64 ? ColumnType::kInt64
                                                            : ColumnType::kFloat64;
}

Result<ColumnType> ColumnTypeOf(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT32:
    case arrow::Type::INT64:
      return ColumnType::kInt64;
    case arrow::Type::DOUBLE:
      return ColumnType::kFloat64;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
      return ColumnType::kString;
    case arrow::Type::BOOL:
      return ColumnType::kBool;
    case arrow::Type::TIMESTAMP:
      return ColumnType::kTimestamp;
    default:
      return MakeError(ErrorCode::kInvalidArgument, "unsupported column type {}", type.ToString());
  }
}

// The type rules, shared by Check() and Evaluate(): the node's type from its operands' types.
class Typer {
 public:
  Typer(std::string_view text, std::function<const ColumnType*(const std::string&)> column)
      : text_(text), column_(std::move(column)) {}

  Result<ColumnType> Type(const ExprNode& node) const {
    switch (node.kind) {
      case ExprNode::Kind::kColumn: {
        const ColumnType* type = column_(node.name);
        if (!type) return Fail(node, fmt::format("unknown column '{}'", node.name));
        return *type;
      }
      case ExprNode::Kind::kInt:
        return ColumnType::kInt64;
      case ExprNode::Kind::kFloat:
        return ColumnType::kFloat64;
      case ExprNode::Kind::kString:
        return ColumnType::kString;
      case ExprNode::Kind::kBool:
        return ColumnType::kBool;
      default:
        break;
    }
    std::vector<ColumnType> args;
    for (const auto& arg : node.args) {
      FALAJ_ASSIGN_OR_RETURN(auto type, Type(arg));
      args.push_back(type);
    }
    return Apply(node, args);
  }

  std::unexpected<Error> Fail(const ExprNode& node, std::string_view problem) const {
    return ExpressionError(text_, node.position, problem);
  }

 private:
  std::unexpected<Error> Mismatch(const ExprNode& node, std::string_view needs,
                                  const std::vector<ColumnType>& args) const {
    std::string got;
    for (auto type : args) got += (got.empty() ? "" : ", ") + std::string(ColumnTypeName(type));
    return Fail(node, fmt::format("'{}' needs {}, not {}", node.name, needs, got));
  }

  // The common type of two operands that must agree (numbers promote).
  Result<ColumnType> Same(const ExprNode& node, ColumnType a, ColumnType b) const {
    if (Numeric(a) && Numeric(b)) return Promote(a, b);
    if (a == b) return a;
    return Mismatch(node, "operands of one type", {a, b});
  }

  Result<ColumnType> Apply(const ExprNode& node, const std::vector<ColumnType>& args) const {
    const std::string& op = node.name;
    const bool all_numeric = std::all_of(args.begin(), args.end(), Numeric);
    if (op == "not" || op == "and" || op == "or") {
      for (auto type : args) {
        if (type != ColumnType::kBool) return Mismatch(node, "bool", args);
      }
      return ColumnType::kBool;
    }
    if (op == "-" || op == "abs" || op == "floor" || op == "ceil" || op == "round") {
      if (args.size() == 1) {
        if (!all_numeric) return Mismatch(node, "a number", args);
        return args[0];
      }
    }
    if (op == "+" || op == "-" || op == "*" || op == "%") {
      if (!all_numeric) return Mismatch(node, "numbers", args);
      return Promote(args[0], args[1]);
    }
    if (op == "/" || op == "sqrt" || op == "log" || op == "log1p" || op == "exp") {
      if (!all_numeric) return Mismatch(node, args.size() == 1 ? "a number" : "numbers", args);
      return ColumnType::kFloat64;
    }
    static const std::set<std::string> kComparisons = {"==", "!=", "<", "<=", ">", ">="};
    if (kComparisons.contains(op)) {
      FALAJ_RETURN_IF_ERROR(Same(node, args[0], args[1]));
      return ColumnType::kBool;
    }
    if (op == "min" || op == "max") {
      FALAJ_ASSIGN_OR_RETURN(auto type, Same(node, args[0], args[1]));
      if (type == ColumnType::kBool || type == ColumnType::kString) {
        return Mismatch(node, "numbers or timestamps", args);
      }
      return type;
    }
    if (op == "coalesce") return Same(node, args[0], args[1]);
    if (op == "if") {
      if (args[0] != ColumnType::kBool) return Mismatch(node, "a bool condition", args);
      return Same(node, args[1], args[2]);
    }
    if (op == "lower" || op == "upper" || op == "length") {
      if (args[0] != ColumnType::kString) return Mismatch(node, "a string", args);
      return op == "length" ? ColumnType::kInt64 : ColumnType::kString;
    }
    if (op == "hour" || op == "day_of_week") {
      if (args[0] != ColumnType::kTimestamp) return Mismatch(node, "a timestamp", args);
      return ColumnType::kInt64;
    }
    return Fail(node, fmt::format("unknown operator '{}'", op));
  }

  std::string_view text_;
  std::function<const ColumnType*(const std::string&)> column_;
};

using arrow::Datum;

class Evaluator {
 public:
  Evaluator(const arrow::Table& table, const Typer& typer) : table_(table), typer_(typer) {}

  // The node's value (an array, or a scalar when it depends on no column) and its type.
  Result<std::pair<Datum, ColumnType>> Eval(const ExprNode& node) const {
    FALAJ_ASSIGN_OR_RETURN(auto type, typer_.Type(node));
    switch (node.kind) {
      case ExprNode::Kind::kColumn: {
        auto column = table_.GetColumnByName(node.name);
        if (column->type()->id() == arrow::Type::INT32) return Cast(Datum(column), type, node);
        return std::pair{Datum(column), type};
      }
      case ExprNode::Kind::kInt:
        return std::pair{Datum(node.int_value), type};
      case ExprNode::Kind::kFloat:
        return std::pair{Datum(node.float_value), type};
      case ExprNode::Kind::kString:
        return std::pair{Datum(std::make_shared<arrow::StringScalar>(node.string_value)), type};
      case ExprNode::Kind::kBool:
        return std::pair{Datum(node.bool_value), type};
      default:
        break;
    }
    std::vector<Datum> args;
    for (const auto& arg : node.args) {
      FALAJ_ASSIGN_OR_RETURN(auto value, Eval(arg));
      // Operands of a numeric result promote to it (int64 + float64 computes in float64).
      if (Numeric(type) && Numeric(value.second) && value.second != type && node.name != "if") {
        FALAJ_ASSIGN_OR_RETURN(value, Cast(value.first, type, node));
      }
      args.push_back(std::move(value.first));
    }
    if (node.name == "if" && Numeric(type)) {
      for (size_t i = 1; i < 3; ++i) {
        FALAJ_ASSIGN_OR_RETURN(auto cast, Cast(args[i], type, node));
        args[i] = cast.first;
      }
    }
    if (node.name == "if") {
      // A null condition takes the else branch, as SQL's CASE WHEN does.
      FALAJ_ASSIGN_OR_RETURN(args[0], Call("coalesce", {args[0], Datum(false)}, node));
    }
    FALAJ_ASSIGN_OR_RETURN(auto value, Compute(node, type, std::move(args)));
    return std::pair{std::move(value), type};
  }

 private:
  Result<std::pair<Datum, ColumnType>> Cast(const Datum& value, ColumnType type,
                                            const ExprNode& node) const {
    FALAJ_ASSIGN_OR_RETURN(auto cast,
                           Arrow(arrow::compute::Cast(value, data::ArrowType(type)), node));
    return std::pair{std::move(cast), type};
  }

  Result<Datum> Int64(const Datum& value, const ExprNode& node) const {
    FALAJ_ASSIGN_OR_RETURN(auto cast, Cast(value, ColumnType::kInt64, node));
    return cast.first;
  }

  template <typename T>
  Result<T> Arrow(arrow::Result<T> result, const ExprNode& node) const {
    if (!result.ok()) return typer_.Fail(node, result.status().message());
    return std::move(result).ValueUnsafe();
  }

  Result<Datum> Call(const std::string& function, std::vector<Datum> args, const ExprNode& node,
                     const arrow::compute::FunctionOptions* options = nullptr) const {
    return Arrow(arrow::compute::CallFunction(function, args, options), node);
  }

  // Timestamps without their time zone, so hour() and day_of_week() read UTC wall time without
  // needing a time-zone database.
  Result<Datum> Utc(const Datum& value, const ExprNode& node) const {
    auto naive = arrow::timestamp(static_cast<const arrow::TimestampType&>(*value.type()).unit());
    if (value.is_scalar()) return Arrow(value.scalar()->CastTo(naive), node);
    if (value.is_array()) return Arrow(value.make_array()->View(naive), node);
    return Arrow(value.chunked_array()->View(naive), node);
  }

  Result<Datum> Compute(const ExprNode& node, ColumnType type, std::vector<Datum> args) const {
    const std::string& op = node.name;
    const bool integer = type == ColumnType::kInt64;
    if (op == "not") return Call("invert", args, node);
    if (op == "and") return Call("and_kleene", args, node);
    if (op == "or") return Call("or_kleene", args, node);
    if (op == "-" && args.size() == 1) return Call("negate_checked", args, node);
    if (op == "+") return Call("add_checked", args, node);
    if (op == "-") return Call("subtract_checked", args, node);
    if (op == "*") return Call("multiply_checked", args, node);
    if (op == "/" || op == "%") return Divide(node, integer, args);
    static const std::map<std::string, std::string> kComparisons = {
        {"==", "equal"},      {"!=", "not_equal"}, {"<", "less"},
        {"<=", "less_equal"}, {">", "greater"},    {">=", "greater_equal"}};
    if (auto found = kComparisons.find(op); found != kComparisons.end()) {
      return ComparePromoted(found->second, args, node);
    }
    if (op == "abs") return Call("abs_checked", args, node);
    if ((op == "floor" || op == "ceil" || op == "round") && integer) return args[0];
    if (op == "round") {
      arrow::compute::RoundOptions options(0, arrow::compute::RoundMode::HALF_TO_EVEN);
      return Call("round", args, node, &options);
    }
    static const std::map<std::string, std::string> kUnary = {
        {"sqrt", "sqrt"},        {"log", "ln"},           {"log1p", "log1p"},
        {"exp", "exp"},          {"floor", "floor"},      {"ceil", "ceil"},
        {"lower", "utf8_lower"}, {"upper", "utf8_upper"}, {"coalesce", "coalesce"},
        {"if", "if_else"}};
    if (auto found = kUnary.find(op); found != kUnary.end()) return Call(found->second, args, node);
    if (op == "min" || op == "max") {
      arrow::compute::ElementWiseAggregateOptions options(/*skip_nulls=*/false);
      return Call(op + "_element_wise", args, node, &options);
    }
    if (op == "length") {
      FALAJ_ASSIGN_OR_RETURN(auto length, Call("utf8_length", args, node));
      return Int64(length, node);
    }
    if (op == "hour" || op == "day_of_week") {
      FALAJ_ASSIGN_OR_RETURN(auto utc, Utc(args[0], node));
      FALAJ_ASSIGN_OR_RETURN(auto part, Call(op, {utc}, node));
      return Int64(part, node);
    }
    return typer_.Fail(node, fmt::format("unknown operator '{}'", op));
  }

  // Comparisons of int64 with float64 compare as float64.
  Result<Datum> ComparePromoted(const std::string& function, std::vector<Datum> args,
                                const ExprNode& node) const {
    FALAJ_ASSIGN_OR_RETURN(auto left, typer_.Type(node.args[0]));
    FALAJ_ASSIGN_OR_RETURN(auto right, typer_.Type(node.args[1]));
    if (Numeric(left) && Numeric(right) && left != right) {
      for (auto& arg : args) {
        FALAJ_ASSIGN_OR_RETURN(auto cast, Cast(arg, ColumnType::kFloat64, node));
        arg = cast.first;
      }
    }
    return Call(function, std::move(args), node);
  }

  // a / b and a % b (truncated, the sign of a), null where b is 0; / always in float64.
  Result<Datum> Divide(const ExprNode& node, bool integer, std::vector<Datum> args) const {
    if (node.name == "/") {
      for (auto& arg : args) {
        FALAJ_ASSIGN_OR_RETURN(auto cast, Cast(arg, ColumnType::kFloat64, node));
        arg = cast.first;
      }
    }
    const Datum zero = integer ? Datum(int64_t{0}) : Datum(0.0);
    FALAJ_ASSIGN_OR_RETURN(auto by_zero, Call("equal", {args[1], zero}, node));
    // Division by 0 (and int64 min / -1) must not fail inside the kernel: divide by 1 there and
    // mask the result afterwards.
    Datum safe = args[1];
    if (integer) {
      FALAJ_ASSIGN_OR_RETURN(auto minus_one, Call("equal", {args[1], Datum(int64_t{-1})}, node));
      FALAJ_ASSIGN_OR_RETURN(auto unsafe, Call("or", {by_zero, minus_one}, node));
      FALAJ_ASSIGN_OR_RETURN(safe, Call("if_else", {unsafe, Datum(int64_t{1}), args[1]}, node));
    }
    FALAJ_ASSIGN_OR_RETURN(auto quotient, Call("divide", {args[0], safe}, node));
    Datum result = quotient;
    if (node.name == "%") {
      Datum whole = quotient;
      if (!integer) {
        FALAJ_ASSIGN_OR_RETURN(whole, Call("trunc", {quotient}, node));
      }
      FALAJ_ASSIGN_OR_RETURN(auto product, Call("multiply", {whole, safe}, node));
      FALAJ_ASSIGN_OR_RETURN(result, Call("subtract", {args[0], product}, node));
    }
    const auto null = arrow::MakeNullScalar(result.type());
    return Call("if_else", {by_zero, Datum(null), result}, node);
  }

  const arrow::Table& table_;
  const Typer& typer_;
};

}  // namespace

Result<ColumnType> RowExpression::Check(const data::TableSchema& columns) const {
  Typer typer(text_, [&](const std::string& name) -> const ColumnType* {
    const data::ColumnSchema* column = columns.Find(name);
    return column ? &column->type : nullptr;
  });
  return typer.Type(*root_);
}

Result<std::shared_ptr<arrow::ChunkedArray>> RowExpression::Evaluate(
    const arrow::Table& table) const {
  static const arrow::Status init = arrow::compute::Initialize();
  FALAJ_RETURN_IF_ERROR(data::FromArrow(init, "initialising Arrow compute"));
  std::map<std::string, ColumnType> types;
  for (const auto& field : table.schema()->fields()) {
    if (auto type = ColumnTypeOf(*field->type())) types.emplace(field->name(), *type);
  }
  Typer typer(text_, [&](const std::string& name) -> const ColumnType* {
    auto found = types.find(name);
    return found == types.end() ? nullptr : &found->second;
  });
  Evaluator evaluator(table, typer);
  FALAJ_ASSIGN_OR_RETURN(auto value, evaluator.Eval(*root_));
  Datum result = value.first;
  // A literal-only expression is one scalar: repeat it once per row.
  if (result.is_scalar()) {
    FALAJ_ASSIGN_OR_RETURN(
        auto array, data::FromArrow(arrow::MakeArrayFromScalar(*result.scalar(), table.num_rows()),
                                    "repeating a constant"));
    result = Datum(std::make_shared<arrow::ChunkedArray>(std::move(array)));
  } else if (result.is_array()) {
    result = Datum(std::make_shared<arrow::ChunkedArray>(result.make_array()));
  }
  const auto target = data::ArrowType(value.second);
  if (!result.type()->Equals(*target)) {
    FALAJ_ASSIGN_OR_RETURN(
        result, data::FromArrow(arrow::compute::Cast(result, target),
                                "converting an expression's result", ErrorCode::kInvalidArgument));
  }
  return result.chunked_array();
}

}  // namespace falaj::features
