// Arrow columns in the online store's byte layout (online_codec.h), for materialisation and
// streaming writes: join keys and feature values are encoded straight from the typed arrays, with
// no per-cell variant or allocation. Columns are single-chunk (callers combine chunks first).
//
// Thread-safe: the objects only read the arrays they were built over; use one per thread.
#pragma once

#include <arrow/type_fwd.h>
#include <arrow/util/bit_util.h>

#include <cstdint>
#include <memory>
#include <string>

#include "features/feature_definitions.h"

namespace falaj::features {

// int64 / int32 / timestamp columns as int64 (timestamps in µs since the epoch).
class IntegerColumn {
 public:
  explicit IntegerColumn(const arrow::Array& array);
  bool supported() const { return kind_ != Kind::kOther; }
  // false for a null (or a column of another type).
  bool At(int64_t row, int64_t& value) const;

 private:
  enum class Kind { kInt64, kInt32, kOther };
  const arrow::Array& array_;
  const uint8_t* validity_ = nullptr;
  const void* values_ = nullptr;
  Kind kind_ = Kind::kOther;
  int64_t offset_ = 0;
  int64_t multiply_ = 1;  // timestamp unit → µs
  int64_t divide_ = 1;
};

// Appends one join-key value per row to a key under construction.
class KeyColumn {
 public:
  explicit KeyColumn(const arrow::Array& array);
  // false (and `key` unspecified) for a null or a key column of an unsupported type.
  bool Append(std::string& key, int64_t row) const;

 private:
  const arrow::Array& array_;
  IntegerColumn integers_;
};

// Appends one feature value per row (present flag and value, or missing) to a row under
// construction; a value the declared feature type cannot hold is written as missing.
class FeatureColumn {
 public:
  FeatureColumn(const arrow::Array& array, data::ColumnType type);
  void Append(std::string& out, int64_t row) const;

 private:
  // How cells are read, settled once from the declared type and the array's type so the per-cell
  // path (50 million cells for a million rows of 50 features) touches only raw buffers.
  enum class Kind { kInteger, kFloat64, kBool, kString, kLargeString, kMissing };
  bool IsNull(int64_t row) const {
    return validity_ != nullptr && !arrow::bit_util::GetBit(validity_, offset_ + row);
  }

  const arrow::Array& array_;
  IntegerColumn integers_;
  Kind kind_ = Kind::kMissing;
  const uint8_t* validity_ = nullptr;
  const double* doubles_ = nullptr;
  int64_t offset_ = 0;
};

}  // namespace falaj::features
