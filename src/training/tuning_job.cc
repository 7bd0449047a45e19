// The "tune" job: prepare once, run the study, retrain and register the best configuration.
#include "training/tuning_job.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "training/tuning_spec.h"
#include "training/xgboost_trial_runner.h"

namespace falaj::training {
namespace {

// Maps a phase's progress [0, 1] into [begin, end] of the job's.
class PhaseContext : public TaskContext {
 public:
  PhaseContext(TaskContext& inner, double begin, double end, std::string prefix)
      : inner_(inner), begin_(begin), end_(end), prefix_(std::move(prefix)) {}
  void ReportProgress(double fraction, std::string_view message) override {
    fraction = std::clamp(fraction, 0.0, 1.0);
    inner_.ReportProgress(begin_ + (end_ - begin_) * fraction, prefix_ + std::string(message));
  }
  void Log(std::string_view line) override { inner_.Log(line); }
  bool CancelRequested() const override { return inner_.CancelRequested(); }

 private:
  TaskContext& inner_;
  double begin_;
  double end_;
  std::string prefix_;
};

std::unexpected<Error> InTrain(const Error& error) {
  return MakeError(error.code, "in 'train': {}", error.message);
}

}  // namespace

Status ValidateTuningJobSpec(const nlohmann::json& spec) {
  FALAJ_ASSIGN_OR_RETURN(auto tuning, ParseTuningSpec(spec));
  auto train = ParseTrainingSpec(tuning.train);
  if (!train) return InTrain(train.error());
  if (train->trainer != "xgboost") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'train.trainer' must be xgboost to tune, not {}", train->trainer);
  }
  if (tuning.algorithm == Algorithm::kAsha && tuning.asha.max_resource <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "field 'asha.max_resource' is required for asha");
  }
  return Ok();
}

Result<nlohmann::json> TuningJob::Run(std::string_view project, const nlohmann::json& spec,
                                      TaskContext& context) {
  FALAJ_RETURN_IF_ERROR(ValidateTuningJobSpec(spec));
  FALAJ_ASSIGN_OR_RETURN(TuningSpec tuning, ParseTuningSpec(spec));
  context.ReportProgress(0, "loading data");
  auto prepared = training_.Prepare(project, tuning.train, context);
  if (!prepared) {
    if (prepared.error().code == ErrorCode::kInvalidArgument) return InTrain(prepared.error());
    return std::unexpected(prepared.error());
  }
  context.Log(fmt::format("prepared {} train, {} validation, {} test rows",
                          prepared->data.train.rows, prepared->data.validation.rows,
                          prepared->data.test.rows));
  if (prepared->data.validation.rows == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'train.split.validation_fraction' must be positive to tune: trials "
                     "are compared on the validation split");
  }
  XGBoostTrialRunner runner(*prepared, tuning.parallelism);
  context.Log(fmt::format("{} trial(s) at a time, {} XGBoost thread(s) each", tuning.parallelism,
                          runner.nthread()));
  PhaseContext study_context(context, 0.02, 0.9, "");
  FALAJ_ASSIGN_OR_RETURN(nlohmann::json study, tuning_.Run(project, tuning, runner, study_context));
  const nlohmann::json& best = study["best"];
  if (!best.is_object()) {
    return MakeError(ErrorCode::kFailedPrecondition, "the study found no best trial");
  }
  if (context.CancelRequested()) return MakeError(ErrorCode::kCancelled, "tuning was cancelled");

  // Retrain the winner on the same data, as the trials trained it.
  nlohmann::json train = MergeParams(tuning.train, best.value("params", nlohmann::json::object()));
  if (tuning.asha.max_resource > 0) train["num_boost_round"] = tuning.asha.max_resource;
  if (prepared->data_lineage.contains("dataset") && prepared->data_lineage.contains("version") &&
      train.contains("data") && train["data"].contains("dataset")) {
    train["data"]["version"] = prepared->data_lineage["version"];  // the version tuned on
  }
  if (!train.contains("experiment") && !tuning.experiment.empty()) {
    train["experiment"] = tuning.experiment;
  }
  const std::string study_run_id = study.value("study_run_id", "");
  const std::string best_run_id = best.value("run_id", "");
  nlohmann::json lineage = {{"tuning",
                             {{"study_run_id", study_run_id},
                              {"best_trial_run_id", best_run_id},
                              {"best_trial", best.value("trial", 0)},
                              {"best_value", best.value("value", 0.0)},
                              {"metric", study.value("metric", "")}}}};
  context.Log(fmt::format("retraining trial {} ({}) with {}", best.value("trial", 0), best_run_id,
                          best["params"].dump()));
  PhaseContext retrain_context(context, 0.9, 1.0, "retraining the best: ");
  FALAJ_ASSIGN_OR_RETURN(nlohmann::json retrained,
                         training_.Run(project, train, retrain_context, lineage));
  if (const std::string run_id = retrained.value("run_id", ""); !run_id.empty()) {
    tracking::Batch tags;
    tags.tags = {{kTuningStudyTag, study_run_id}, {kTuningBestRunTag, best_run_id}};
    FALAJ_RETURN_IF_ERROR(tracking_.LogBatch(project, run_id, tags));
  }
  study["retrained"] = retrained;
  if (retrained.contains("model")) {
    study["model"] = retrained["model"];
    study["version"] = retrained["version"];
    context.Log(fmt::format("registered {} version {}", retrained["model"].get<std::string>(),
                            retrained["version"].dump()));
  }
  context.ReportProgress(1, fmt::format("done: best {} {} (trial {})", study.value("metric", ""),
                                        best.value("value", 0.0), best.value("trial", 0)));
  return study;
}

}  // namespace falaj::training
