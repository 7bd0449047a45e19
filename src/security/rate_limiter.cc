#include "security/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace falaj::security {

RateLimiter::RateLimiter(double rate_per_second, double burst)
    : rate_per_second_(rate_per_second), burst_(std::max(1.0, burst)) {}

RateLimiter::Shard& RateLimiter::ShardFor(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

RateLimiter::Bucket& RateLimiter::Refill(Shard& shard, std::string_view key,
                                         Clock::time_point now) {
  // Every so often drop buckets that have refilled completely: they hold no state worth keeping.
  auto full_after = std::chrono::duration<double>(burst_ / rate_per_second_);
  if (now - shard.last_sweep > std::chrono::duration_cast<Clock::duration>(full_after) &&
      shard.buckets.size() > 64) {
    std::erase_if(shard.buckets,
                  [&](const auto& entry) { return now - entry.second.updated >= full_after; });
    shard.last_sweep = now;
  }
  auto [found, inserted] = shard.buckets.try_emplace(std::string(key), Bucket{burst_, now});
  Bucket& bucket = found->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(burst_, bucket.tokens + std::max(0.0, elapsed) * rate_per_second_);
    bucket.updated = std::max(bucket.updated, now);
  }
  return bucket;
}

std::chrono::milliseconds RateLimiter::Acquire(std::string_view key, Clock::time_point now) {
  if (rate_per_second_ <= 0) return std::chrono::milliseconds(0);
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  Bucket& bucket = Refill(shard, key, now);
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return std::chrono::milliseconds(0);
  }
  double wait_seconds = (1.0 - bucket.tokens) / rate_per_second_;
  return std::chrono::milliseconds(
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_seconds * 1000))));
}

bool RateLimiter::HasToken(std::string_view key, Clock::time_point now) {
  if (rate_per_second_ <= 0) return true;
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  return Refill(shard, key, now).tokens >= 1.0;
}

}  // namespace falaj::security
