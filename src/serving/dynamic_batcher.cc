#include "serving/dynamic_batcher.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <exception>
#include <utility>

namespace falaj::serving {
namespace {

// One request's completion: a futex word on the caller's stack. The caller sleeps only after
// flagging the word, so the batcher's thread makes a system call only for a sleeping caller and
// never hands a mutex back and forth. Waking a word whose caller has already returned is
// harmless (the kernel finds no sleeper there, or one that rechecks its own word), which is what
// lets it live on the stack. Measured in bench/batcher_bench.cc (BM_Completion) against a mutex
// + condition variable and std::promise (which also allocates): the cheapest of the three.
class Completion {
 public:
  void Set() {
    if (state_.exchange(kDone, std::memory_order_release) == kSleeping) {
      syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }

  void Wait() {
    for (uint32_t state = Flag(); state != kDone; state = state_.load(std::memory_order_acquire)) {
      syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
    }
  }

  // False when `deadline` passed first. steady_clock is CLOCK_MONOTONIC, the futex's clock.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    const auto since_epoch = deadline.time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const timespec until{static_cast<time_t>(seconds.count()),
                         static_cast<long>((since_epoch - seconds).count())};
    for (uint32_t state = Flag(); state != kDone; state = state_.load(std::memory_order_acquire)) {
      if (syscall(SYS_futex, &state_, FUTEX_WAIT_BITSET_PRIVATE, kSleeping, &until, nullptr,
                  FUTEX_BITSET_MATCH_ANY) != 0 &&
          errno == ETIMEDOUT) {
        return state_.load(std::memory_order_acquire) == kDone;
      }
    }
    return true;
  }

 private:
  static constexpr uint32_t kPending = 0;
  static constexpr uint32_t kDone = 1;
  static constexpr uint32_t kSleeping = 2;

  // Announces a sleeper; returns the state to wait on (kSleeping) or kDone.
  uint32_t Flag() {
    uint32_t state = kPending;
    if (state_.compare_exchange_strong(state, kSleeping, std::memory_order_acquire)) {
      return kSleeping;
    }
    return state;  // kDone
  }

  std::atomic<uint32_t> state_{kPending};
};

}  // namespace

// Lives on the caller's stack for the duration of Submit, so queueing allocates nothing beyond
// the caller's output vector.
struct DynamicBatcher::Request {
  std::span<const float> features;
  size_t rows = 0;
  std::optional<Clock::time_point> deadline;
  Clock::time_point enqueued;

  Request* prev = nullptr;  // guarded by the batcher's mu_
  Request* next = nullptr;  // guarded by the batcher's mu_
  bool queued = false;      // guarded by the batcher's mu_

  // Written before `done` is set; read by the caller after.
  std::vector<float> outputs;
  std::optional<Error> error;
  BatchTimings timings;
  // Requests of the same batch this caller finishes once it is finished itself. Waking a
  // sleeping thread is a system call that costs several times a row's prediction; spread over
  // the batch's callers as a binary tree, it leaves the batcher's thread one wake per batch and
  // the last caller log2(batch) wakes behind the first instead of batch-size.
  Request* wakes[2] = {nullptr, nullptr};
  // Per request rather than one shared condition variable: finishing a batch wakes exactly its
  // callers.
  Completion done;
};

namespace {

BatcherOptions Normalized(BatcherOptions options) {
  options.max_batch_size = std::max<size_t>(options.max_batch_size, 1);
  options.max_queue_delay = std::max(options.max_queue_delay, std::chrono::microseconds{0});
  return options;
}

}  // namespace

DynamicBatcher::DynamicBatcher(BatcherOptions options, size_t num_features, size_t num_outputs,
                               RunBatch run)
    : options_(Normalized(options)),
      num_features_(num_features),
      num_outputs_(num_outputs),
      run_(std::move(run)),
      thread_([this] { Loop(); }) {}

DynamicBatcher::~DynamicBatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
  // Every request is now finished, or will be by another caller of its batch, or was taken back
  // by its caller: what remains of each Submit is short and never blocks.
  while (active_callers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

size_t DynamicBatcher::queued_rows() const {
  std::lock_guard lock(mu_);
  return queued_rows_;
}

Result<std::vector<float>> DynamicBatcher::Submit(
    std::span<const float> features, size_t rows,
    std::optional<std::chrono::steady_clock::time_point> deadline, BatchTimings* timings) {
  const bool sized = num_features_ == 0 ? features.empty()
                                        : features.size() % num_features_ == 0 &&
                                              features.size() / num_features_ == rows;
  if (rows == 0 || !sized) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected a positive number of rows of {} features, got {} values for {} rows",
                     num_features_, features.size(), rows);
  }
  if (rows > options_.max_queue_rows) {
    return MakeError(ErrorCode::kPayloadTooLarge,
                     "request of {} rows exceeds the batch queue limit of {} rows", rows,
                     options_.max_queue_rows);
  }
  Request request;
  request.features = features;
  request.rows = rows;
  request.deadline = deadline;
  request.outputs.resize(rows * num_outputs_);
  request.enqueued = Clock::now();
  if (deadline && *deadline <= request.enqueued) {
    return MakeError(ErrorCode::kDeadlineExceeded, "deadline passed before the request was queued");
  }

  {
    std::lock_guard lock(mu_);
    if (stopping_) return MakeError(ErrorCode::kUnavailable, "the model is shutting down");
    if (queued_rows_ + rows > options_.max_queue_rows) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "batch queue full: {} rows queued, limit {} rows", queued_rows_,
                       options_.max_queue_rows);
    }
    const bool was_empty = head_ == nullptr;
    const bool fills =
        queued_rows_ < options_.max_batch_size && queued_rows_ + rows >= options_.max_batch_size;
    request.prev = tail_;
    (tail_ != nullptr ? tail_->next : head_) = &request;
    tail_ = &request;
    request.queued = true;
    queued_rows_ += rows;
    // Counted under mu_ before stopping_ can be set, so the destructor waits for this caller.
    active_callers_.fetch_add(1, std::memory_order_relaxed);
    // The batcher's thread only needs waking when it may be idle or waiting for a batch to fill.
    // Notified under mu_ so that a concurrent destructor cannot free work_cv_ first.
    if (was_empty || fills) work_cv_.notify_one();
  }

  Result<std::vector<float>> result = Await(request, timings);
  active_callers_.fetch_sub(1, std::memory_order_release);  // the last use of `this`
  return result;
}

Result<std::vector<float>> DynamicBatcher::Await(Request& request, BatchTimings* timings) {
  if (request.deadline && !request.done.WaitUntil(*request.deadline)) {
    bool taken_back = false;
    {
      std::lock_guard lock(mu_);
      if (request.queued) {
        Unlink(&request);
        taken_back = true;
      }
    }
    if (taken_back) {
      if (timings != nullptr) *timings = BatchTimings{Clock::now() - request.enqueued, {}, 0};
      return MakeError(ErrorCode::kDeadlineExceeded, "deadline passed while queued for a batch");
    }
  }
  request.done.Wait();  // its batch has started, or it was never timed
  for (Request* other : request.wakes) {
    if (other != nullptr) other->done.Set();
  }
  if (timings != nullptr) *timings = request.timings;
  if (request.error) return std::unexpected(std::move(*request.error));
  return std::move(request.outputs);
}

void DynamicBatcher::Unlink(Request* request) {
  (request->prev != nullptr ? request->prev->next : head_) = request->next;
  (request->next != nullptr ? request->next->prev : tail_) = request->prev;
  request->prev = request->next = nullptr;
  request->queued = false;
  queued_rows_ -= request->rows;
}

void DynamicBatcher::Loop() {
  std::unique_lock lock(mu_);
  while (WaitForBatch(lock)) {
    const auto now = Clock::now();
    TakeBatch(now);
    lock.unlock();
    for (Request* request : expired_) {
      request->error =
          Error{ErrorCode::kDeadlineExceeded, "deadline passed while queued for a batch"};
      request->timings = BatchTimings{now - request->enqueued, {}, 0};
      request->done.Set();
    }
    expired_.clear();
    if (!batch_.empty()) RunTakenBatch(now);
    lock.lock();
  }
  while (head_ != nullptr) {
    batch_.push_back(head_);
    Unlink(head_);
  }
  lock.unlock();
  const auto now = Clock::now();
  for (Request* request : batch_) {
    request->error = Error{ErrorCode::kUnavailable, "the model is shutting down"};
    request->timings = BatchTimings{now - request->enqueued, {}, 0};
    request->done.Set();
  }
  batch_.clear();
}

bool DynamicBatcher::WaitForBatch(std::unique_lock<std::mutex>& lock) {
  while (!stopping_) {
    if (head_ == nullptr) {
      work_cv_.wait(lock);
      continue;
    }
    if (queued_rows_ >= options_.max_batch_size || options_.max_queue_delay.count() == 0) {
      return true;
    }
    // Callers whose deadline passes take themselves out of the queue, so only the oldest
    // request's delay matters here.
    const auto due = head_->enqueued + options_.max_queue_delay;
    if (Clock::now() >= due) return true;
    work_cv_.wait_until(lock, due);
  }
  return false;
}

void DynamicBatcher::TakeBatch(Clock::time_point now) {
  size_t rows = 0;
  while (head_ != nullptr && rows < options_.max_batch_size) {
    Request* request = head_;
    if (request->deadline && *request->deadline <= now) {
      Unlink(request);
      expired_.push_back(request);
      continue;
    }
    if (!batch_.empty() && rows + request->rows > options_.max_batch_size) break;
    Unlink(request);
    batch_.push_back(request);
    rows += request->rows;
  }
}

Status DynamicBatcher::Run(std::span<const float> features, size_t rows, std::span<float> outputs) {
  try {
    return run_(features, rows, outputs);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, "model runtime failed: {}", e.what());
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "model runtime failed with an unknown exception");
  }
}

void DynamicBatcher::RunTakenBatch(Clock::time_point start) {
  if (batch_.size() == 1) {
    // Alone (including every request over max_batch_size): no copies in or out.
    Request& request = *batch_.front();
    batch_.clear();
    Status status = Run(request.features, request.rows, request.outputs);
    request.timings =
        BatchTimings{start - request.enqueued, Clock::now() - start, request.rows, true};
    if (!status) request.error = std::move(status).error();
    request.done.Set();
    return;
  }

  size_t rows = 0;
  for (const Request* request : batch_) rows += request->rows;
  if (batch_features_.size() < rows * num_features_) batch_features_.resize(rows * num_features_);
  if (batch_outputs_.size() < rows * num_outputs_) batch_outputs_.resize(rows * num_outputs_);
  float* in = batch_features_.data();
  for (const Request* request : batch_) in = std::ranges::copy(request->features, in).out;

  const auto run_start = Clock::now();
  const Status status = Run(std::span<const float>(batch_features_.data(), rows * num_features_),
                            rows, std::span<float>(batch_outputs_.data(), rows * num_outputs_));
  const auto compute = Clock::now() - run_start;

  if (!status) {
    RetryAlone(start);
    return;
  }
  const float* out = batch_outputs_.data();
  for (size_t i = 0; i < batch_.size(); ++i) {
    Request& request = *batch_[i];
    std::copy_n(out, request.outputs.size(), request.outputs.data());
    out += request.outputs.size();
    request.timings = BatchTimings{start - request.enqueued, compute, rows, i == 0};
    for (size_t child = 0; child < 2; ++child) {
      const size_t index = 2 * i + 1 + child;
      request.wakes[child] = index < batch_.size() ? batch_[index] : nullptr;
    }
  }
  batch_.front()->done.Set();  // the rest follow down the tree of `wakes`
  batch_.clear();
}

void DynamicBatcher::RetryAlone(Clock::time_point start) {
  // One bad request must not fail the others: each runs again alone, straight from and into its
  // caller's buffers, and hears back as soon as its own retry is done.
  for (Request* request : batch_) {
    const auto solo_start = Clock::now();
    Status solo = Run(request->features, request->rows, request->outputs);
    request->timings =
        BatchTimings{start - request->enqueued, Clock::now() - solo_start, request->rows, true};
    if (!solo) request->error = std::move(solo).error();
    request->done.Set();
  }
  batch_.clear();
}

}  // namespace falaj::serving
