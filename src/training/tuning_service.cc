#include "training/tuning_service.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "tracking/tracking_validation.h"

namespace falaj::training {
namespace {

using nlohmann::json;

// A parameter value as MLflow shows it: strings bare, everything else as JSON.
std::string ParamText(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string_view Direction(bool higher_is_better) {
  return higher_is_better ? "maximize" : "minimize";
}

// Records trials as child runs of the study's run. Tracking errors do not stop the study (the
// trials still run); the first one is kept and fails the study at the end, since its record
// would be incomplete.
class TrackingRecorder : public TrialObserver {
 public:
  TrackingRecorder(tracking::TrackingStore& tracking, const Clock& clock, std::string project,
                   std::string experiment_id, std::string parent_run_id, std::string metric)
      : tracking_(tracking),
        clock_(clock),
        project_(std::move(project)),
        experiment_id_(std::move(experiment_id)),
        parent_run_id_(std::move(parent_run_id)),
        metric_(std::move(metric)) {}

  void OnTrialStart(const TrialRecord& trial) override {
    tracking::NewRun run;
    run.experiment_id = experiment_id_;
    run.run_name = fmt::format("trial-{}", trial.number);
    run.start_time_ms = ToUnixMillis(clock_.Now());
    run.tags = {{tracking::kParentRunTag, parent_run_id_},
                {kTuningRoleTag, "trial"},
                {kTuningTrialTag, std::to_string(trial.number)}};
    auto created = tracking_.CreateRun(project_, std::move(run));
    if (!created) return Remember(created.error());
    // In batches of what one may hold; a space rarely has more than a few dozen parameters.
    tracking::Batch batch;
    for (const auto& [name, value] : trial.params.items()) {
      batch.params.emplace_back(name, ParamText(value));
      if (batch.params.size() == tracking::kMaxBatchParams) Log(created->info.run_id, batch);
    }
    if (!batch.params.empty()) Log(created->info.run_id, batch);
    std::lock_guard lock(mu_);
    run_ids_[trial.number] = created->info.run_id;
  }

  void OnTrialEnd(const TrialRecord& trial) override {
    const std::string run_id = RunId(trial.number);
    if (run_id.empty()) return;  // its creation failed and was remembered
    const int64_t now = ToUnixMillis(clock_.Now());
    tracking::Batch batch;
    batch.tags = {{kTuningOutcomeTag, std::string(TrialOutcomeName(trial.outcome))},
                  {kTuningReasonTag, trial.reason.substr(0, tracking::kMaxTagValueBytes)}};
    // In batches of what one may hold: a boosting run can have thousands of rounds.
    for (const auto& [step, value] : trial.curve) {
      batch.metrics.push_back({metric_, value, now, step});
      if (batch.metrics.size() == tracking::kMaxBatchMetrics) Log(run_id, batch);
    }
    if (trial.value)
      batch.metrics.push_back({"final_" + metric_, *trial.value, now, trial.resource});
    Log(run_id, batch);
    auto updated = tracking_.UpdateRun(
        project_, run_id, {std::string(RunStatusFor(trial.outcome)), now, std::nullopt});
    if (!updated) Remember(updated.error());
  }

  std::string RunId(int trial) {
    std::lock_guard lock(mu_);
    auto found = run_ids_.find(trial);
    return found == run_ids_.end() ? "" : found->second;
  }

  Status FirstError() {
    std::lock_guard lock(mu_);
    if (error_) return std::unexpected(*error_);
    return Ok();
  }

 private:
  // Logs and clears `batch`, remembering a failure.
  void Log(const std::string& run_id, tracking::Batch& batch) {
    if (auto logged = tracking_.LogBatch(project_, run_id, batch); !logged) {
      Remember(logged.error());
    }
    batch = {};
  }
  void Remember(const Error& error) {
    std::lock_guard lock(mu_);
    if (!error_) error_ = error;
  }

  tracking::TrackingStore& tracking_;
  const Clock& clock_;
  const std::string project_, experiment_id_, parent_run_id_, metric_;
  std::mutex mu_;
  std::map<int, std::string> run_ids_;  // guarded by mu_
  std::optional<Error> error_;          // guarded by mu_
};

json StudyParams(const TuningSpec& spec, const StudyOptions& options) {
  json params = {{"algorithm", AlgorithmName(spec.algorithm)},
                 {"max_trials", spec.max_trials},
                 {"parallelism", spec.parallelism},
                 {"seed", spec.seed},
                 {"metric", options.metric},
                 {"direction", Direction(options.higher_is_better)}};
  if (spec.max_seconds) params["max_seconds"] = *spec.max_seconds;
  if (spec.asha.max_resource > 0) params["max_resource"] = spec.asha.max_resource;
  if (spec.algorithm == Algorithm::kAsha) {
    params["min_resource"] = spec.asha.min_resource;
    params["reduction_factor"] = spec.asha.reduction_factor;
  }
  return params;
}

json TrialJson(const TrialRecord& trial, const std::string& run_id) {
  return {{"trial", trial.number},           {"run_id", run_id},
          {"params", trial.params},          {"value", trial.value ? json(*trial.value) : json()},
          {"resource", trial.resource},      {"outcome", TrialOutcomeName(trial.outcome)},
          {"end_seconds", trial.end_seconds}};
}

// Fails before anything is recorded if a parameter or the metric could not be logged.
Status CheckTrackingKeys(const TuningSpec& spec, const StudyOptions& options) {
  for (const auto& param : spec.space.params()) {
    if (auto valid = tracking::ValidateKey("param", param.name); !valid) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'space.{}': {}", param.name,
                       valid.error().message);
    }
  }
  if (auto valid = tracking::ValidateKey("metric", "final_" + options.metric); !valid) {
    return MakeError(ErrorCode::kInvalidArgument, "field 'metric': {}", valid.error().message);
  }
  return Ok();
}

}  // namespace

std::string_view RunStatusFor(TrialOutcome outcome) {
  switch (outcome) {
    case TrialOutcome::kCompleted:
      return "FINISHED";
    case TrialOutcome::kFailed:
      return "FAILED";
    case TrialOutcome::kStoppedEarly:
    case TrialOutcome::kDeadline:
    case TrialOutcome::kCancelled:
      return "KILLED";
  }
  return "FAILED";
}

TuningService::TuningService(tracking::TrackingStore& tracking, const Clock& clock)
    : tracking_(tracking), clock_(clock) {}

Result<std::string> TuningService::ResolveExperiment(std::string_view project,
                                                     const std::string& name) {
  if (name.empty()) {
    FALAJ_ASSIGN_OR_RETURN(auto experiment, tracking_.GetExperiment(project, "0"));
    return experiment.experiment_id;
  }
  auto found = tracking_.GetExperimentByName(project, name);
  if (!found && found.error().code == ErrorCode::kNotFound) {
    found = tracking_.CreateExperiment(project, name, {});
    // Another study may have created it between the two calls.
    if (!found && found.error().code == ErrorCode::kAlreadyExists) {
      found = tracking_.GetExperimentByName(project, name);
    }
  }
  if (!found) return std::unexpected(found.error());
  return found->experiment_id;
}

Result<nlohmann::json> TuningService::Run(std::string_view project, const nlohmann::json& spec,
                                          TrialRunner& runner, TaskContext& context) {
  FALAJ_ASSIGN_OR_RETURN(auto parsed, ParseTuningSpec(spec));
  return Run(project, parsed, runner, context);
}

Result<nlohmann::json> TuningService::Run(std::string_view project, const TuningSpec& spec,
                                          TrialRunner& runner, TaskContext& context) {
  StudyOptions options = MakeStudyOptions(spec, runner);
  options.clock = &clock_;
  FALAJ_RETURN_IF_ERROR(CheckTrackingKeys(spec, options));
  FALAJ_ASSIGN_OR_RETURN(auto experiment_id, ResolveExperiment(project, spec.experiment));

  tracking::NewRun study_run;
  study_run.experiment_id = experiment_id;
  study_run.run_name = fmt::format("tune-{}", AlgorithmName(spec.algorithm));
  study_run.start_time_ms = ToUnixMillis(clock_.Now());
  study_run.tags = {{kTuningRoleTag, "study"}};
  FALAJ_ASSIGN_OR_RETURN(auto parent, tracking_.CreateRun(project, std::move(study_run)));
  const std::string parent_id = parent.info.run_id;
  tracking::Batch settings;
  const json study_params = StudyParams(spec, options);  // items() must not outlive it
  for (const auto& [key, value] : study_params.items()) {
    settings.params.emplace_back(key, ParamText(value));
  }
  FALAJ_RETURN_IF_ERROR(tracking_.LogBatch(project, parent_id, settings));
  auto finish_parent = [&](std::string_view status) {
    return tracking_.UpdateRun(project, parent_id,
                               {std::string(status), ToUnixMillis(clock_.Now()), std::nullopt});
  };

  TrackingRecorder recorder(tracking_, clock_, std::string(project), experiment_id, parent_id,
                            options.metric);
  auto study = RunStudy(spec.space, options, runner, context, &recorder);
  if (!study) {
    (void)finish_parent(study.error().code == ErrorCode::kCancelled ? "KILLED" : "FAILED");
    return std::unexpected(study.error());
  }
  if (auto recorded = recorder.FirstError(); !recorded) {
    (void)finish_parent("FAILED");
    return std::unexpected(recorded.error());
  }

  json counts = json::object();
  for (auto outcome : {TrialOutcome::kCompleted, TrialOutcome::kStoppedEarly,
                       TrialOutcome::kDeadline, TrialOutcome::kCancelled, TrialOutcome::kFailed}) {
    counts[TrialOutcomeName(outcome)] = 0;
  }
  json trials = json::array();
  for (const auto& trial : study->trials) {
    counts[TrialOutcomeName(trial.outcome)] =
        counts[TrialOutcomeName(trial.outcome)].get<int>() + 1;
    trials.push_back(TrialJson(trial, recorder.RunId(trial.number)));
  }
  json result = {{"experiment_id", experiment_id},
                 {"study_run_id", parent_id},
                 {"algorithm", AlgorithmName(spec.algorithm)},
                 {"metric", options.metric},
                 {"direction", Direction(options.higher_is_better)},
                 {"trials_started", study->trials.size()},
                 {"outcomes", counts},
                 {"total_resource", study->total_resource},
                 {"elapsed_seconds", study->elapsed_seconds},
                 {"deadline_reached", study->deadline_reached},
                 {"best", nullptr},
                 {"trials", trials}};

  tracking::Batch summary;
  const int64_t now = ToUnixMillis(clock_.Now());
  for (const auto& [outcome, count] : counts.items()) {
    summary.metrics.push_back({"trials_" + outcome, count.get<double>(), now, 0});
  }
  summary.metrics.push_back({"total_resource", static_cast<double>(study->total_resource), now, 0});
  if (!study->best) {
    FALAJ_RETURN_IF_ERROR(tracking_.LogBatch(project, parent_id, summary));
    (void)finish_parent("FAILED");
    const auto& first = study->trials.front();
    return MakeError(ErrorCode::kFailedPrecondition,
                     "no trial of {} produced a metric; trial {}: {}", study->trials.size(),
                     first.number, first.reason);
  }
  const TrialRecord& best = study->trials[static_cast<size_t>(*study->best)];
  result["best"] = TrialJson(best, recorder.RunId(best.number));
  summary.metrics.push_back({"best_" + options.metric, *best.value, now, 0});
  summary.tags = {{kTuningBestRunTag, recorder.RunId(best.number)},
                  {"falaj.tuning.best_trial", std::to_string(best.number)}};
  FALAJ_RETURN_IF_ERROR(tracking_.LogBatch(project, parent_id, summary));
  FALAJ_RETURN_IF_ERROR(finish_parent("FINISHED"));
  context.ReportProgress(
      1.0, fmt::format("{} trials, best {} {:.4f} (trial {})", study->trials.size(), options.metric,
                       *best.value, best.number));
  return result;
}

}  // namespace falaj::training
