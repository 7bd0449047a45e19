// Internal to the data module (includes Arrow): how the validator and the profiler classify
// Arrow column types, and tight loops over the valid slots of a chunked column without a virtual
// call per cell. Only .cc files include this header. Pure functions; thread-safe.
#pragma once

#include <arrow/array.h>
#include <arrow/chunked_array.h>
#include <arrow/type.h>
#include <arrow/util/bit_run_reader.h>

#include <cstdint>
#include <string>

#include "common/result.h"

namespace falaj::data {

// Arrow's compute functions beyond the core need a one-time registration (Arrow >= 21). Safe to
// call from any thread, any number of times.
Status EnsureArrowCompute();

// The families of column types that checks and profiles distinguish.
enum class ColumnFamily {
  kSignedInteger,
  kUnsignedInteger,
  kFloat,
  kString,
  kBool,
  kTimestamp,
  kNull,
  kOther
};

inline ColumnFamily FamilyOf(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
      return ColumnFamily::kSignedInteger;
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
    case arrow::Type::UINT32:
    case arrow::Type::UINT64:
      return ColumnFamily::kUnsignedInteger;
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
      return ColumnFamily::kFloat;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      return ColumnFamily::kString;
    case arrow::Type::BOOL:
      return ColumnFamily::kBool;
    case arrow::Type::TIMESTAMP:
      return ColumnFamily::kTimestamp;
    case arrow::Type::NA:
      return ColumnFamily::kNull;
    default:
      return ColumnFamily::kOther;
  }
}

inline bool IsNumeric(ColumnFamily family) {
  return family == ColumnFamily::kSignedInteger || family == ColumnFamily::kUnsignedInteger ||
         family == ColumnFamily::kFloat;
}

// Calls fn(arrow::XType{}) for the concrete numeric type of `type` (an integer or float type).
template <typename Fn>
void VisitNumericType(const arrow::DataType& type, Fn&& fn) {
  switch (type.id()) {
    case arrow::Type::INT8:
      return fn(arrow::Int8Type{});
    case arrow::Type::INT16:
      return fn(arrow::Int16Type{});
    case arrow::Type::INT32:
      return fn(arrow::Int32Type{});
    case arrow::Type::INT64:
      return fn(arrow::Int64Type{});
    case arrow::Type::UINT8:
      return fn(arrow::UInt8Type{});
    case arrow::Type::UINT16:
      return fn(arrow::UInt16Type{});
    case arrow::Type::UINT32:
      return fn(arrow::UInt32Type{});
    case arrow::Type::UINT64:
      return fn(arrow::UInt64Type{});
    case arrow::Type::FLOAT:
      return fn(arrow::FloatType{});
    case arrow::Type::DOUBLE:
      return fn(arrow::DoubleType{});
    default:
      return;
  }
}

// Calls fn(arrow::XType{}) for the concrete string type of `type`.
template <typename Fn>
void VisitStringType(const arrow::DataType& type, Fn&& fn) {
  switch (type.id()) {
    case arrow::Type::STRING:
      return fn(arrow::StringType{});
    case arrow::Type::LARGE_STRING:
      return fn(arrow::LargeStringType{});
    case arrow::Type::STRING_VIEW:
      return fn(arrow::StringViewType{});
    default:
      return;
  }
}

// Calls fn(chunk, first_row) for every chunk of `column`, `chunk` cast to ArrayT and `first_row`
// its first row's index in the whole column.
template <typename ArrayT, typename Fn>
void ForEachChunk(const arrow::ChunkedArray& column, Fn&& fn) {
  int64_t first_row = 0;
  for (const auto& chunk : column.chunks()) {
    fn(static_cast<const ArrayT&>(*chunk), first_row);
    first_row += chunk->length();
  }
}

// Calls fn(i) for every non-null slot i of `chunk`, in order, walking the validity bitmap in
// runs so that dense data costs no per-cell bit test.
template <typename Fn>
void ForEachValid(const arrow::Array& chunk, Fn&& fn) {
  int64_t length = chunk.length();
  if (chunk.type_id() == arrow::Type::NA) return;
  if (chunk.null_count() == 0 || chunk.null_bitmap_data() == nullptr) {
    for (int64_t i = 0; i < length; ++i) fn(i);
    return;
  }
  arrow::internal::VisitSetBitRunsVoid(chunk.null_bitmap_data(), chunk.offset(), length,
                                       [&](int64_t start, int64_t run) {
                                         for (int64_t i = start; i < start + run; ++i) fn(i);
                                       });
}

// Number of units of a timestamp type per second (1, 1e3, 1e6 or 1e9).
inline int64_t UnitsPerSecond(const arrow::TimestampType& type) {
  switch (type.unit()) {
    case arrow::TimeUnit::SECOND:
      return 1;
    case arrow::TimeUnit::MILLI:
      return 1000;
    case arrow::TimeUnit::MICRO:
      return 1000000;
    case arrow::TimeUnit::NANO:
      return 1000000000;
  }
  return 1;
}

}  // namespace falaj::data
