// DynamicBatcher: coalesces concurrent single- or few-row predictions into larger runtime calls,
// like Triton's dynamic batcher. Callers block in Submit; one dedicated thread per batcher takes
// queued requests in arrival order into a batch until the next one would exceed
// max_batch_size rows, or until the oldest has waited max_queue_delay, runs the batch with one
// RunBatch call, and hands every caller its own rows of the outputs.
//
// Thread safety: Submit and queued_rows may be called concurrently from any number of threads.
// RunBatch is called only from the batcher's thread, one batch at a time, so it needs no locking
// of its own; it must not Submit to the same batcher. Submit blocks its thread (a futex wait;
// Linux only): call it from a worker thread, never from an I/O thread. The destructor may run
// while callers are blocked in Submit (they get UNAVAILABLE) and waits for them to leave, but no
// Submit may *start* once destruction has begun: owners that share a batcher with request
// threads keep it alive with the same reference the in-flight requests hold.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "common/result.h"

namespace falaj::serving {

struct BatcherOptions {
  // Rows per runtime call. A single request with more rows still runs, alone and unsplit.
  // 0 is taken as 1.
  size_t max_batch_size = 64;
  // How long the oldest queued request may wait for others before a partial batch runs.
  // 0 runs whatever is queued as soon as the batcher's thread is free.
  std::chrono::microseconds max_queue_delay{500};
  // Queued rows (not counting the batch being run) beyond this are refused.
  size_t max_queue_rows = 4096;
};

// Filled for the caller's metrics when Submit returns, successfully or not.
struct BatchTimings {
  std::chrono::nanoseconds queued{0};   // Submit → its batch started
  std::chrono::nanoseconds compute{0};  // the runtime call that produced its answer
  size_t batch_rows = 0;                // rows in that call
  // True for exactly one request of each runtime call, so per-call metrics (batch size, compute
  // time) are recorded once per call rather than once per request.
  bool first_in_batch = false;
};

class DynamicBatcher {
 public:
  // Predicts `rows` rows of `features` (rows × num_features, row-major) into `outputs`
  // (rows × num_outputs). Its error fails the requests of the call (see Submit).
  using RunBatch =
      std::function<Status(std::span<const float> features, size_t rows, std::span<float> outputs)>;

  // Starts the batcher's thread.
  DynamicBatcher(BatcherOptions options, size_t num_features, size_t num_outputs, RunBatch run);
  // Stops accepting requests, lets the batch being run finish, fails still-queued requests with
  // UNAVAILABLE, joins the thread and waits for blocked callers to leave Submit.
  ~DynamicBatcher();

  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Blocks until this request's rows are predicted; returns their outputs (rows × num_outputs)
  // in order. `features` must stay valid until Submit returns (it is copied by the batcher's
  // thread, not by Submit). `timings` may be null. Errors:
  //   INVALID_ARGUMENT   rows == 0 or features.size() != rows × num_features;
  //   PAYLOAD_TOO_LARGE  rows > max_queue_rows (the request could never be queued);
  //   RESOURCE_EXHAUSTED the queue holds too many rows to take this request now;
  //   DEADLINE_EXCEEDED  `deadline` passed before its batch started (the caller is released at
  //                      the deadline even while the runtime is busy; the request never runs);
  //   UNAVAILABLE        the batcher is shutting down;
  //   otherwise the runtime's error. When a batch of several requests fails, each of them is run
  //   again alone, so a request is failed only by its own rows (e.g. a NaN a model refuses).
  Result<std::vector<float>> Submit(std::span<const float> features, size_t rows,
                                    std::optional<std::chrono::steady_clock::time_point> deadline,
                                    BatchTimings* timings);

  // Rows currently waiting for a batch (not counting the batch being run).
  size_t queued_rows() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Request;

  void Loop();
  // Waits until a batch is due; false when the batcher is stopping.
  bool WaitForBatch(std::unique_lock<std::mutex>& lock);
  // Moves the due batch from the queue into batch_, and expired requests into expired_.
  void TakeBatch(Clock::time_point now);
  void RunTakenBatch(Clock::time_point start);
  void RetryAlone(Clock::time_point start);
  // The caller's side once queued: waits, takes its request back at its deadline, hands on the
  // wake-ups of its batch.
  Result<std::vector<float>> Await(Request& request, BatchTimings* timings);
  Status Run(std::span<const float> features, size_t rows, std::span<float> outputs);
  void Unlink(Request* request);  // requires mu_

  const BatcherOptions options_;
  const size_t num_features_;
  const size_t num_outputs_;
  const RunBatch run_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the batcher's thread waits here for a due batch
  Request* head_ = nullptr;          // guarded by mu_; the queue, oldest first (intrusive list)
  Request* tail_ = nullptr;          // guarded by mu_
  size_t queued_rows_ = 0;           // guarded by mu_
  bool stopping_ = false;            // guarded by mu_

  // Callers inside Submit past queueing; the destructor waits for them to leave.
  std::atomic<size_t> active_callers_{0};

  // Owned by the batcher's thread; reused across batches so steady state allocates nothing.
  std::vector<Request*> batch_;
  std::vector<Request*> expired_;
  std::vector<float> batch_features_;  // max_batch_size × num_features
  std::vector<float> batch_outputs_;   // max_batch_size × num_outputs

  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace falaj::serving
