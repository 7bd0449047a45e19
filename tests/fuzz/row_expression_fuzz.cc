// libFuzzer harness for the feature-view expression language (features/row_expression.h). The
// input is an expression as a user writes it in a feature view's `transformations`. Parse must
// accept it or answer INVALID_ARGUMENT; a parsed expression is type-checked against fixed columns
// of every type (INVALID_ARGUMENT or a type); a checked one is evaluated over rows holding the
// edge values (int64 extremes, zero, NaN, infinities, empty text, nulls), and must give one value
// per row of the type Check() named, or INVALID_ARGUMENT (e.g. integer overflow). Nothing may
// throw or crash.
#include <arrow/api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>

#include "data/table_schema.h"
#include "features/row_expression.h"
#include "fuzz_support.h"

namespace {

using falaj::ErrorCode;
using falaj::data::ColumnType;

constexpr int64_t kRows = 5;

falaj::data::TableSchema Schema() {
  falaj::data::TableSchema schema;
  for (auto [name, type] : {std::pair{"a", ColumnType::kInt64},
                            {"b", ColumnType::kFloat64},
                            {"s", ColumnType::kString},
                            {"f", ColumnType::kBool},
                            {"t", ColumnType::kTimestamp}}) {
    falaj::data::ColumnSchema column;
    column.name = name;
    column.type = type;
    schema.columns.push_back(column);
  }
  return schema;
}

std::shared_ptr<arrow::Table> Rows() {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  arrow::Int64Builder a;
  arrow::DoubleBuilder b;
  arrow::StringBuilder s;
  arrow::BooleanBuilder f;
  arrow::TimestampBuilder t(arrow::timestamp(arrow::TimeUnit::MICRO), arrow::default_memory_pool());
  bool ok = a.AppendValues({kMax, kMin, 0, -1}).ok() && a.AppendNull().ok() &&
            b.AppendValues({std::nan(""), kInf, -kInf, 0.0}).ok() && b.AppendNull().ok() &&
            s.AppendValues({"", "Ab", "\xff", "9223372036854775808"}).ok() && s.AppendNull().ok() &&
            f.AppendValues(std::vector<bool>{true, false, true, false}).ok() &&
            f.AppendNull().ok() && t.AppendValues({0, -1, 1'700'000'000'000'000, kMax}).ok() &&
            t.AppendNull().ok();
  std::shared_ptr<arrow::Array> columns[5];
  ok = ok && a.Finish(&columns[0]).ok() && b.Finish(&columns[1]).ok() &&
       s.Finish(&columns[2]).ok() && f.Finish(&columns[3]).ok() && t.Finish(&columns[4]).ok();
  if (!ok) falaj::fuzz::Fail(__FILE__, __LINE__, "building the rows failed", "");
  auto schema =
      arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::float64()),
                     arrow::field("s", arrow::utf8()), arrow::field("f", arrow::boolean()),
                     arrow::field("t", arrow::timestamp(arrow::TimeUnit::MICRO))});
  return arrow::Table::Make(schema, {columns[0], columns[1], columns[2], columns[3], columns[4]},
                            kRows);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const falaj::data::TableSchema schema = Schema();
  static const std::shared_ptr<arrow::Table> rows = Rows();
  return falaj::fuzz::RunWithoutExceptions([&] {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = falaj::features::RowExpression::Parse(text);
    if (!parsed) {
      FUZZ_REQUIRE_ERROR(parsed.error(), ErrorCode::kInvalidArgument);
      return;
    }
    auto type = parsed->Check(schema);
    if (!type) {
      FUZZ_REQUIRE_ERROR(type.error(), ErrorCode::kInvalidArgument);
      return;
    }
    auto values = parsed->Evaluate(*rows);
    if (!values) {
      FUZZ_REQUIRE_ERROR(values.error(), ErrorCode::kInvalidArgument);
      return;
    }
    FUZZ_REQUIRE((*values)->length() == kRows);
    FUZZ_REQUIRE((*values)->type()->Equals(*falaj::data::ArrowType(*type)));
  });
}
