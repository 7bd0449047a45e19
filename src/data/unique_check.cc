// The unique row check: the second and later occurrences of a value fail. Values are counted in
// a FlatCounter sized once from the column's non-null count (a unique column is mostly distinct
// values), so a batch costs one allocation and no rehashing, and fed to it through a prefetching
// delay line, since with a million keys nearly every insert is a cache miss.
#include <arrow/api.h>
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <vector>

#include "data/arrow_columns.h"
#include "data/flat_counter.h"
#include "data/hyperloglog.h"
#include "data/row_checks.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

// Doubles compare by value: -0 equals 0, and all NaNs are one value.
uint64_t CanonicalBits(double value) {
  if (value == 0.0) return 0;
  if (std::isnan(value)) return 0x7ff8000000000000ULL;
  return std::bit_cast<uint64_t>(value);
}

// Fails every row whose key an earlier row already had; rows must be added in order. `Text`
// turns a key back into example text.
template <typename Key, uint64_t (*Hash)(Key), typename Text>
class RepeatFinder {
 public:
  RepeatFinder(int64_t expected, FailureSink& sink, Text text)
      : counter_(static_cast<size_t>(expected)), adder_(counter_), sink_(sink), text_(text) {}

  void Add(Key key, int64_t row) { adder_.Add(key, row, Reporter()); }
  void Finish() { adder_.Flush(Reporter()); }

 private:
  auto Reporter() {
    return [this](Key key, int64_t row, int64_t count) {
      if (count > 1) sink_.Fail(row, [&] { return text_(key); });
    };
  }

  FlatCounter<Key, Hash> counter_;
  PrefetchingAdder<FlatCounter<Key, Hash>, Key, int64_t> adder_;
  FailureSink& sink_;
  Text text_;
};

int64_t NonNullCount(const arrow::ChunkedArray& column) {
  return column.length() - column.null_count();
}

template <typename ArrowType>
void ScanUniqueNumbers(const arrow::ChunkedArray& column, FailureSink& sink) {
  using T = typename ArrowType::c_type;
  auto text = [](uint64_t key) {
    if constexpr (std::is_floating_point_v<T>) return fmt::format("{}", std::bit_cast<double>(key));
    return fmt::format("{}", static_cast<T>(key));
  };
  RepeatFinder<uint64_t, HashInteger, decltype(text)> finder(NonNullCount(column), sink, text);
  ForEachChunk<arrow::NumericArray<ArrowType>>(column, [&](const auto& chunk, int64_t first_row) {
    const T* values = chunk.raw_values();
    ForEachValid(chunk, [&](int64_t i) {
      if constexpr (std::is_floating_point_v<T>) {
        finder.Add(CanonicalBits(values[i]), first_row + i);
      } else {
        finder.Add(static_cast<uint64_t>(values[i]), first_row + i);
      }
    });
  });
  finder.Finish();
}

void ScanUniqueTimestamps(const arrow::ChunkedArray& column, FailureSink& sink) {
  int64_t units = UnitsPerSecond(static_cast<const arrow::TimestampType&>(*column.type()));
  auto text = [units](uint64_t key) {
    return FormatIsoTimestamp(static_cast<int64_t>(key), units);
  };
  RepeatFinder<uint64_t, HashInteger, decltype(text)> finder(NonNullCount(column), sink, text);
  ForEachChunk<arrow::TimestampArray>(
      column, [&](const arrow::TimestampArray& chunk, int64_t first_row) {
        const int64_t* values = chunk.raw_values();
        ForEachValid(
            chunk, [&](int64_t i) { finder.Add(static_cast<uint64_t>(values[i]), first_row + i); });
      });
  finder.Finish();
}

template <typename ArrowType>
void ScanUniqueStrings(const arrow::ChunkedArray& column, FailureSink& sink) {
  using ArrayT = typename arrow::TypeTraits<ArrowType>::ArrayType;
  auto text = [](HashedView key) { return SanitizeUtf8(key.text, FailureSink::kMaxExampleBytes); };
  RepeatFinder<HashedView, HashOf, decltype(text)> finder(NonNullCount(column), sink, text);
  ForEachChunk<ArrayT>(column, [&](const ArrayT& chunk, int64_t first_row) {
    ForEachValid(chunk, [&](int64_t i) {
      std::string_view value = chunk.GetView(i);
      finder.Add({value, HashBytes(value)}, first_row + i);
    });
  });
  finder.Finish();
}

void ScanUniqueBools(const arrow::ChunkedArray& column, FailureSink& sink) {
  bool seen[2] = {false, false};
  ForEachChunk<arrow::BooleanArray>(
      column, [&](const arrow::BooleanArray& chunk, int64_t first_row) {
        ForEachValid(chunk, [&](int64_t i) {
          bool value = chunk.Value(i);
          if (seen[value])
            sink.Fail(first_row + i, [&] { return std::string(value ? "true" : "false"); });
          seen[value] = true;
        });
      });
}

}  // namespace

Result<RowCheck> MakeUniqueCheck(std::shared_ptr<arrow::ChunkedArray> column) {
  const arrow::DataType& type = *column->type();
  RowCheck check;
  switch (FamilyOf(type)) {
    case ColumnFamily::kNull:
      return RowCheck([](FailureSink&) { return Ok(); });
    case ColumnFamily::kSignedInteger:
    case ColumnFamily::kUnsignedInteger:
    case ColumnFamily::kFloat:
      VisitNumericType(type, [&](auto arrow_type) {
        check = [column](FailureSink& sink) {
          ScanUniqueNumbers<decltype(arrow_type)>(*column, sink);
          return Ok();
        };
      });
      return check;
    case ColumnFamily::kString:
      VisitStringType(type, [&](auto arrow_type) {
        check = [column](FailureSink& sink) {
          ScanUniqueStrings<decltype(arrow_type)>(*column, sink);
          return Ok();
        };
      });
      return check;
    case ColumnFamily::kTimestamp:
      return RowCheck([column](FailureSink& sink) {
        ScanUniqueTimestamps(*column, sink);
        return Ok();
      });
    case ColumnFamily::kBool:
      return RowCheck([column](FailureSink& sink) {
        ScanUniqueBools(*column, sink);
        return Ok();
      });
    case ColumnFamily::kOther:
      break;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unique needs a numeric, string, bool or timestamp column, and the column is {}",
                   type.ToString());
}

}  // namespace falaj::data
