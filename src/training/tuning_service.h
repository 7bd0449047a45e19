// Runs a tuning study (tuner.h) and records it in experiment tracking: one parent run for the
// study and one child run per trial (tag mlflow.parentRunId), with the trial's parameters, its
// metric per step, its final metric as "final_<metric>", status FINISHED (completed), KILLED
// (stopped early by ASHA, by the time budget or by cancellation) or FAILED, and tags
// falaj.tuning.outcome / falaj.tuning.reason saying why it ended. The parent run gets the study's
// settings as params, best_<metric> and counts as metrics, and the best trial's run id as a tag.
//
// Run returns the study summary as JSON, whose "best" object ({"trial", "run_id", "params",
// "value", "resource", "outcome"}) is what the trainer needs to retrain and register the winner.
// Errors: INVALID_ARGUMENT for a bad spec; CANCELLED (parent run KILLED); FAILED_PRECONDITION
// when no trial produced a metric (parent run FAILED); tracking errors as tracking returns them.
//
// Thread-safety: Run may be called concurrently for different studies.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "common/task_context.h"
#include "tracking/tracking_store.h"
#include "training/tuner.h"
#include "training/tuning_spec.h"

namespace falaj::training {

// Tags on tuning runs.
inline constexpr const char* kTuningRoleTag = "falaj.tuning.role";  // "study" or "trial"
inline constexpr const char* kTuningTrialTag = "falaj.tuning.trial";
inline constexpr const char* kTuningOutcomeTag = "falaj.tuning.outcome";
inline constexpr const char* kTuningReasonTag = "falaj.tuning.reason";
inline constexpr const char* kTuningBestRunTag = "falaj.tuning.best_run_id";

class TuningService {
 public:
  // `tracking` and `clock` must outlive this; the clock times the study and stamps metrics.
  explicit TuningService(tracking::TrackingStore& tracking,
                         const Clock& clock = SystemClock::Instance());

  Result<nlohmann::json> Run(std::string_view project, const TuningSpec& spec, TrialRunner& runner,
                             TaskContext& context);
  // Parses `spec` (tuning_spec.h) first.
  Result<nlohmann::json> Run(std::string_view project, const nlohmann::json& spec,
                             TrialRunner& runner, TaskContext& context);

 private:
  Result<std::string> ResolveExperiment(std::string_view project, const std::string& name);

  tracking::TrackingStore& tracking_;
  const Clock& clock_;
};

// The tracking status of a trial that ended with `outcome`.
std::string_view RunStatusFor(TrialOutcome outcome);

}  // namespace falaj::training
