#include "security/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace falaj::security {
namespace {

using std::chrono::milliseconds;

TEST(RateLimiterTest, BurstThenRefillAtTheRate) {
  RateLimiter limiter(10.0, 3.0);
  auto start = RateLimiter::Clock::time_point() + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("a", start), milliseconds(0)) << i;
  EXPECT_EQ(limiter.Acquire("a", start), milliseconds(100));  // one token takes 1/10 s
  EXPECT_EQ(limiter.Acquire("b", start), milliseconds(0));    // keys are independent
  EXPECT_FALSE(limiter.HasToken("a", start + milliseconds(99)));
  EXPECT_TRUE(limiter.HasToken("a", start + milliseconds(100)));
  EXPECT_EQ(limiter.Acquire("a", start + milliseconds(100)), milliseconds(0));
  // Refill never exceeds the burst.
  auto later = start + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("a", later), milliseconds(0));
  EXPECT_GT(limiter.Acquire("a", later), milliseconds(0));
}

TEST(RateLimiterTest, DisabledAllowsEverything) {
  RateLimiter limiter(0, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.Acquire("a"), milliseconds(0));
}

TEST(RateLimiterTest, ConcurrentCallersNeverExceedTheBurst) {
  RateLimiter limiter(0.001, 50.0);  // effectively no refill during the test
  auto now = RateLimiter::Clock::now();
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.Acquire("shared", now) == milliseconds(0)) granted++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 50);
}

TEST(RateLimiterTest, ManyKeysAreSweptOnceFull) {
  RateLimiter limiter(1000.0, 1.0);
  auto now = RateLimiter::Clock::now();
  for (int i = 0; i < 10000; ++i) limiter.Acquire("k" + std::to_string(i), now);
  // Long after every bucket refilled, a key behaves as new.
  EXPECT_EQ(limiter.Acquire("k1", now + std::chrono::seconds(10)), milliseconds(0));
}

}  // namespace
}  // namespace falaj::security
