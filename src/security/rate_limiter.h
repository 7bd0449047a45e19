// Token-bucket rate limiting keyed by a string (a principal's subject, a client address).
// Each key has a bucket of `burst` tokens refilled at `rate_per_second`; a request takes one.
// Buckets idle long enough to be full again are dropped, so memory stays bounded by the number
// of recently active keys.
//
// Thread-safe: buckets are spread over independently locked shards.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace falaj::security {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // rate_per_second <= 0 disables limiting (every Acquire succeeds).
  RateLimiter(double rate_per_second, double burst);

  // Takes one token for `key` at `now`. Returns zero when allowed, otherwise how long until a
  // token will be available (for Retry-After).
  std::chrono::milliseconds Acquire(std::string_view key, Clock::time_point now = Clock::now());

  // Whether `key` has a token left, without taking one.
  bool HasToken(std::string_view key, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;  // guarded by mutex
    Clock::time_point last_sweep{};                   // guarded by mutex
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(std::string_view key);
  // Requires shard.mutex. Refills the key's bucket up to `now` and returns it.
  Bucket& Refill(Shard& shard, std::string_view key, Clock::time_point now);

  const double rate_per_second_;
  const double burst_;
  std::array<Shard, kShards> shards_;
};

}  // namespace falaj::security
