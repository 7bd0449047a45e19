// Internal to the point-in-time join (point_in_time_join.cc): timestamp columns read as int64
// ticks. The join compares both sides in the finer of their two units (Arrow units are powers of
// 1000, so the finer is a whole multiple of the coarser), scaling each side by an integer factor
// and failing on overflow rather than wrapping.
//
// Thread-safety: the functions are pure; a CreatedTs is immutable once built, and At may be
// called from any number of threads.
#pragma once

#include <arrow/array.h>
#include <arrow/chunked_array.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/result.h"

namespace falaj::features::pit {

// Ticks per second of a timestamp column: its unit for `timestamp`, microseconds for int64.
// INVALID_ARGUMENT, naming column `name` of `where`, for any other type.
Result<int64_t> TicksPerSecond(const arrow::ChunkedArray& column, const std::string& name,
                               const std::string& where);

// How old, in ticks of `ticks_per_second`, a feature row may be and still be within `ttl`; no
// limit for a zero TTL.
uint64_t MaxAgeTicks(std::chrono::nanoseconds ttl, int64_t ticks_per_second);

// INVALID_ARGUMENT: `value` of column `name` of `where` overflows int64 when scaled by `factor`.
Status OverflowError(const std::string& name, const std::string& where, int64_t value,
                     int64_t factor);

// The entity table's timestamp column `name` as ticks scaled by `factor`, into `ticks`; null
// timestamps clear their row in `valid`.
Status EntityTicks(const arrow::ChunkedArray& column, int64_t factor, const std::string& name,
                   std::vector<int64_t>* ticks, std::vector<uint8_t>* valid);

// A view's created timestamps by row; a null one loses every tie. Read only to break a tie on the
// event timestamp, so it stays in its Arrow chunks.
class CreatedTs {
 public:
  explicit CreatedTs(const arrow::ChunkedArray& column) : column_(&column) {
    for (const auto& chunk : column.chunks()) starts_.push_back(starts_.back() + chunk->length());
  }
  int64_t At(int64_t row) const {
    const size_t c = std::upper_bound(starts_.begin(), starts_.end(), row) - starts_.begin() - 1;
    const arrow::Array& chunk = *column_->chunk(static_cast<int>(c));
    const int64_t i = row - starts_[c];
    return chunk.IsNull(i) ? std::numeric_limits<int64_t>::min()
                           : chunk.data()->GetValues<int64_t>(1)[i];
  }

 private:
  const arrow::ChunkedArray* column_ = nullptr;
  std::vector<int64_t> starts_{0};  // first row of each chunk, then the row count
};

}  // namespace falaj::features::pit
