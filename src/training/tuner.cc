#include "training/tuner.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "common/worker_pool.h"
#include "training/random_search.h"

namespace falaj::training {
namespace {

using namespace std::chrono_literals;

// How long the coordinating thread sleeps between looks at the clock and the cancellation flag
// when no trial ends; trials that end wake it at once.
constexpr auto kPollInterval = 50ms;

class Study {
 public:
  Study(const SearchSpace& space, const StudyOptions& options, TrialRunner& runner,
        TaskContext& context, TrialObserver* observer)
      : options_(options),
        sampler_(space, options.seed),
        runner_(runner),
        context_(context),
        observer_(observer),
        trials_(static_cast<size_t>(options.max_trials)) {
    if (options.algorithm == Algorithm::kAsha) {
      asha_.emplace(options.asha, options.higher_is_better);
    }
  }

  Result<StudyResult> Run() {
    start_ = options_.clock->Now();
    {
      WorkerPool pool(options_.parallelism, "tuning");
      std::unique_lock lock(mu_);
      while (true) {
        if (context_.CancelRequested()) cancelled_ = true;
        if (DeadlinePassed()) deadline_reached_ = true;
        const bool may_start = !cancelled_ && !deadline_reached_ && started_ < options_.max_trials;
        if (!may_start && running_ == 0) break;
        if (may_start && running_ < options_.parallelism) {
          const size_t index = static_cast<size_t>(started_++);
          ++running_;
          trials_[index].number = static_cast<int>(index) + 1;
          trials_[index].params = sampler_.SampleTrial(trials_[index].number);
          ReportProgress();
          pool.Submit([this, index] { RunTrial(trials_[index]); });
          continue;
        }
        cv_.wait_for(lock, kPollInterval);
      }
    }  // every trial has returned; the pool joins its idle workers
    if (cancelled_) {
      return MakeError(ErrorCode::kCancelled, "tuning was cancelled after {} trials", started_);
    }
    StudyResult result;
    trials_.resize(static_cast<size_t>(started_));
    result.trials = std::move(trials_);
    result.best = ChooseBest(result.trials);
    result.deadline_reached = deadline_reached_;
    for (const auto& trial : result.trials) result.total_resource += trial.resource;
    result.elapsed_seconds = ElapsedSeconds();
    return result;
  }

 private:
  double ElapsedSeconds() const {
    return std::chrono::duration<double>(options_.clock->Now() - start_).count();
  }
  bool DeadlinePassed() const {
    return options_.max_seconds && ElapsedSeconds() >= *options_.max_seconds;
  }
  bool Better(double a, double b) const { return options_.higher_is_better ? a > b : a < b; }

  std::optional<int> ChooseBest(const std::vector<TrialRecord>& trials) const {
    std::optional<int> best_completed, best_any;
    for (size_t i = 0; i < trials.size(); ++i) {
      const auto& value = trials[i].value;
      if (!value || std::isnan(*value)) continue;
      if (!best_any || Better(*value, *trials[*best_any].value)) best_any = static_cast<int>(i);
      if (trials[i].outcome == TrialOutcome::kCompleted &&
          (!best_completed || Better(*value, *trials[*best_completed].value))) {
        best_completed = static_cast<int>(i);
      }
    }
    return best_completed ? best_completed : best_any;
  }

  // Called on the trial's worker thread after each unit of resource; true means go on.
  bool OnReport(TrialRecord& trial, int step, double value, std::optional<TrialOutcome>& stop) {
    trial.curve.emplace_back(step, value);
    trial.resource = step;
    if (context_.CancelRequested()) {
      stop = TrialOutcome::kCancelled;
      trial.reason = fmt::format("cancelled at step {}", step);
      return false;
    }
    if (asha_) {
      AshaDecision decision = asha_->OnReport(trial.number, step, value);
      if (decision.stop) {
        stop = TrialOutcome::kStoppedEarly;
        trial.reason = decision.cutoff
                           ? fmt::format(
                                 "stopped by ASHA at rung {}: {} {:.6g} is outside the top 1/{} "
                                 "(cutoff {:.6g})",
                                 *decision.rung, options_.metric, value,
                                 options_.asha.reduction_factor, *decision.cutoff)
                           : fmt::format("stopped by ASHA at step {}: {} is not a number", step,
                                         options_.metric);
        return false;
      }
    }
    if (DeadlinePassed()) {
      stop = TrialOutcome::kDeadline;
      trial.reason =
          fmt::format("time budget of {}s reached at step {}", *options_.max_seconds, step);
      return false;
    }
    return options_.asha.max_resource <= 0 || step < options_.asha.max_resource;
  }

  // Runs on a worker thread; only this thread touches `trial` until it is counted as ended.
  void RunTrial(TrialRecord& trial) {
    if (observer_) observer_->OnTrialStart(trial);
    std::optional<TrialOutcome> stop;
    auto report = [&](int step, double value) { return OnReport(trial, step, value, stop); };
    Result<double> result = 0.0;
    Status guarded = RunGuarded(fmt::format("trial {}", trial.number), [&]() -> Status {
      result = runner_.RunTrial(trial.params, options_.asha.max_resource, report, context_);
      return Ok();
    });
    if (!guarded) result = std::unexpected(guarded.error());
    if (result) {
      trial.value = *result;
      trial.outcome = stop.value_or(TrialOutcome::kCompleted);
      if (trial.outcome == TrialOutcome::kCompleted) {
        trial.reason = fmt::format("completed after {} steps", trial.resource);
      }
    } else if (result.error().code == ErrorCode::kCancelled) {
      trial.outcome = TrialOutcome::kCancelled;
      trial.reason = result.error().message;
    } else {
      trial.outcome = TrialOutcome::kFailed;
      trial.reason = fmt::format("failed: {}", result.error().message);
    }
    trial.end_seconds = ElapsedSeconds();
    if (observer_) observer_->OnTrialEnd(trial);
    context_.Log(trial.value ? fmt::format("trial {} {}: {} {:.6g}; {}", trial.number,
                                           TrialOutcomeName(trial.outcome), options_.metric,
                                           *trial.value, trial.reason)
                             : fmt::format("trial {} {}", trial.number, trial.reason));
    std::lock_guard lock(mu_);
    --running_;
    ++ended_;
    if (trial.value && !std::isnan(*trial.value) &&
        (!best_value_ || Better(*trial.value, *best_value_))) {
      best_value_ = trial.value;
      best_number_ = trial.number;
    }
    ReportProgress();
    cv_.notify_all();
  }

  // Requires mu_.
  void ReportProgress() {
    double fraction = static_cast<double>(ended_) / options_.max_trials;
    if (options_.max_seconds && *options_.max_seconds > 0) {
      fraction = std::max(fraction, ElapsedSeconds() / *options_.max_seconds);
    }
    std::string message =
        fmt::format("trial {}/{} running {}", started_, options_.max_trials, running_);
    if (best_value_) {
      message +=
          fmt::format(", best {} {:.4f} (trial {})", options_.metric, *best_value_, best_number_);
    }
    context_.ReportProgress(std::min(fraction, 1.0), message);
  }

  const StudyOptions& options_;
  const RandomSampler sampler_;
  TrialRunner& runner_;
  TaskContext& context_;
  TrialObserver* const observer_;
  std::optional<AshaScheduler> asha_;
  std::chrono::system_clock::time_point start_;

  std::mutex mu_;
  std::condition_variable cv_;
  // Sized once, so a worker's reference to its trial stays valid while others start.
  std::vector<TrialRecord> trials_;
  int started_ = 0;         // guarded by mu_
  int running_ = 0;         // guarded by mu_
  int ended_ = 0;           // guarded by mu_
  bool cancelled_ = false;  // guarded by mu_
  std::atomic<bool> deadline_reached_{false};
  std::optional<double> best_value_;  // guarded by mu_
  int best_number_ = 0;               // guarded by mu_
};

}  // namespace

std::string_view AlgorithmName(Algorithm algorithm) {
  return algorithm == Algorithm::kAsha ? "asha" : "random";
}

std::string_view TrialOutcomeName(TrialOutcome outcome) {
  switch (outcome) {
    case TrialOutcome::kCompleted:
      return "completed";
    case TrialOutcome::kStoppedEarly:
      return "stopped_early";
    case TrialOutcome::kDeadline:
      return "deadline";
    case TrialOutcome::kCancelled:
      return "cancelled";
    case TrialOutcome::kFailed:
      return "failed";
  }
  return "?";
}

Result<StudyResult> RunStudy(const SearchSpace& space, const StudyOptions& options,
                             TrialRunner& runner, TaskContext& context, TrialObserver* observer) {
  if (options.max_trials < 1 || options.parallelism < 1 || options.clock == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a study needs max_trials ≥ 1, parallelism ≥ 1 and a clock");
  }
  if (options.algorithm == Algorithm::kAsha)
    FALAJ_RETURN_IF_ERROR(ValidateAshaConfig(options.asha));
  Study study(space, options, runner, context, observer);
  return study.Run();
}

}  // namespace falaj::training
