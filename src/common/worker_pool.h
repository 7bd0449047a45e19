// A small pool of worker threads for one parallel job, and ParallelFor over it. ParallelFor lets
// its calling thread claim items too, so an item running on a worker can fan out on the same pool
// without deadlock: it only ever waits for items that running threads hold. An exception thrown
// by an item becomes an error Status instead of ending the process.
//
// Thread-safety: Submit and ParallelFor may be called from any thread, the pool's workers
// included. The destructor runs what is still queued, then joins the workers; nothing may call
// the pool once its destruction has begun.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"

namespace falaj {

class WorkerPool {
 public:
  // Starts `workers` threads; zero is fine (ParallelFor then runs every item on its caller).
  // `job` names the work in the errors that exceptions turn into (see RunGuarded). Throws
  // std::system_error when a thread cannot start.
  WorkerPool(int workers, std::string job);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t size() const { return workers_.size(); }
  const std::string& job() const { return job_; }

  // Queues `task` for the next idle worker. The task must not throw.
  void Submit(std::function<void()> task);

 private:
  void Loop();

  const std::string job_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::jthread> workers_;        // last, so threads join before the rest is destroyed
};

// fn(), with an exception it throws turned into an error naming `job`: RESOURCE_EXHAUSTED for
// std::bad_alloc ("<job> ran out of memory"), INTERNAL for any other std::exception.
Status RunGuarded(std::string_view job, const std::function<Status()>& fn);

// Runs fn(0) … fn(n-1) on the caller and the pool's idle workers, each guarded as by RunGuarded,
// and returns when all have finished: Ok, or the first error that an item returned.
Status ParallelFor(WorkerPool& pool, size_t n, std::function<Status(size_t)> fn);

}  // namespace falaj
