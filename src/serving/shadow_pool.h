// A small bounded pool for shadow (mirrored) predictions: they run off the request's critical
// path, and when the pool already holds `capacity` calls a new one is refused at once (the caller
// counts the drop) rather than queued without bound or waited for.
//
// Thread-safety: TrySubmit may be called concurrently. The destructor runs what is queued, then
// joins the workers.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>

#include "common/worker_pool.h"

namespace falaj::serving {

class ShadowPool {
 public:
  ShadowPool(int workers, size_t capacity);
  // Queues `task` (which must not throw) unless the pool is full; false means it was dropped.
  bool TrySubmit(std::function<void()> task);

 private:
  const size_t capacity_;
  std::atomic<size_t> pending_{0};  // queued or running
  WorkerPool pool_;                 // last: its workers join before the counter goes
};

}  // namespace falaj::serving
