// Test support for the PointInTimeJoin tests: building Arrow tables from columns of optional
// values, cutting them into random chunks, and reading result columns back. Test-only; the
// helpers are stateless and thread-safe (Rechunk's generator is the caller's).
#pragma once

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace falaj::features::testing {

// A column as the tests write it: one optional value per row, kNull for a null.
template <typename T>
using Column = std::vector<std::optional<T>>;
inline constexpr std::nullopt_t kNull = std::nullopt;

template <typename Builder, typename T>
std::shared_ptr<arrow::Array> Build(const std::shared_ptr<arrow::DataType>& type,
                                    const Column<T>& values) {
  Builder builder(type, arrow::default_memory_pool());
  for (const auto& value : values) {
    EXPECT_TRUE((value ? builder.Append(*value) : builder.AppendNull()).ok());
  }
  return builder.Finish().ValueOrDie();
}

inline std::shared_ptr<arrow::Array> Ints(const Column<int64_t>& values,
                                          std::shared_ptr<arrow::DataType> type = arrow::int64()) {
  if (type->id() == arrow::Type::INT32) {
    Column<int32_t> narrow;
    for (const auto& v : values)
      narrow.push_back(v ? std::optional<int32_t>(static_cast<int32_t>(*v)) : kNull);
    return Build<arrow::Int32Builder>(type, narrow);
  }
  if (type->id() == arrow::Type::TIMESTAMP) return Build<arrow::TimestampBuilder>(type, values);
  return Build<arrow::Int64Builder>(type, values);
}
inline std::shared_ptr<arrow::Array> Strings(const Column<std::string>& values,
                                             bool large = false) {
  if (large) return Build<arrow::LargeStringBuilder>(arrow::large_utf8(), values);
  return Build<arrow::StringBuilder>(arrow::utf8(), values);
}
inline std::shared_ptr<arrow::Array> Doubles(const Column<double>& values) {
  return Build<arrow::DoubleBuilder>(arrow::float64(), values);
}

using NamedArray = std::pair<std::string, std::shared_ptr<arrow::Array>>;

inline std::shared_ptr<arrow::Table> MakeTable(const std::vector<NamedArray>& columns) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (const auto& [name, array] : columns) {
    fields.push_back(arrow::field(name, array->type()));
    arrays.push_back(array);
  }
  return arrow::Table::Make(arrow::schema(fields), arrays);
}

// The same table with every column cut into random slices (an empty one now and then), each
// column differently, so row offsets and bitmap offsets inside chunks get exercised.
inline std::shared_ptr<arrow::Table> Rechunk(const std::shared_ptr<arrow::Table>& table,
                                             std::mt19937_64& rng) {
  std::vector<std::shared_ptr<arrow::ChunkedArray>> columns;
  for (const auto& column : table->columns()) {
    auto whole = arrow::Concatenate(column->chunks()).ValueOrDie();
    std::vector<std::shared_ptr<arrow::Array>> chunks;
    for (int64_t start = 0; start < whole->length();) {
      const int64_t length =
          rng() % 5 == 0 ? 0 : std::min<int64_t>(whole->length() - start, rng() % 700);
      chunks.push_back(whole->Slice(start, length));
      start += length;
    }
    columns.push_back(std::make_shared<arrow::ChunkedArray>(chunks, whole->type()));
  }
  return arrow::Table::Make(table->schema(), columns, table->num_rows());
}

template <typename ArrayType, typename T>
Column<T> Read(const std::shared_ptr<arrow::ChunkedArray>& column) {
  Column<T> out;
  for (const auto& chunk : column->chunks()) {
    const auto& array = static_cast<const ArrayType&>(*chunk);
    for (int64_t i = 0; i < array.length(); ++i) {
      if (array.IsNull(i)) {
        out.push_back(kNull);
      } else {
        out.push_back(T(array.GetView(i)));
      }
    }
  }
  return out;
}
inline Column<int64_t> ReadInts(const arrow::Table& table, const std::string& name) {
  return Read<arrow::Int64Array, int64_t>(table.GetColumnByName(name));
}

}  // namespace falaj::features::testing
