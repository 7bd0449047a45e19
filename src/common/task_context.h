// What a long-running task (a job: training, tuning, a custom command) sees of the job that runs
// it: a way to report progress, to append to its log, and to learn that cancellation was asked
// for. Domain modules (training, tuning) take a TaskContext& so they can run under the jobs
// subsystem without depending on it, and run synchronously in tests with NullTaskContext.
//
// Thread-safety: implementations must accept calls from any thread (a tuner's parallel trials
// report through one context). NullTaskContext is thread-safe.
#pragma once

#include <atomic>
#include <string_view>

namespace falaj {

class TaskContext {
 public:
  virtual ~TaskContext() = default;

  // `fraction` is the share of the work done, in [0, 1]; `message` is a short human summary of
  // where the task is ("trial 7/20, best auc 0.934"). Both replace the previous report.
  virtual void ReportProgress(double fraction, std::string_view message) = 0;
  // Appends one line to the task's log.
  virtual void Log(std::string_view line) = 0;
  // True once cancellation was requested; the task should stop at its next safe point and
  // return a CANCELLED error.
  virtual bool CancelRequested() const = 0;
};

// For running a task outside the jobs subsystem (tests, benchmarks): discards reports and logs;
// Cancel() makes CancelRequested() true.
class NullTaskContext : public TaskContext {
 public:
  void ReportProgress(double, std::string_view) override {}
  void Log(std::string_view) override {}
  bool CancelRequested() const override { return cancelled_.load(std::memory_order_relaxed); }
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace falaj
