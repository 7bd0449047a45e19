// The "tune" job: a tuning spec (tuning_spec.h) whose "train" part is an XGBoost training spec.
// It prepares the data once (TrainingService::Prepare), runs the study over an
// XGBoostTrialRunner (TuningService::Run: the study and trial runs in tracking, progress
// messages), then retrains the best configuration through the normal training path
// (TrainingService::Run, so the winner gets a tracked run, a test evaluation and — when the train
// spec has "register" — a registered version). The registered version's lineage holds the data
// lineage plus {"tuning": {"study_run_id", "best_trial_run_id", "best_trial"}}.
//
// The job's result is the study summary (tuning_service.h) plus "retrained": the training
// summary, and at the top level "model"/"version" when a version was registered.
//
// Thread-safe: holds no mutable state; concurrent jobs share only the services, which are.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"
#include "common/task_context.h"
#include "tracking/tracking_store.h"
#include "training/training_service.h"
#include "training/tuning_service.h"

namespace falaj::training {

// Tag on the retrained run: the study it came from.
inline constexpr const char* kTuningStudyTag = "falaj.tuning.study_run_id";

// Checks a "tune" job spec at submission: the tuning spec and its training spec (trainer must be
// xgboost). INVALID_ARGUMENT naming the field ("train.params.max_depth", "asha.max_resource").
Status ValidateTuningJobSpec(const nlohmann::json& spec);

class TuningJob {
 public:
  // Nothing is owned; everything must outlive the job runner.
  TuningJob(TrainingService& training, TuningService& tuning, tracking::TrackingStore& tracking)
      : training_(training), tuning_(tuning), tracking_(tracking) {}

  // The jobs subsystem's handler. Errors: INVALID_ARGUMENT for a bad spec, CANCELLED,
  // FAILED_PRECONDITION when no trial produced a metric, and the services' errors.
  Result<nlohmann::json> Run(std::string_view project, const nlohmann::json& spec,
                             TaskContext& context);

 private:
  TrainingService& training_;
  TuningService& tuning_;
  tracking::TrackingStore& tracking_;
};

}  // namespace falaj::training
