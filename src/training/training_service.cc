// TrainingService::Run: the tracked run around a fit, evaluation, artifacts and registration.
#include "training/training_service.h"

#include <chrono>
#include <cmath>

#include "common/clock.h"
#include "training/distributed_xgboost.h"
#include "training/evaluation.h"
#include "training/linear_trainer.h"

namespace falaj::training {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Trained {
  std::string artifact;  // model file contents
  std::string format;    // registry format
  std::vector<float> test_predictions;
  std::string metric_name;
  std::vector<double> history;
  int iterations = 0;
  int best_iteration = -1;
  nlohmann::json distributed;  // {"workers", "engine"} for a distributed fit
};

std::unexpected<Error> Cancelled() {
  return MakeError(ErrorCode::kCancelled, "training was cancelled");
}

// Logs a metric series in batches of the tracking store's limit.
Status LogSeries(tracking::TrackingStore& tracking, std::string_view project,
                 const std::string& run_id, const std::string& key,
                 const std::vector<double>& values) {
  tracking::Batch batch;
  const int64_t now = NowMs();
  for (size_t i = 0; i < values.size(); ++i) {
    batch.metrics.push_back({key, values[i], now, static_cast<int64_t>(i)});
    if (batch.metrics.size() == tracking::kMaxBatchMetrics || i + 1 == values.size()) {
      FALAJ_RETURN_IF_ERROR(tracking.LogBatch(project, run_id, batch));
      batch.metrics.clear();
    }
  }
  return Ok();
}

Status LogParams(tracking::TrackingStore& tracking, std::string_view project,
                 const std::string& run_id, const TrainingSpec& spec) {
  std::vector<std::pair<std::string, std::string>> params = {
      {"trainer", spec.trainer},
      {"label", spec.label},
      {"split.method", std::string(SplitMethodName(spec.split.method))},
      {"split.validation_fraction", fmt::format("{}", spec.split.validation_fraction)},
      {"split.test_fraction", fmt::format("{}", spec.split.test_fraction)},
      {"split.seed", std::to_string(spec.split.seed)},
      {"features", nlohmann::json(spec.features).dump()}};
  if (spec.trainer == "xgboost") {
    params.emplace_back("objective", spec.objective);
    params.emplace_back("num_boost_round", std::to_string(spec.num_boost_round));
    params.emplace_back("early_stopping_rounds", std::to_string(spec.early_stopping_rounds));
    if (spec.num_class > 0) params.emplace_back("num_class", std::to_string(spec.num_class));
    for (const auto& [key, value] : spec.xgboost_params) params.emplace_back(key, value);
  } else {
    params.emplace_back("l2", fmt::format("{}", spec.l2));
  }
  // A long feature list is cut to the parameter limit; the full list is in the spec tag.
  for (auto& [key, value] : params) {
    if (value.size() > tracking::kMaxParamValueBytes) {
      value.resize(tracking::kMaxParamValueBytes);
    }
  }
  tracking::Batch batch;
  batch.params = std::move(params);
  return tracking.LogBatch(project, run_id, batch);
}

Result<Trained> Fit(const PreparedTraining& prepared, const DistributedRuntime& runtime,
                    TaskContext& context) {
  const TrainingSpec& spec = prepared.spec;
  Trained trained;
  if (spec.trainer == "xgboost") {
    const int rounds = spec.num_boost_round;
    auto on_iteration = [&](int iteration, double metric) {
      context.ReportProgress(
          0.05 + 0.85 * (iteration + 1) / rounds,
          fmt::format("iteration {}/{}, validation {}", iteration + 1, rounds, metric));
      return !context.CancelRequested();
    };
    FitResult fit;
    if (spec.distributed_workers > 0) {
      DistributedOptions options{runtime.python, runtime.script, "", on_iteration, {}};
      FALAJ_ASSIGN_OR_RETURN(auto distributed,
                             FitXGBoostDistributed(prepared.data, XGBoostConfigOf(spec),
                                                   spec.distributed_workers, options, context));
      fit = std::move(distributed.fit);
      trained.distributed = {{"workers", spec.distributed_workers}, {"engine", distributed.engine}};
    } else {
      FALAJ_ASSIGN_OR_RETURN(fit, FitXGBoost(prepared.data, XGBoostConfigOf(spec), on_iteration));
    }
    if (fit.stopped_by_callback) return Cancelled();
    trained.artifact = std::move(fit.model_json);
    trained.format = "xgboost";
    trained.test_predictions = std::move(fit.test_predictions);
    trained.metric_name = "valid_" + fit.metric_name;
    trained.history = std::move(fit.validation_history);
    trained.iterations = fit.iterations_run;
    trained.best_iteration = fit.best_iteration;
    return trained;
  }
  if (context.CancelRequested()) return Cancelled();
  LinearModel model;
  if (spec.trainer == "linear") {
    FALAJ_ASSIGN_OR_RETURN(model, FitRidge(prepared.data.train, spec.l2));
  } else {
    auto on_step = [&](int step, double loss) {
      context.ReportProgress(0.5, fmt::format("Newton step {}, training loss {}", step + 1, loss));
      trained.history.push_back(loss);
      return !context.CancelRequested();
    };
    FALAJ_ASSIGN_OR_RETURN(model, FitLogistic(prepared.data.train, spec.l2, on_step));
    trained.metric_name = "train_objective";
  }
  trained.artifact = model.ToJson().dump();
  trained.format = "linear";
  trained.test_predictions = model.Predict(prepared.data.test);
  trained.iterations = model.iterations;
  return trained;
}

Result<std::string> Store(storage::ProjectBlobStores& artifacts, std::string_view project,
                          std::string_view content) {
  FALAJ_ASSIGN_OR_RETURN(auto store, artifacts(project));
  return store->Put(content);
}

// The model's input signature: one FP32 tensor of the features in order.
nlohmann::json Signature(const PreparedTraining& prepared) {
  const size_t outputs =
      prepared.spec.task == Task::kMulticlass ? static_cast<size_t>(prepared.spec.num_class) : 1;
  return {{"inputs",
           {{{"name", "input"},
             {"datatype", "FP32"},
             {"shape", {-1, prepared.spec.features.size()}},
             {"features", prepared.spec.features}}}},
          {"outputs", {{{"name", "output"}, {"datatype", "FP32"}, {"shape", {-1, outputs}}}}}};
}

}  // namespace

Result<nlohmann::json> TrainingService::Run(std::string_view project, const nlohmann::json& spec,
                                            TaskContext& context) {
  return Run(project, spec, context, nlohmann::json::object());
}

Result<nlohmann::json> TrainingService::Run(std::string_view project, const nlohmann::json& spec,
                                            TaskContext& context,
                                            const nlohmann::json& extra_lineage) {
  context.ReportProgress(0, "loading data");
  FALAJ_ASSIGN_OR_RETURN(auto prepared, Prepare(project, spec, context));
  if (context.CancelRequested()) return Cancelled();
  auto experiment = tracking_.GetExperimentByName(project, prepared.spec.experiment);
  if (!experiment && experiment.error().code == ErrorCode::kNotFound) {
    experiment = tracking_.CreateExperiment(project, prepared.spec.experiment, {});
  }
  if (!experiment) return std::unexpected(experiment.error());
  tracking::NewRun new_run;
  new_run.experiment_id = experiment->experiment_id;
  new_run.user_id = "training";
  new_run.tags = {{"falaj.trainer", prepared.spec.trainer},
                  {"falaj.task", std::string(TaskName(prepared.spec.task))},
                  {"falaj.spec_sha256", prepared.spec.digest}};
  // Tags have a size limit; the registered lineage keeps both in full either way.
  for (const auto& [key, value] : {std::pair{"falaj.spec", prepared.spec.canonical.dump()},
                                   std::pair{"falaj.data", prepared.data_lineage.dump()}}) {
    if (value.size() <= tracking::kMaxTagValueBytes) new_run.tags[key] = value;
  }
  FALAJ_ASSIGN_OR_RETURN(auto run, tracking_.CreateRun(project, std::move(new_run)));
  const std::string run_id = run.info.run_id;
  auto result = TrainTrackedRun(project, prepared, run_id, context, extra_lineage);
  tracking::RunUpdate update;
  update.end_time_ms = NowMs();
  update.status = result                                         ? "FINISHED"
                  : result.error().code == ErrorCode::kCancelled ? "KILLED"
                                                                 : "FAILED";
  if (auto closed = tracking_.UpdateRun(project, run_id, update); !closed && result) {
    return std::unexpected(closed.error());
  }
  if (!result) {
    context.Log(fmt::format("run {} {}: {}", run_id, *update.status, result.error().message));
    return result;
  }
  result->emplace("experiment_id", experiment->experiment_id);
  context.ReportProgress(1, "done");
  return result;
}

Result<nlohmann::json> TrainingService::TrainTrackedRun(std::string_view project,
                                                        const PreparedTraining& prepared,
                                                        const std::string& run_id,
                                                        TaskContext& context,
                                                        const nlohmann::json& extra_lineage) {
  const TrainingSpec& spec = prepared.spec;
  FALAJ_RETURN_IF_ERROR(LogParams(tracking_, project, run_id, spec));
  FALAJ_ASSIGN_OR_RETURN(auto trained, Fit(prepared, distributed_, context));
  if (!trained.history.empty()) {
    FALAJ_RETURN_IF_ERROR(
        LogSeries(tracking_, project, run_id, trained.metric_name, trained.history));
  }
  if (context.CancelRequested()) return Cancelled();
  context.ReportProgress(0.92, "evaluating on the test split");
  nlohmann::json report = Evaluate(spec.task, spec.num_class, prepared.data.test,
                                   trained.test_predictions, spec.metrics);
  report["trainer"] = spec.trainer;
  report["best_iteration"] = trained.best_iteration;
  report["iterations"] = trained.iterations;
  FALAJ_ASSIGN_OR_RETURN(auto profile, ReferenceProfile(prepared.data, trained.test_predictions));
  std::map<std::string, double> metrics;
  tracking::Batch final_metrics;
  for (const auto& [name, value] : report["metrics"].items()) {
    const double number = value.is_number() ? value.get<double>() : std::nan("");
    // JSON has no NaN (an AUC over one class): such a metric stays out of the registry.
    if (std::isfinite(number)) metrics[name] = number;
    final_metrics.metrics.push_back({"test_" + name, number, NowMs(), 0});
  }
  FALAJ_ASSIGN_OR_RETURN(auto model_sha, Store(artifacts_, project, trained.artifact));
  FALAJ_ASSIGN_OR_RETURN(auto report_sha, Store(artifacts_, project, report.dump()));
  FALAJ_ASSIGN_OR_RETURN(auto profile_sha, Store(artifacts_, project, profile.dump()));
  final_metrics.tags = {{"falaj.artifact.model", model_sha},
                        {"falaj.artifact.evaluation", report_sha},
                        {"falaj.artifact.profile", profile_sha}};
  FALAJ_RETURN_IF_ERROR(tracking_.LogBatch(project, run_id, final_metrics));
  nlohmann::json summary = {
      {"run_id", run_id},
      {"trainer", spec.trainer},
      {"metrics", report["metrics"]},
      {"best_iteration", trained.best_iteration},
      {"iterations", trained.iterations},
      {"artifacts", {{"model", model_sha}, {"evaluation", report_sha}, {"profile", profile_sha}}}};
  if (spec.register_model.empty()) return summary;
  if (context.CancelRequested()) return Cancelled();
  context.ReportProgress(0.97, "registering");
  if (auto model = registry_.GetModel(project, spec.register_model); !model) {
    if (model.error().code != ErrorCode::kNotFound) return std::unexpected(model.error());
    auto created = registry_.CreateModel(
        {std::string(project), spec.register_model, "", {}, "training", 0, 0});
    if (!created && created.error().code != ErrorCode::kAlreadyExists) {
      return std::unexpected(created.error());
    }
  }
  registry::NewVersion version;
  version.format = trained.format;
  version.files = {{trained.format == "xgboost" ? "model.json" : "linear.json", model_sha, 0}};
  version.signature = Signature(prepared);
  version.metrics = metrics;
  version.tags = {{"trainer", spec.trainer},
                  {"evaluation_sha256", report_sha},
                  {"reference_profile_sha256", profile_sha}};
  version.lineage = prepared.data_lineage;
  version.lineage["run_id"] = run_id;
  version.lineage["trainer"] = spec.trainer;
  version.lineage["spec_sha256"] = spec.digest;
  if (extra_lineage.is_object()) version.lineage.update(extra_lineage);
  version.lineage["library"] = spec.trainer == "xgboost" ? "libxgboost " + XGBoostLibraryVersion()
                                                         : std::string("falaj linear");
  if (!trained.distributed.is_null()) {
    version.lineage["distributed"] = trained.distributed;
    version.lineage["library"] = trained.distributed["engine"];
  }
  version.created_by = "training";
  FALAJ_ASSIGN_OR_RETURN(
      auto registered, registry_.RegisterVersion(project, spec.register_model, std::move(version)));
  if (!spec.register_alias.empty()) {
    FALAJ_RETURN_IF_ERROR(
        registry_.SetAlias(project, spec.register_model, spec.register_alias, registered.version));
    summary["alias"] = spec.register_alias;
  }
  summary["model"] = spec.register_model;
  summary["version"] = registered.version;
  FALAJ_RETURN_IF_ERROR(
      tracking_.LogBatch(project, run_id,
                         {{},
                          {},
                          {{"falaj.registered_model",
                            fmt::format("{}/{}", spec.register_model, registered.version)}}}));
  return summary;
}

}  // namespace falaj::training
