// The tuning engine: runs a study of trials, each a configuration sampled at random
// (random_search.h), `parallelism` at a time on a bounded WorkerPool, optionally stopping trials
// early with ASHA (asha.h), within a budget of trials and of time, and reports progress and
// cancellation through TaskContext. It knows nothing of what a trial trains (TrialRunner) nor of
// where trials are recorded (TrialObserver; TuningService records them in experiment tracking).
//
// Budgets: no trial starts once max_trials have started, once max_seconds have passed (by the
// injected clock), or once cancellation was asked for. At the deadline, running trials are
// stopped at their next report and recorded as kDeadline with the value they had reached; on
// cancellation they stop the same way (kCancelled) and RunStudy returns CANCELLED after they all
// returned.
//
// Thread-safety: RunStudy blocks its caller until every trial it started has returned. The
// runner and observer are called concurrently from up to `parallelism` worker threads.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/task_context.h"
#include "training/asha.h"
#include "training/search_space.h"

namespace falaj::training {

// What one trial trains. The lead's adapter runs the trainer with `params` merged into the
// training spec; tests use synthetic learning curves.
class TrialRunner {
 public:
  virtual ~TrialRunner() = default;

  // Trains one configuration for at most `max_resource` units of resource (XGBoost boosting
  // rounds); `max_resource` ≤ 0 means the training spec's own length. After each unit it calls
  // report(step, value) with step = units done so far (1, 2, …) and the validation metric; when
  // report returns false the trial must stop at once (ASHA's decision, the deadline or a
  // cancellation) and return the value it had reached. Returns the trial's final metric, or an
  // error (CANCELLED if it saw context.CancelRequested()). Called from several threads at once,
  // one trial per call.
  virtual Result<double> RunTrial(const nlohmann::json& params, int max_resource,
                                  const std::function<bool(int step, double value)>& report,
                                  TaskContext& context) = 0;
  // Whether a larger metric is better (AUC, accuracy) or worse (RMSE, log loss).
  virtual bool HigherIsBetter() const = 0;
  // The metric's name, for progress messages and tracking ("auc", "rmse").
  virtual std::string MetricName() const = 0;
};

enum class Algorithm { kRandom, kAsha };
std::string_view AlgorithmName(Algorithm algorithm);  // "random" or "asha"

enum class TrialOutcome {
  kCompleted,     // ran its full resource, or its runner ended it on its own
  kStoppedEarly,  // ASHA stopped it at a rung
  kDeadline,      // stopped because max_seconds had passed
  kCancelled,     // stopped because the study was cancelled
  kFailed,        // its runner returned an error (or threw)
};
std::string_view TrialOutcomeName(TrialOutcome outcome);

struct TrialRecord {
  int number = 0;  // from 1, in start order
  nlohmann::json params;
  std::vector<std::pair<int, double>> curve;  // (step, value) as reported
  std::optional<double> value;                // the final metric; absent if it failed
  TrialOutcome outcome = TrialOutcome::kCompleted;
  std::string reason;      // why it ended, for people ("stopped by ASHA at rung 9: 0.81 < 0.84")
  int resource = 0;        // the last step reported
  double end_seconds = 0;  // when it ended, in seconds since the study started
};

// Hooks for recording trials; called on worker threads, possibly concurrently for different
// trials, but never concurrently for one trial, and OnTrialStart before OnTrialEnd.
class TrialObserver {
 public:
  virtual ~TrialObserver() = default;
  virtual void OnTrialStart(const TrialRecord& trial) = 0;
  virtual void OnTrialEnd(const TrialRecord& trial) = 0;
};

struct StudyOptions {
  Algorithm algorithm = Algorithm::kRandom;
  int max_trials = 20;
  std::optional<double> max_seconds;
  int parallelism = 1;
  uint64_t seed = 0;
  AshaConfig asha;  // max_resource is every trial's budget under either algorithm
  bool higher_is_better = true;
  std::string metric = "metric";
  const Clock* clock = &SystemClock::Instance();
};

struct StudyResult {
  std::vector<TrialRecord> trials;  // by number
  // The best trial among those completed; if none completed, the best among those with a value.
  std::optional<int> best;  // index into trials
  bool deadline_reached = false;
  int64_t total_resource = 0;  // the sum of the trials' resource
  double elapsed_seconds = 0;
};

// Runs the study; `space` must be parsed, options valid (ParseTuningSpec checks them).
// Errors: CANCELLED when the context asked for it (after every started trial returned).
Result<StudyResult> RunStudy(const SearchSpace& space, const StudyOptions& options,
                             TrialRunner& runner, TaskContext& context,
                             TrialObserver* observer = nullptr);

}  // namespace falaj::training
