#include "common/worker_pool.h"

#include <atomic>
#include <exception>
#include <memory>
#include <new>
#include <utility>

namespace falaj {

WorkerPool::WorkerPool(int workers, std::string job) : job_(std::move(job)) {
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void WorkerPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void WorkerPool::Loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

Status RunGuarded(std::string_view job, const std::function<Status()>& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kResourceExhausted, "{} ran out of memory", job);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, "{} failed: {}", job, e.what());
  }
}

Status ParallelFor(WorkerPool& pool, size_t n, std::function<Status(size_t)> fn) {
  // Shared with the submitted tasks, which may start only after every item is done and this call
  // has returned: they then find no item left. `job` views the pool's name, which outlives them.
  struct State {
    std::function<Status(size_t)> fn;
    std::string_view job;
    size_t n = 0;
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0;  // guarded by mu
    Status status;    // guarded by mu
  };
  auto state = std::make_shared<State>();
  state->fn = std::move(fn);
  state->job = pool.job();
  state->n = n;
  auto work = [](State& s) {
    for (size_t i; (i = s.next.fetch_add(1)) < s.n;) {
      Status status = RunGuarded(s.job, [&s, i] { return s.fn(i); });
      std::lock_guard lock(s.mu);
      if (!status && s.status) s.status = std::move(status);
      if (++s.done == s.n) s.cv.notify_all();
    }
  };
  for (size_t i = 1; i < n && i <= pool.size(); ++i) pool.Submit([state, work] { work(*state); });
  work(*state);
  std::unique_lock lock(state->mu);
  state->cv.wait(lock, [&] { return state->done == state->n; });
  return state->status;
}

}  // namespace falaj
