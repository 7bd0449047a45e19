// XGBoostTrialRunner: the tuner's TrialRunner (tuner.h) over FitXGBoost (trainer.h). Every trial
// fits the same prepared data (split once by TrainingService::Prepare) with the training spec's
// XGBoost parameters overridden by the trial's, for at most `max_resource` boosting rounds, and
// reports the validation metric after every round; when the report says stop, the fit stops at
// once and the trial returns the value it had reached.
//
// The value of a trial is the validation metric of the model FitXGBoost keeps: the best round's
// (FitResult::best_validation_metric) with a validation split, else the last reported one.
//
// Thread-safe: RunTrial may be called from several threads at once; the prepared data is only
// read, and each call owns its booster. Each fit uses `nthread` threads, the hardware threads
// divided between the study's parallel trials (at least 1).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "common/task_context.h"
#include "training/training_service.h"
#include "training/tuner.h"

namespace falaj::training {

class XGBoostTrialRunner : public TrialRunner {
 public:
  // `prepared` must outlive the runner and use trainer "xgboost". `parallelism` is how many
  // trials run at once (threads are split between them); `hardware_threads` 0 means
  // std::thread::hardware_concurrency().
  XGBoostTrialRunner(const PreparedTraining& prepared, int parallelism,
                     unsigned hardware_threads = 0);

  // INVALID_ARGUMENT naming `params.<name>` for a parameter XGBoost does not know or refuses;
  // CANCELLED when the context asked for it before or during the fit.
  Result<double> RunTrial(const nlohmann::json& params, int max_resource,
                          const std::function<bool(int step, double value)>& report,
                          TaskContext& context) override;
  bool HigherIsBetter() const override { return higher_is_better_; }
  std::string MetricName() const override { return metric_; }

  int nthread() const { return nthread_; }

  // The XGBoost configuration a trial with `params` runs (the spec's params, the trial's over
  // them; num_boost_round = max_resource when positive). Used to retrain the winner too.
  Result<XGBoostConfig> ConfigFor(const nlohmann::json& params, int max_resource) const;

 private:
  const PreparedTraining& prepared_;
  std::string metric_;
  bool higher_is_better_ = false;
  int nthread_ = 1;
};

// The training spec `train` with `params` merged over its "params" (trial values win).
nlohmann::json MergeParams(const nlohmann::json& train, const nlohmann::json& params);

}  // namespace falaj::training
