#include "serving/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace falaj::serving {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr size_t kFeatures = 2;
constexpr size_t kOutputs = 2;

// A model with two features and two outputs per row (sum, difference) that records every batch
// it sees, refuses NaN, and can hold its first batch until the test releases it: while it is
// held, the test queues requests and so decides exactly what the following batches contain.
class ScriptedModel {
 public:
  explicit ScriptedModel(bool hold_first) : hold_first_(hold_first) {}

  DynamicBatcher::RunBatch Fn() {
    return [this](std::span<const float> features, size_t rows, std::span<float> outputs) {
      return Run(features, rows, outputs);
    };
  }
  void WaitUntilFirstBatchRuns() { first_started_.wait(); }
  void Release() { gate_.count_down(); }

  std::vector<size_t> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::vector<float> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  Status Run(std::span<const float> features, size_t rows, std::span<float> outputs) {
    bool first = false;
    {
      std::lock_guard lock(mu_);
      first = batches_.empty();
      batches_.push_back(rows);
      for (size_t r = 0; r < rows && r * kFeatures < features.size(); ++r) {
        seen_.push_back(features[r * kFeatures]);
      }
    }
    if (first && hold_first_) {
      first_started_.count_down();
      gate_.wait();
    }
    if (features.size() != rows * kFeatures || outputs.size() != rows * kOutputs) {
      return MakeError(ErrorCode::kInternal, "bad spans");
    }
    for (size_t r = 0; r < rows; ++r) {
      const float a = features[r * kFeatures];
      const float b = features[r * kFeatures + 1];
      if (std::isnan(a) || std::isnan(b)) {
        return MakeError(ErrorCode::kInvalidArgument, "row {} has a NaN", r);
      }
      outputs[r * kOutputs] = a + b;
      outputs[r * kOutputs + 1] = a - b;
    }
    return Ok();
  }

  const bool hold_first_;
  std::latch first_started_{1};
  std::latch gate_{1};
  mutable std::mutex mu_;
  std::vector<size_t> batches_;  // guarded by mu_
  std::vector<float> seen_;      // guarded by mu_: first feature of every row run
};

// Rows whose first feature is `base`, base+1, … and whose second is 0.5.
std::vector<float> Rows(float base, size_t rows) {
  std::vector<float> features;
  for (size_t r = 0; r < rows; ++r) {
    features.push_back(base + static_cast<float>(r));
    features.push_back(0.5f);
  }
  return features;
}

std::vector<float> Expected(const std::vector<float>& features) {
  std::vector<float> outputs;
  for (size_t i = 0; i < features.size(); i += kFeatures) {
    outputs.push_back(features[i] + features[i + 1]);
    outputs.push_back(features[i] - features[i + 1]);
  }
  return outputs;
}

struct Outcome {
  Result<std::vector<float>> result;
  BatchTimings timings;
};

std::future<Outcome> SubmitAsync(DynamicBatcher& batcher, std::vector<float> features,
                                 std::optional<Clock::time_point> deadline = std::nullopt) {
  return std::async(std::launch::async, [&batcher, features = std::move(features), deadline] {
    Outcome outcome;
    outcome.result =
        batcher.Submit(features, features.size() / kFeatures, deadline, &outcome.timings);
    return outcome;
  });
}

// Waits for a state the batcher reaches without the test's help (no clock involved).
void WaitUntilQueued(const DynamicBatcher& batcher, size_t rows) {
  while (batcher.queued_rows() != rows) std::this_thread::yield();
}

// Holds the model in its first batch with a one-row request; returns that request.
std::future<Outcome> Prime(DynamicBatcher& batcher, ScriptedModel& model) {
  auto primer = SubmitAsync(batcher, Rows(-1, 1));
  model.WaitUntilFirstBatchRuns();
  return primer;
}

TEST(DynamicBatcherTest, ManyThreadsEachGetTheirOwnOutputsInOrder) {
  constexpr int kThreads = 16;
  constexpr int kRequestsPerThread = 200;
  BatcherOptions options;
  options.max_batch_size = 8;
  options.max_queue_delay = microseconds{50};
  ScriptedModel model(/*hold_first=*/true);
  DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());
  auto primer = Prime(batcher, model);

  std::vector<std::jthread> threads;
  std::vector<int> failures(kThreads, 0);
  size_t expected_rows = 1;  // the primer
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kRequestsPerThread; ++i) expected_rows += 1 + (t + i) % 3;
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequestsPerThread; ++i) {
        // Distinct values everywhere; 1–3 rows so batches mix request sizes.
        const auto features = Rows(static_cast<float>(t * 100000 + i * 10), 1 + (t + i) % 3);
        BatchTimings timings;
        auto result = batcher.Submit(features, features.size() / kFeatures, std::nullopt, &timings);
        if (!result || *result != Expected(features) || timings.batch_rows == 0) ++failures[t];
      }
    });
  }
  // Every thread's first request (1 + t % 3 rows) is queued behind the held batch.
  size_t first_rows = 0;
  for (int t = 0; t < kThreads; ++t) first_rows += 1 + t % 3;
  WaitUntilQueued(batcher, first_rows);
  model.Release();
  threads.clear();

  EXPECT_TRUE(primer.get().result);
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
  const auto batches = model.batches();
  // The held batch, then the queued first requests coalesced: at least 6 of the 31 queued
  // rows (no request has more than 3), so several requests.
  ASSERT_GE(batches.size(), 2u);
  EXPECT_EQ(batches[0], 1u);
  EXPECT_GE(batches[1], 6u);
  EXPECT_LE(batches[1], options.max_batch_size);
  for (size_t rows : batches) EXPECT_LE(rows, options.max_batch_size);
  EXPECT_EQ(std::accumulate(batches.begin(), batches.end(), size_t{0}), expected_rows);
}

TEST(DynamicBatcherTest, RequestsQueuedWhileBusyRunAsOneBatch) {
  constexpr int kWaiting = 40;  // a wake-up tree several levels deep
  BatcherOptions options;
  options.max_queue_delay = microseconds{0};
  ScriptedModel model(/*hold_first=*/true);
  DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());
  auto primer = Prime(batcher, model);
  std::vector<std::future<Outcome>> waiting;
  for (int i = 0; i < kWaiting; ++i) waiting.push_back(SubmitAsync(batcher, Rows(i * 10, 1)));
  WaitUntilQueued(batcher, kWaiting);
  model.Release();
  for (int i = 0; i < kWaiting; ++i) {
    Outcome outcome = waiting[i].get();
    ASSERT_TRUE(outcome.result) << outcome.result.error().message;
    EXPECT_EQ(*outcome.result, Expected(Rows(i * 10, 1)));
    EXPECT_EQ(outcome.timings.batch_rows, size_t{kWaiting});
  }
  EXPECT_EQ(model.batches(), (std::vector<size_t>{1, kWaiting}));
}

TEST(DynamicBatcherTest, BatchesStopAtMaxBatchSizeAndOversizedRequestsRunAlone) {
  BatcherOptions options;
  options.max_batch_size = 4;
  options.max_queue_delay = microseconds{0};
  ScriptedModel model(/*hold_first=*/true);
  DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());
  auto primer = Prime(batcher, model);
  // Queued in this order, one at a time so the order is fixed.
  const std::vector<size_t> sizes = {1, 2, 1, 3, 9, 2};
  std::vector<std::future<Outcome>> waiting;
  size_t queued = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    waiting.push_back(SubmitAsync(batcher, Rows(i * 100, sizes[i])));
    WaitUntilQueued(batcher, queued += sizes[i]);
  }
  model.Release();
  for (size_t i = 0; i < sizes.size(); ++i) {
    Outcome outcome = waiting[i].get();
    ASSERT_TRUE(outcome.result);
    EXPECT_EQ(*outcome.result, Expected(Rows(i * 100, sizes[i])));
  }
  // [1 2 1] fills 4; 3 cannot take 9; 9 runs alone, unsplit; then 2.
  EXPECT_EQ(model.batches(), (std::vector<size_t>{1, 4, 3, 9, 2}));
}

TEST(DynamicBatcherTest, FullBatchRunsWithoutWaitingForTheDelay) {
  BatcherOptions options;
  options.max_batch_size = 4;
  options.max_queue_delay = hours{1};  // a broken fill trigger would hang the test, not pass it
  ScriptedModel model(/*hold_first=*/false);
  DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());
  std::vector<std::future<Outcome>> waiting;
  for (int i = 0; i < 4; ++i) waiting.push_back(SubmitAsync(batcher, Rows(i, 1)));
  for (int i = 0; i < 4; ++i) {
    Outcome outcome = waiting[i].get();
    ASSERT_TRUE(outcome.result);
    EXPECT_EQ(*outcome.result, Expected(Rows(i, 1)));
    EXPECT_EQ(outcome.timings.batch_rows, 4u);
  }
  EXPECT_EQ(model.batches(), (std::vector<size_t>{4}));
}

TEST(DynamicBatcherTest, PartialBatchRunsOnceTheDelayPasses) {
  for (auto delay : {microseconds{0}, microseconds{200}}) {
    BatcherOptions options;
    options.max_queue_delay = delay;
    ScriptedModel model(/*hold_first=*/false);
    DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());
    BatchTimings timings;
    auto result = batcher.Submit(Rows(7, 2), 2, std::nullopt, &timings);
    ASSERT_TRUE(result);
    EXPECT_EQ(*result, Expected(Rows(7, 2)));
    EXPECT_EQ(timings.batch_rows, 2u);
  }
}

TEST(DynamicBatcherTest, FullQueueIsRefusedWithItsLimit) {
  BatcherOptions options;
  options.max_queue_rows = 4;
  options.max_queue_delay = microseconds{0};
  ScriptedModel model(/*hold_first=*/true);
  DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());
  auto primer = Prime(batcher, model);
  auto first = SubmitAsync(batcher, Rows(10, 2));
  WaitUntilQueued(batcher, 2);
  auto second = SubmitAsync(batcher, Rows(20, 2));
  WaitUntilQueued(batcher, 4);

  auto refused = batcher.Submit(Rows(30, 1), 1, std::nullopt, nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.error().message.find("limit 4 rows"), std::string::npos)
      << refused.error().message;
  auto too_large = batcher.Submit(Rows(40, 5), 5, std::nullopt, nullptr);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, ErrorCode::kPayloadTooLarge);

  model.Release();
  EXPECT_TRUE(first.get().result);
  EXPECT_TRUE(second.get().result);
  EXPECT_TRUE(primer.get().result);
  EXPECT_EQ(batcher.queued_rows(), 0u);
  EXPECT_TRUE(batcher.Submit(Rows(50, 4), 4, std::nullopt, nullptr));  // room again
}

TEST(DynamicBatcherTest, ExpiredRequestsAreFailedWithoutRunning) {
  BatcherOptions options;
  options.max_queue_delay = microseconds{0};
  ScriptedModel model(/*hold_first=*/true);
  DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());

  BatchTimings timings;
  auto past = batcher.Submit(Rows(500, 1), 1, Clock::now() - milliseconds{1}, &timings);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, ErrorCode::kDeadlineExceeded);

  // While the model is held, a queued request's deadline passes: its caller is released and
  // the request leaves the queue.
  auto primer = Prime(batcher, model);
  auto queued = batcher.Submit(Rows(600, 1), 1, Clock::now() + milliseconds{20}, &timings);
  ASSERT_FALSE(queued);
  EXPECT_EQ(queued.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(timings.batch_rows, 0u);
  EXPECT_EQ(batcher.queued_rows(), 0u);

  auto in_time = SubmitAsync(batcher, Rows(700, 1), Clock::now() + hours{1});
  WaitUntilQueued(batcher, 1);
  model.Release();
  EXPECT_TRUE(primer.get().result);
  EXPECT_TRUE(in_time.get().result);
  EXPECT_EQ(model.seen(), (std::vector<float>{-1, 700}));
}

// Deadlines that race the batches: whatever the interleaving, a caller gets its own outputs
// or DEADLINE_EXCEEDED, and a request that got DEADLINE_EXCEEDED never ran.
TEST(DynamicBatcherTest, DeadlinesRacingBatchesNeverRunExpiredRequests) {
  constexpr int kThreads = 8;
  constexpr int kRequestsPerThread = 300;
  BatcherOptions options;
  options.max_batch_size = 4;
  options.max_queue_delay = microseconds{100};
  std::mutex mu;
  std::multiset<float> ran;  // guarded by mu
  DynamicBatcher batcher(
      options, kFeatures, kOutputs,
      [&](std::span<const float> features, size_t rows, std::span<float> outputs) -> Status {
        {
          std::lock_guard lock(mu);
          for (size_t r = 0; r < rows; ++r) ran.insert(features[r * kFeatures]);
        }
        const auto busy_until = Clock::now() + microseconds{30};  // lets deadlines pass
        while (Clock::now() < busy_until) {
        }
        for (size_t r = 0; r < rows; ++r) {
          outputs[r * kOutputs] = features[r * kFeatures] + features[r * kFeatures + 1];
          outputs[r * kOutputs + 1] = features[r * kFeatures] - features[r * kFeatures + 1];
        }
        return Ok();
      });
  std::vector<std::multiset<float>> answered(kThreads);
  std::vector<int> wrong(kThreads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kRequestsPerThread; ++i) {
          const auto features = Rows(static_cast<float>(t * 100000 + i * 10), 1);
          auto result =
              batcher.Submit(features, 1, Clock::now() + microseconds{20 * (i % 8)}, nullptr);
          if (result) {
            answered[t].insert(features[0]);
            if (*result != Expected(features)) ++wrong[t];
          } else if (result.error().code != ErrorCode::kDeadlineExceeded) {
            ++wrong[t];
          }
        }
      });
    }
  }
  EXPECT_EQ(wrong, std::vector<int>(kThreads, 0));
  std::multiset<float> all_answered;
  for (const auto& set : answered) all_answered.insert(set.begin(), set.end());
  std::lock_guard lock(mu);
  EXPECT_EQ(ran, all_answered);
  EXPECT_EQ(batcher.queued_rows(), 0u);
}

TEST(DynamicBatcherTest, DestructorFailsQueuedRequestsWithUnavailable) {
  BatcherOptions options;
  options.max_batch_size = 8;
  options.max_queue_delay = hours{1};  // queued requests can only leave by shutdown
  ScriptedModel model(/*hold_first=*/true);
  auto batcher = std::make_unique<DynamicBatcher>(options, kFeatures, kOutputs, model.Fn());
  auto running = SubmitAsync(*batcher, Rows(1, 8));  // full: runs now, and is held
  model.WaitUntilFirstBatchRuns();
  std::vector<std::future<Outcome>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(SubmitAsync(*batcher, Rows(100 * i, 1)));
  WaitUntilQueued(*batcher, 3);

  std::jthread destroyer([&] { batcher.reset(); });
  model.Release();
  destroyer.join();
  Outcome ran = running.get();
  EXPECT_TRUE(ran.result);  // the batch in progress finishes
  for (auto& future : queued) {
    Outcome outcome = future.get();
    ASSERT_FALSE(outcome.result);
    EXPECT_EQ(outcome.result.error().code, ErrorCode::kUnavailable);
  }
  EXPECT_EQ(model.batches(), (std::vector<size_t>{8}));
}

// Shutdown aimed at the moment queued callers' deadlines pass: each caller hears UNAVAILABLE or
// DEADLINE_EXCEEDED whichever comes first, and none touches the batcher after it is gone (the
// sanitizer builds check that part).
TEST(DynamicBatcherTest, ShutdownRacingDeadlinesAnswersEveryCaller) {
  constexpr int kCallers = 8;
  BatcherOptions options;
  options.max_queue_delay = hours{1};
  ScriptedModel model(/*hold_first=*/false);
  auto batcher = std::make_unique<DynamicBatcher>(options, kFeatures, kOutputs, model.Fn());
  const auto deadline = Clock::now() + milliseconds{30};
  std::vector<std::future<Outcome>> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.push_back(
        SubmitAsync(*batcher, Rows(i, 1), i % 2 == 0 ? std::optional(deadline) : std::nullopt));
  }
  // Every caller is inside Submit (queued, or already answered) before destruction starts.
  auto entered = [&] {
    size_t answered = 0;
    for (auto& caller : callers) {
      answered += caller.wait_for(std::chrono::seconds{0}) == std::future_status::ready;
    }
    return answered + batcher->queued_rows() == kCallers;
  };
  while (!entered()) std::this_thread::yield();
  std::this_thread::sleep_until(deadline);  // aims the race; no outcome depends on it
  batcher.reset();
  for (int i = 0; i < kCallers; ++i) {
    Outcome outcome = callers[i].get();
    ASSERT_FALSE(outcome.result);
    const ErrorCode code = outcome.result.error().code;
    EXPECT_TRUE(code == ErrorCode::kUnavailable ||
                (i % 2 == 0 && code == ErrorCode::kDeadlineExceeded))
        << ErrorCodeName(code);
  }
  EXPECT_TRUE(model.batches().empty());
}

TEST(DynamicBatcherTest, ABadRequestFailsOnlyItself) {
  BatcherOptions options;
  options.max_queue_delay = microseconds{0};
  ScriptedModel model(/*hold_first=*/true);
  DynamicBatcher batcher(options, kFeatures, kOutputs, model.Fn());
  auto primer = Prime(batcher, model);
  auto good1 = SubmitAsync(batcher, Rows(10, 2));
  WaitUntilQueued(batcher, 2);
  auto bad = SubmitAsync(batcher, {20, NAN});
  WaitUntilQueued(batcher, 3);
  auto good2 = SubmitAsync(batcher, Rows(30, 1));
  WaitUntilQueued(batcher, 4);
  model.Release();

  Outcome first = good1.get();
  ASSERT_TRUE(first.result);
  EXPECT_EQ(*first.result, Expected(Rows(10, 2)));
  EXPECT_EQ(first.timings.batch_rows, 2u);  // answered by its retry alone
  Outcome failed = bad.get();
  ASSERT_FALSE(failed.result);
  EXPECT_EQ(failed.result.error().code, ErrorCode::kInvalidArgument);
  Outcome last = good2.get();
  ASSERT_TRUE(last.result);
  EXPECT_EQ(*last.result, Expected(Rows(30, 1)));
  EXPECT_TRUE(primer.get().result);
  EXPECT_EQ(model.batches(), (std::vector<size_t>{1, 4, 2, 1, 1}));
}

TEST(DynamicBatcherTest, RuntimeErrorsAndExceptionsReachTheCaller) {
  BatcherOptions options;
  options.max_queue_delay = microseconds{0};
  DynamicBatcher failing(options, kFeatures, kOutputs,
                         [](std::span<const float>, size_t, std::span<float>) -> Status {
                           return MakeError(ErrorCode::kUnavailable, "runtime gone");
                         });
  auto failed = failing.Submit(Rows(1, 1), 1, std::nullopt, nullptr);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message, "runtime gone");

  DynamicBatcher throwing(options, kFeatures, kOutputs,
                          [](std::span<const float>, size_t, std::span<float>) -> Status {
                            throw std::runtime_error("boom");
                          });
  auto thrown = throwing.Submit(Rows(1, 1), 1, std::nullopt, nullptr);
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().code, ErrorCode::kInternal);
}

TEST(DynamicBatcherTest, MalformedRequestsAreInvalidArguments) {
  ScriptedModel model(/*hold_first=*/false);
  DynamicBatcher batcher(BatcherOptions{}, kFeatures, kOutputs, model.Fn());
  const std::vector<float> three = {1, 2, 3};
  for (auto [values, rows] : {std::pair<size_t, size_t>{0, 0}, {2, 0}, {3, 1}, {3, 2}, {2, 2}}) {
    auto result =
        batcher.Submit(std::span<const float>(three).first(values), rows, std::nullopt, nullptr);
    ASSERT_FALSE(result) << values << " values, " << rows << " rows";
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(model.batches().empty());
}

}  // namespace
}  // namespace falaj::serving
