#include "features/pit_timestamps.h"

#include <arrow/type.h>

namespace falaj::features::pit {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace

Result<int64_t> TicksPerSecond(const arrow::ChunkedArray& column, const std::string& name,
                               const std::string& where) {
  const auto& type = *column.type();
  if (type.id() == arrow::Type::INT64) return 1'000'000;
  if (type.id() == arrow::Type::TIMESTAMP) {
    constexpr int64_t kTicks[] = {1, 1'000, 1'000'000, kNanosPerSecond};  // by arrow::TimeUnit
    return kTicks[static_cast<const arrow::TimestampType&>(type).unit()];
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "column '{}' of {} must be timestamp or int64, not {}", name, where,
                   type.ToString());
}

uint64_t MaxAgeTicks(std::chrono::nanoseconds ttl, int64_t ticks_per_second) {
  // Ticks are integers, so e - f <= ttl exactly when e - f <= floor(ttl in ticks).
  return ttl.count() == 0 ? std::numeric_limits<uint64_t>::max()
                          : ttl.count() / (kNanosPerSecond / ticks_per_second);
}

Status OverflowError(const std::string& name, const std::string& where, int64_t value,
                     int64_t factor) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "column '{}' of {}: value {} overflows int64 when scaled by {} to the other "
                   "side's time unit",
                   name, where, value, factor);
}

Status EntityTicks(const arrow::ChunkedArray& column, int64_t factor, const std::string& name,
                   std::vector<int64_t>* ticks, std::vector<uint8_t>* valid) {
  ticks->resize(column.length());
  int64_t row = 0;
  for (const auto& chunk : column.chunks()) {
    const int64_t* values = chunk->data()->GetValues<int64_t>(1);
    for (int64_t i = 0; i < chunk->length(); ++i, ++row) {
      if (chunk->IsNull(i)) {
        (*valid)[row] = 0;
      } else if (__builtin_mul_overflow(values[i], factor, &(*ticks)[row])) {
        return OverflowError(name, "the entity table", values[i], factor);
      }
    }
  }
  return Ok();
}

}  // namespace falaj::features::pit
