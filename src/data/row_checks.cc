#include "data/row_checks.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "data/arrow_columns.h"
#include "data/arrow_status.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

using ChunkedPtr = std::shared_ptr<arrow::ChunkedArray>;

std::unexpected<Error> DoesNotFit(std::string_view check, std::string_view needs,
                                  const arrow::DataType& type) {
  return MakeError(ErrorCode::kInvalidArgument, "{} needs {}, and the column is {}", check, needs,
                   type.ToString());
}

void ScanNotNull(const arrow::ChunkedArray& column, FailureSink& sink) {
  auto null_text = [] { return std::string("null"); };
  ForEachChunk<arrow::Array>(column, [&](const arrow::Array& chunk, int64_t first_row) {
    if (chunk.null_count() == 0) return;
    const uint8_t* bitmap = chunk.null_bitmap_data();
    if (bitmap == nullptr) {  // the null type: every slot is null
      for (int64_t i = 0; i < chunk.length(); ++i) {
        if (chunk.IsNull(i)) sink.Fail(first_row + i, null_text);
      }
      return;
    }
    // Nulls are the gaps between runs of valid slots.
    int64_t next = 0;
    arrow::internal::VisitSetBitRunsVoid(bitmap, chunk.offset(), chunk.length(),
                                         [&](int64_t start, int64_t length) {
                                           for (; next < start; ++next) {
                                             sink.Fail(first_row + next, null_text);
                                           }
                                           next = start + length;
                                         });
    for (; next < chunk.length(); ++next) sink.Fail(first_row + next, null_text);
  });
}

long double BoundValue(const RangeBound& bound) {
  return std::visit([](auto value) { return static_cast<long double>(value); }, bound);
}

// Scans values of C++ type T against [low, high] (NaN fails: it is in no range).
template <typename ArrowType, typename T>
void ScanRange(const arrow::ChunkedArray& column, T low, T high, FailureSink& sink) {
  using ArrayT = arrow::NumericArray<ArrowType>;
  ForEachChunk<ArrayT>(column, [&](const ArrayT& chunk, int64_t first_row) {
    const auto* values = chunk.raw_values();
    ForEachValid(chunk, [&](int64_t i) {
      auto value = values[i];
      if (!(value >= low && value <= high)) {
        sink.Fail(first_row + i, [&] { return fmt::format("{}", value); });
      }
    });
  });
}

// The range as bounds of the column's own integer type, exactly: [ceil(min), floor(max)] clamped
// to the type (long double holds every int64 and uint64 exactly). An empty range becomes [1, 0].
template <typename T>
std::pair<T, T> IntegerBounds(const RangeCheck& range) {
  long double type_min = std::numeric_limits<T>::min();
  long double type_max = std::numeric_limits<T>::max();
  long double low = range.min ? std::ceil(BoundValue(*range.min)) : type_min;
  long double high = range.max ? std::floor(BoundValue(*range.max)) : type_max;
  low = std::max(low, type_min);
  high = std::min(high, type_max);
  if (low > high) return {T{1}, T{0}};
  return {static_cast<T>(low), static_cast<T>(high)};
}

Result<RowCheck> MakeRangeCheck(const RangeCheck& range, ChunkedPtr column) {
  const arrow::DataType& type = *column->type();
  ColumnFamily family = FamilyOf(type);
  if (family == ColumnFamily::kNull) return RowCheck([](FailureSink&) { return Ok(); });
  if (!IsNumeric(family)) return DoesNotFit("range", "a numeric column", type);
  RowCheck check;
  VisitNumericType(type, [&](auto arrow_type) {
    using ArrowType = decltype(arrow_type);
    using T = typename ArrowType::c_type;
    if constexpr (std::is_floating_point_v<T>) {
      double infinity = std::numeric_limits<double>::infinity();
      double low = range.min ? static_cast<double>(BoundValue(*range.min)) : -infinity;
      double high = range.max ? static_cast<double>(BoundValue(*range.max)) : infinity;
      check = [column, low, high](FailureSink& sink) {
        ScanRange<ArrowType, double>(*column, low, high, sink);
        return Ok();
      };
    } else {
      auto [low, high] = IntegerBounds<T>(range);
      check = [column, low, high](FailureSink& sink) {
        ScanRange<ArrowType, T>(*column, low, high, sink);
        return Ok();
      };
    }
  });
  return check;
}

template <typename ArrowType>
void ScanAllowedStrings(const arrow::ChunkedArray& column,
                        const std::unordered_set<std::string_view>& allowed, FailureSink& sink) {
  using ArrayT = typename arrow::TypeTraits<ArrowType>::ArrayType;
  ForEachChunk<ArrayT>(column, [&](const ArrayT& chunk, int64_t first_row) {
    ForEachValid(chunk, [&](int64_t i) {
      std::string_view value = chunk.GetView(i);
      if (!allowed.contains(value)) {
        sink.Fail(first_row + i,
                  [&] { return SanitizeUtf8(value, FailureSink::kMaxExampleBytes); });
      }
    });
  });
}

template <typename ArrowType>
void ScanAllowedIntegers(const arrow::ChunkedArray& column,
                         const std::unordered_set<int64_t>& allowed, FailureSink& sink) {
  using ArrayT = arrow::NumericArray<ArrowType>;
  using T = typename ArrowType::c_type;
  ForEachChunk<ArrayT>(column, [&](const ArrayT& chunk, int64_t first_row) {
    const T* values = chunk.raw_values();
    ForEachValid(chunk, [&](int64_t i) {
      T value = values[i];
      // A uint64 above INT64_MAX cannot equal an allowed (int64) value.
      bool fits = !std::is_same_v<T, uint64_t> || value <= static_cast<T>(INT64_MAX);
      if (!fits || !allowed.contains(static_cast<int64_t>(value))) {
        sink.Fail(first_row + i, [&] { return fmt::format("{}", value); });
      }
    });
  });
}

Result<RowCheck> MakeAllowedValuesCheck(const AllowedValues& allowed, ChunkedPtr column) {
  const arrow::DataType& type = *column->type();
  ColumnFamily family = FamilyOf(type);
  if (family == ColumnFamily::kNull) return RowCheck([](FailureSink&) { return Ok(); });
  RowCheck check;
  if (const auto* strings = std::get_if<std::vector<std::string>>(&allowed)) {
    if (family != ColumnFamily::kString) {
      return DoesNotFit("allowed_values of strings", "a string column", type);
    }
    // The set views the rule's strings, which the closure keeps alive.
    auto owned = std::make_shared<std::vector<std::string>>(*strings);
    auto set = std::make_shared<std::unordered_set<std::string_view>>(owned->begin(), owned->end());
    VisitStringType(type, [&](auto arrow_type) {
      check = [column, owned, set](FailureSink& sink) {
        ScanAllowedStrings<decltype(arrow_type)>(*column, *set, sink);
        return Ok();
      };
    });
    return check;
  }
  const auto& integers = std::get<std::vector<int64_t>>(allowed);
  if (family != ColumnFamily::kSignedInteger && family != ColumnFamily::kUnsignedInteger) {
    return DoesNotFit("allowed_values of integers", "an integer column", type);
  }
  auto set = std::make_shared<std::unordered_set<int64_t>>(integers.begin(), integers.end());
  VisitNumericType(type, [&](auto arrow_type) {
    using ArrowType = decltype(arrow_type);
    if constexpr (std::is_integral_v<typename ArrowType::c_type>) {
      check = [column, set](FailureSink& sink) {
        ScanAllowedIntegers<ArrowType>(*column, *set, sink);
        return Ok();
      };
    }
  });
  return check;
}

// Matches one chunk with Arrow's RE2 kernel (utf8_view has no kernel: it is cast to utf8).
template <typename ArrayT>
Status ScanRegexChunk(const ArrayT& chunk, int64_t first_row,
                      const arrow::compute::MatchSubstringOptions& options, FailureSink& sink) {
  arrow::Datum input(chunk.data());
  if (chunk.type_id() == arrow::Type::STRING_VIEW) {
    FALAJ_ASSIGN_OR_RETURN(input, FromArrow(arrow::compute::Cast(input, arrow::utf8()),
                                            "casting utf8_view to utf8 for regex"));
  }
  FALAJ_ASSIGN_OR_RETURN(auto matched, FromArrow(arrow::compute::CallFunction(
                                                     "match_substring_regex", {input}, &options),
                                                 "matching regex"));
  auto matches = std::static_pointer_cast<arrow::BooleanArray>(matched.make_array());
  ForEachValid(chunk, [&](int64_t i) {
    if (!matches->Value(i)) {
      sink.Fail(first_row + i,
                [&] { return SanitizeUtf8(chunk.GetView(i), FailureSink::kMaxExampleBytes); });
    }
  });
  return Ok();
}

Result<RowCheck> MakeRegexCheck(const std::string& pattern, ChunkedPtr column) {
  const arrow::DataType& type = *column->type();
  ColumnFamily family = FamilyOf(type);
  if (family == ColumnFamily::kNull) return RowCheck([](FailureSink&) { return Ok(); });
  if (family != ColumnFamily::kString) return DoesNotFit("regex", "a string column", type);
  FALAJ_RETURN_IF_ERROR(EnsureArrowCompute());
  auto options = std::make_shared<arrow::compute::MatchSubstringOptions>(pattern);
  RowCheck check;
  VisitStringType(type, [&](auto arrow_type) {
    using ArrayT = typename arrow::TypeTraits<decltype(arrow_type)>::ArrayType;
    check = [column, options](FailureSink& sink) -> Status {
      int64_t first_row = 0;
      for (const auto& chunk : column->chunks()) {
        FALAJ_RETURN_IF_ERROR(
            ScanRegexChunk(static_cast<const ArrayT&>(*chunk), first_row, *options, sink));
        first_row += chunk->length();
      }
      return Ok();
    };
  });
  return check;
}

}  // namespace

Result<RowCheck> MakeRowCheck(CheckKind kind, const ValidationRule& rule, ChunkedPtr column) {
  switch (kind) {
    case CheckKind::kNotNull:
      return RowCheck([column](FailureSink& sink) {
        ScanNotNull(*column, sink);
        return Ok();
      });
    case CheckKind::kRange:
      return MakeRangeCheck(*rule.range, std::move(column));
    case CheckKind::kAllowedValues:
      return MakeAllowedValuesCheck(*rule.allowed_values, std::move(column));
    case CheckKind::kRegex:
      return MakeRegexCheck(*rule.regex, std::move(column));
    case CheckKind::kUnique:
      return MakeUniqueCheck(std::move(column));
    default:
      return MakeError(ErrorCode::kInternal, "{} is not a row check", CheckKindName(kind));
  }
}

Status CheckRegexSyntax(const std::string& pattern) {
  FALAJ_RETURN_IF_ERROR(EnsureArrowCompute());
  // RE2 compiles the pattern when the kernel first runs, so give it one value to run on.
  arrow::StringBuilder builder;
  std::shared_ptr<arrow::Array> probe;
  if (!builder.Append("").ok() || !builder.Finish(&probe).ok()) {
    return MakeError(ErrorCode::kInternal, "cannot build a regex probe");
  }
  arrow::compute::MatchSubstringOptions options(pattern);
  auto matched = arrow::compute::CallFunction("match_substring_regex", {probe}, &options);
  if (!matched.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "is not a valid RE2 regular expression: {}",
                     matched.status().message());
  }
  return Ok();
}

}  // namespace falaj::data
