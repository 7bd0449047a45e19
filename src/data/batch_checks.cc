#include "data/batch_checks.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "data/arrow_columns.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

bool FitsInt64(const arrow::DataType& type) {
  ColumnFamily family = FamilyOf(type);
  return family == ColumnFamily::kSignedInteger ||
         (family == ColumnFamily::kUnsignedInteger && type.id() != arrow::Type::UINT64);
}

bool Matches(DeclaredType declared, const arrow::DataType& actual) {
  ColumnFamily family = FamilyOf(actual);
  if (family == ColumnFamily::kNull) return true;
  switch (declared) {
    case DeclaredType::kInt64:
      return FitsInt64(actual);
    case DeclaredType::kFloat64:
      return IsNumeric(family);
    case DeclaredType::kString:
      return family == ColumnFamily::kString;
    case DeclaredType::kBool:
      return family == ColumnFamily::kBool;
    case DeclaredType::kTimestamp:
      return family == ColumnFamily::kTimestamp;
  }
  return false;
}

std::string FormatAge(int64_t seconds) {
  if (seconds < 0) return "in the future";
  if (seconds < 60) return fmt::format("{}s old", seconds);
  if (seconds < 3600) return fmt::format("{:.1f}m old", seconds / 60.0);
  if (seconds < 2 * 86400) return fmt::format("{:.1f}h old", seconds / 3600.0);
  return fmt::format("{:.1f}d old", seconds / 86400.0);
}

}  // namespace

BatchOutcome CheckDeclaredType(DeclaredType declared, const arrow::DataType& actual) {
  return {Matches(declared, actual), fmt::format("column type {}", actual.ToString())};
}

Result<BatchOutcome> CheckFreshness(const arrow::ChunkedArray& column, std::chrono::seconds max_age,
                                    std::chrono::system_clock::time_point now) {
  if (FamilyOf(*column.type()) != ColumnFamily::kTimestamp) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "freshness needs a timestamp column, and the column is {}",
                     column.type()->ToString());
  }
  int64_t units = UnitsPerSecond(static_cast<const arrow::TimestampType&>(*column.type()));
  bool any = false;
  int64_t newest = std::numeric_limits<int64_t>::min();
  ForEachChunk<arrow::TimestampArray>(column, [&](const arrow::TimestampArray& chunk, int64_t) {
    const int64_t* values = chunk.raw_values();
    ForEachValid(chunk, [&](int64_t i) {
      any = true;
      newest = std::max(newest, values[i]);
    });
  });
  if (!any) return BatchOutcome{false, "no timestamp values"};
  // In the column's unit, in 128 bits: nanosecond ages of extreme values overflow int64.
  __int128 now_units =
      static_cast<__int128>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()) *
      units / 1000000000;
  __int128 age = now_units - newest;
  bool passed = age <= static_cast<__int128>(max_age.count()) * units;
  int64_t age_seconds = static_cast<int64_t>(std::clamp<__int128>(
      age / units, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  return BatchOutcome{passed,
                      fmt::format("newest value {} is {}", FormatIsoTimestamp(newest, units),
                                  FormatAge(age_seconds))};
}

BatchOutcome CheckRowCount(int64_t rows, const RowCountCheck& check) {
  bool passed = (!check.min || rows >= *check.min) && (!check.max || rows <= *check.max);
  return {passed, fmt::format("{} rows", rows)};
}

}  // namespace falaj::data
