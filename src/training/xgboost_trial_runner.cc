// XGBoostTrialRunner: a tuning trial as one FitXGBoost call on shared prepared data.
#include "training/xgboost_trial_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

namespace falaj::training {

nlohmann::json MergeParams(const nlohmann::json& train, const nlohmann::json& params) {
  nlohmann::json merged = train;
  nlohmann::json& target = merged["params"];
  if (!target.is_object()) target = nlohmann::json::object();
  for (const auto& [key, value] : params.items()) target[key] = value;
  return merged;
}

XGBoostTrialRunner::XGBoostTrialRunner(const PreparedTraining& prepared, int parallelism,
                                       unsigned hardware_threads)
    : prepared_(prepared) {
  const XGBoostConfig config = XGBoostConfigOf(prepared.spec);
  auto metric = config.params.find("eval_metric");
  metric_ = metric != config.params.end() ? metric->second : DefaultEvalMetric(config.objective);
  higher_is_better_ = training::HigherIsBetter(metric_);
  if (hardware_threads == 0) hardware_threads = std::max(1u, std::thread::hardware_concurrency());
  nthread_ = std::max(1, static_cast<int>(hardware_threads) / std::max(1, parallelism));
}

Result<XGBoostConfig> XGBoostTrialRunner::ConfigFor(const nlohmann::json& params,
                                                    int max_resource) const {
  nlohmann::json merged = prepared_.spec.canonical.value("params", nlohmann::json::object());
  if (!merged.is_object()) merged = nlohmann::json::object();
  for (const auto& [key, value] : params.items()) merged[key] = value;
  XGBoostConfig config = XGBoostConfigOf(prepared_.spec);
  FALAJ_ASSIGN_OR_RETURN(config.params, ValidateXGBoostParams(merged));
  if (max_resource > 0) config.num_boost_round = max_resource;
  config.nthread = nthread_;
  return config;
}

Result<double> XGBoostTrialRunner::RunTrial(
    const nlohmann::json& params, int max_resource,
    const std::function<bool(int step, double value)>& report, TaskContext& context) {
  if (context.CancelRequested()) {
    return MakeError(ErrorCode::kCancelled, "the trial was cancelled before it started");
  }
  FALAJ_ASSIGN_OR_RETURN(XGBoostConfig config, ConfigFor(params, max_resource));
  config.predict_test = false;
  auto on_iteration = [&](int iteration, double metric) { return report(iteration + 1, metric); };
  FALAJ_ASSIGN_OR_RETURN(FitResult fit, FitXGBoost(prepared_.data, config, on_iteration));
  if (fit.validation_history.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition, "the fit ran no boosting round");
  }
  if (fit.stopped_by_callback) {
    if (context.CancelRequested()) {
      return MakeError(ErrorCode::kCancelled, "the trial was cancelled at step {}",
                       fit.iterations_run);
    }
    return fit.validation_history.back();
  }
  if (fit.best_iteration >= 0 && std::isfinite(fit.best_validation_metric)) {
    return fit.best_validation_metric;
  }
  return fit.validation_history.back();
}

}  // namespace falaj::training
