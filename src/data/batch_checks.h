// Internal to the validator: the batch-level checks, each judging the whole batch once. Declared
// type (does the column's Arrow type belong to the declared family), freshness (is the newest
// timestamp recent enough) and row count. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "data/validation_rules.h"

namespace arrow {
class ChunkedArray;
class DataType;
}  // namespace arrow

namespace falaj::data {

struct BatchOutcome {
  bool passed = true;
  std::string observed{};  // what was found, for the report
};

// The families are described in validation_rules.h; a column of the null type matches any.
BatchOutcome CheckDeclaredType(DeclaredType declared, const arrow::DataType& actual);

// Passes if now - newest <= max_age, newest being the column's largest non-null timestamp
// (timestamps without a time zone are taken as UTC). Fails if there is no value.
// INVALID_ARGUMENT if the column is not a timestamp column.
Result<BatchOutcome> CheckFreshness(const arrow::ChunkedArray& column, std::chrono::seconds max_age,
                                    std::chrono::system_clock::time_point now);

BatchOutcome CheckRowCount(int64_t rows, const RowCountCheck& check);

}  // namespace falaj::data
