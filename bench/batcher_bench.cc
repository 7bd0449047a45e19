// Google Benchmark of the dynamic batcher: single-row predictions from 1, 8 and 32 threads
// through one batcher, against the same threads calling the model directly. The model is a
// synthetic tree ensemble (~1–2 µs a row) plus an optional fixed cost per call, which is what
// batching amortises (runtime dispatch, input conversion, thread-pool hand-off in real
// runtimes). Counters: rows_per_s (all threads) and mean_batch_rows (rows per model call).
// Also compares the two per-request completions the batcher could use (mutex + condition
// variable, std::promise).
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "serving/dynamic_batcher.h"

namespace falaj::serving {
namespace {

constexpr size_t kFeatures = 16;

// Complete binary trees of fixed depth in breadth-first arrays, like a compiled XGBoost model.
class Forest {
 public:
  Forest(int trees, int depth) : trees_(trees), depth_(depth) {
    std::mt19937 random(42);
    std::uniform_int_distribution<uint32_t> feature(0, kFeatures - 1);
    std::uniform_real_distribution<float> value(0.0f, 1.0f);
    const size_t inner = (size_t{1} << depth) - 1;
    for (size_t i = 0; i < static_cast<size_t>(trees) * inner; ++i) {
      split_feature_.push_back(feature(random));
      threshold_.push_back(value(random));
    }
    for (size_t i = 0; i < static_cast<size_t>(trees) << depth; ++i) leaf_.push_back(value(random));
  }

  float PredictRow(const float* row) const {
    const size_t inner = (size_t{1} << depth_) - 1;
    float sum = 0;
    for (int t = 0; t < trees_; ++t) {
      const uint32_t* features = &split_feature_[t * inner];
      const float* thresholds = &threshold_[t * inner];
      size_t node = 0;
      for (int level = 0; level < depth_; ++level) {
        node = 2 * node + 1 + (row[features[node]] > thresholds[node] ? 1 : 0);
      }
      sum += leaf_[(static_cast<size_t>(t) << depth_) + node - inner];
    }
    return sum;
  }

 private:
  int trees_;
  int depth_;
  std::vector<uint32_t> split_feature_;
  std::vector<float> threshold_;
  std::vector<float> leaf_;
};

const Forest& Model() {
  static const Forest forest(/*trees=*/100, /*depth=*/6);
  return forest;
}

void SpinFor(std::chrono::microseconds duration) {
  if (duration.count() == 0) return;
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
  }
}

Status Predict(std::span<const float> features, size_t rows, std::span<float> outputs,
               std::chrono::microseconds call_cost) {
  SpinFor(call_cost);
  for (size_t r = 0; r < rows; ++r) outputs[r] = Model().PredictRow(&features[r * kFeatures]);
  return Ok();
}

std::vector<float> RandomRows(size_t rows, uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::vector<float> features(rows * kFeatures);
  for (float& f : features) f = value(random);
  return features;
}

constexpr size_t kPoolRows = 256;

void BM_Direct(benchmark::State& state) {
  const std::chrono::microseconds call_cost{state.range(0)};
  const auto pool = RandomRows(kPoolRows, state.thread_index());
  float output = 0;
  size_t row = 0;
  for (auto _ : state) {
    auto status = Predict(std::span(pool).subspan(row * kFeatures, kFeatures), 1,
                          std::span(&output, 1), call_cost);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(output);
    row = (row + 1) % kPoolRows;
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) state.counters["mean_batch_rows"] = 1;
}

std::unique_ptr<DynamicBatcher> batcher;  // shared by the threads of one BM_Batcher run
std::atomic<size_t> calls{0};
std::atomic<size_t> rows_run{0};

void BM_Batcher(benchmark::State& state) {
  if (state.thread_index() == 0) {
    const std::chrono::microseconds call_cost{state.range(0)};
    BatcherOptions options;
    options.max_batch_size = 64;
    options.max_queue_delay = std::chrono::microseconds{state.range(1)};
    calls = 0;
    rows_run = 0;
    batcher = std::make_unique<DynamicBatcher>(
        options, kFeatures, 1,
        [call_cost](std::span<const float> features, size_t rows, std::span<float> outputs) {
          calls.fetch_add(1, std::memory_order_relaxed);
          rows_run.fetch_add(rows, std::memory_order_relaxed);
          return Predict(features, rows, outputs, call_cost);
        });
  }
  const auto pool = RandomRows(kPoolRows, state.thread_index());
  size_t row = 0;
  size_t failures = 0;
  for (auto _ : state) {  // all threads start here together, after thread 0 built the batcher
    auto result = batcher->Submit(std::span(pool).subspan(row * kFeatures, kFeatures), 1,
                                  std::nullopt, nullptr);
    if (!result) ++failures;
    benchmark::DoNotOptimize(result);
    row = (row + 1) % kPoolRows;
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  if (failures != 0) state.SkipWithError("a Submit failed");
  if (state.thread_index() == 0) {  // every thread has left the loop
    state.counters["mean_batch_rows"] =
        calls == 0 ? 0.0 : static_cast<double>(rows_run) / static_cast<double>(calls);
    batcher.reset();
  }
}

// Arguments: call cost in µs, and for the batcher max_queue_delay in µs.
void DirectShapes(benchmark::internal::Benchmark* b) { b->ArgNames({"call_us"})->Arg(0)->Arg(20); }
void BatcherShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"call_us", "delay_us"})->ArgsProduct({{0, 20}, {0, 500}});
}

BENCHMARK(BM_Direct)->Apply(DirectShapes)->Threads(1)->Threads(8)->Threads(32)->UseRealTime();
BENCHMARK(BM_Batcher)->Apply(BatcherShapes)->Threads(1)->Threads(8)->Threads(32)->UseRealTime();

// The per-request completion: created by the caller, set by another thread, waited for.
struct CvCompletion {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  void Set() {
    std::lock_guard lock(mu);
    done = true;
    cv.notify_one();
  }
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  }
};

struct PromiseCompletion {
  std::promise<void> promise;
  std::future<void> future = promise.get_future();
  void Set() { promise.set_value(); }
  void Wait() { future.wait(); }
};

// The completion dynamic_batcher.cc uses: a futex word the waiter flags before sleeping, so the
// setter makes a system call only for a sleeper and no mutex is handed back and forth.
class FutexCompletion {
 public:
  void Set() {
    if (state_.exchange(kDone, std::memory_order_release) == kSleeping) {
      syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }
  void Wait() {
    uint32_t state = kPending;
    if (state_.compare_exchange_strong(state, kSleeping, std::memory_order_acquire)) {
      state = kSleeping;
    }
    while (state != kDone) {
      syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
      state = state_.load(std::memory_order_acquire);
    }
  }

 private:
  static constexpr uint32_t kPending = 0, kDone = 1, kSleeping = 2;
  std::atomic<uint32_t> state_{kPending};
};

template <typename Completion>
void BM_Completion(benchmark::State& state) {
  std::atomic<Completion*> slot{nullptr};
  std::atomic<bool> stop{false};
  std::jthread setter([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (Completion* completion = slot.exchange(nullptr)) completion->Set();
    }
  });
  for (auto _ : state) {
    Completion completion;
    slot.store(&completion);
    completion.Wait();
  }
  stop = true;
}
BENCHMARK(BM_Completion<CvCompletion>)->UseRealTime();
BENCHMARK(BM_Completion<PromiseCompletion>)->UseRealTime();
BENCHMARK(BM_Completion<FutexCompletion>)->UseRealTime();

void BM_ModelRow(benchmark::State& state) {
  const auto pool = RandomRows(kPoolRows, 7);
  size_t row = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Model().PredictRow(&pool[row * kFeatures]));
    row = (row + 1) % kPoolRows;
  }
}
BENCHMARK(BM_ModelRow);

}  // namespace
}  // namespace falaj::serving

BENCHMARK_MAIN();
