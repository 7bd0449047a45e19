// Test support for the tuner: a synthetic TrialRunner whose learning curves are known in
// advance, a settable clock and a TaskContext that keeps what it is told. Thread-safe where the
// tuner needs it (runner, clock and context are called from parallel trials).
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/task_context.h"
#include "training/tuner.h"

namespace falaj::training {

// Time that moves only when told to.
class FakeClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(millis_.load()));
  }
  void Advance(std::chrono::milliseconds by) { millis_ += by.count(); }

 private:
  std::atomic<int64_t> millis_{1'700'000'000'000};
};

// Records progress messages and log lines; cancellable like NullTaskContext.
class RecordingContext : public NullTaskContext {
 public:
  void ReportProgress(double fraction, std::string_view message) override {
    std::lock_guard lock(mu_);
    fractions.push_back(fraction);
    messages.emplace_back(message);
  }
  void Log(std::string_view line) override {
    std::lock_guard lock(mu_);
    lines.emplace_back(line);
  }
  std::mutex mu_;
  std::vector<double> fractions;
  std::vector<std::string> messages, lines;
};

// A trial's quality is its parameter "q" ∈ [0, 1): the metric after `step` rounds is
// q·(1 − e^(−step/10)), so curves never cross and a better q is better at every step. Per-call
// hooks let a test fail, cancel or time a trial.
class CurveRunner : public TrialRunner {
 public:
  static double Value(double q, int step) { return q * (1 - std::exp(-step / 10.0)); }

  Result<double> RunTrial(const nlohmann::json& params, int max_resource,
                          const std::function<bool(int, double)>& report,
                          TaskContext& context) override {
    const int call = ++calls;
    const int now = ++in_flight;
    for (int seen = max_in_flight.load();
         now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
    }
    struct Leave {
      std::atomic<int>& count;
      ~Leave() { --count; }
    } leave{in_flight};
    if (before_trial) FALAJ_RETURN_IF_ERROR(before_trial(call));
    const double q = params.at("q").get<double>();
    double value = 0;
    for (int step = 1; step <= max_resource; ++step) {
      if (clock) clock->Advance(std::chrono::seconds(1));
      value = Value(q, step);
      ++resource;
      if (on_step) on_step(call, step, context);
      if (!report(step, value)) break;
    }
    return value;
  }
  bool HigherIsBetter() const override { return true; }
  std::string MetricName() const override { return "auc"; }

  std::function<Status(int call)> before_trial;
  std::function<void(int call, int step, TaskContext&)> on_step;
  FakeClock* clock = nullptr;
  std::atomic<int> calls{0}, in_flight{0}, max_in_flight{0};
  std::atomic<int64_t> resource{0};
};

inline nlohmann::json QualitySpace() {
  return {{"q", {{"type", "uniform"}, {"low", 0.0}, {"high", 1.0}}}};
}

}  // namespace falaj::training
