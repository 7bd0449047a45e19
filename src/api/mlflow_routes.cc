#include "api/mlflow_routes.h"

#include <algorithm>

#include "api/mlflow_codec.h"
#include "tracking/run_filter.h"
#include "tracking/tracking_validation.h"

namespace falaj::api {
namespace {

using mlflow::Fields;
using Body = std::function<Result<nlohmann::json>(tracking::TrackingStore&, const Fields&,
                                                  const HttpRequest&)>;

constexpr size_t kMaxExperimentResults = 50000;

struct Endpoint {
  std::string method;
  std::string path;  // below kMlflowPrefix
  bool write;
  Body body;
};

Route MakeRoute(tracking::TrackingStore& tracking, const Endpoint& endpoint) {
  return mlflow::JsonRoute(
      endpoint.method, kMlflowPrefix + endpoint.path, endpoint.write ? "runs.write" : "runs.read",
      endpoint.write,
      [&tracking, body = endpoint.body](const Fields& fields, HttpRequest& request) {
        return body(tracking, fields, request);
      });
}

const std::string& Project(const HttpRequest& request) { return request.PathParam("project"); }

nlohmann::json Empty() { return nlohmann::json::object(); }

Result<nlohmann::json> CreateExperiment(tracking::TrackingStore& tracking, const Fields& fields,
                                        const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto tags, fields.KeyValues("tags"));
  FALAJ_ASSIGN_OR_RETURN(auto experiment, tracking.CreateExperiment(Project(request), name,
                                                                    {tags.begin(), tags.end()}));
  return nlohmann::json{{"experiment_id", experiment.experiment_id}};
}

Result<nlohmann::json> GetExperiment(tracking::TrackingStore& tracking, const Fields& fields,
                                     const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto id, fields.RequiredString("experiment_id"));
  FALAJ_ASSIGN_OR_RETURN(auto experiment, tracking.GetExperiment(Project(request), id));
  return nlohmann::json{{"experiment", mlflow::ExperimentJson(experiment)}};
}

Result<nlohmann::json> GetExperimentByName(tracking::TrackingStore& tracking, const Fields& fields,
                                           const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("experiment_name"));
  FALAJ_ASSIGN_OR_RETURN(auto experiment, tracking.GetExperimentByName(Project(request), name));
  return nlohmann::json{{"experiment", mlflow::ExperimentJson(experiment)}};
}

// Experiments are few per project, so the filter and order run over the listed experiments.
Result<nlohmann::json> SearchExperiments(tracking::TrackingStore& tracking, const Fields& fields,
                                         const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto filter_text, fields.String("filter"));
  FALAJ_ASSIGN_OR_RETURN(auto order_by, fields.Strings("order_by"));
  FALAJ_ASSIGN_OR_RETURN(
      auto filter,
      tracking::RunFilter::Parse(filter_text.value_or(""), tracking::SearchSubject::kExperiments));
  FALAJ_ASSIGN_OR_RETURN(
      auto order, tracking::RunOrder::Parse(order_by, tracking::SearchSubject::kExperiments));
  FALAJ_ASSIGN_OR_RETURN(auto view, fields.String("view_type"));
  FALAJ_ASSIGN_OR_RETURN(auto max_results, fields.Int("max_results"));
  FALAJ_ASSIGN_OR_RETURN(auto token, fields.String("page_token"));
  size_t limit = static_cast<size_t>(max_results.value_or(1000));
  if (max_results && (*max_results < 1 || limit > kMaxExperimentResults)) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be between 1 and {}",
                     kMaxExperimentResults);
  }
  FALAJ_ASSIGN_OR_RETURN(size_t offset, tracking::DecodePageToken(token.value_or("")));
  FALAJ_ASSIGN_OR_RETURN(
      auto listed,
      tracking.ListExperiments(Project(request), mlflow::ParseViewType(view.value_or(""))));
  std::vector<tracking::Experiment> experiments;
  for (auto& experiment : listed) {
    if (filter.Matches(experiment)) experiments.push_back(std::move(experiment));
  }
  std::stable_sort(experiments.begin(), experiments.end(),
                   [&order](const auto& a, const auto& b) { return order.Before(a, b); });
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = offset; i < experiments.size() && i < offset + limit; ++i) {
    list.push_back(mlflow::ExperimentJson(experiments[i]));
  }
  nlohmann::json answer = {{"experiments", list}};
  if (offset + limit < experiments.size()) {
    answer["next_page_token"] = tracking::EncodePageToken(offset + limit);
  }
  return answer;
}

Result<nlohmann::json> UpdateExperiment(tracking::TrackingStore& tracking, const Fields& fields,
                                        const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto id, fields.RequiredString("experiment_id"));
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("new_name"));
  FALAJ_RETURN_IF_ERROR(tracking.RenameExperiment(Project(request), id, name));
  return Empty();
}

Body ExperimentLifecycle(tracking::Lifecycle lifecycle) {
  return [lifecycle](tracking::TrackingStore& tracking, const Fields& fields,
                     const HttpRequest& request) -> Result<nlohmann::json> {
    FALAJ_ASSIGN_OR_RETURN(auto id, fields.RequiredString("experiment_id"));
    FALAJ_RETURN_IF_ERROR(tracking.SetExperimentLifecycle(Project(request), id, lifecycle));
    return Empty();
  };
}

Result<nlohmann::json> SetExperimentTag(tracking::TrackingStore& tracking, const Fields& fields,
                                        const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto id, fields.RequiredString("experiment_id"));
  FALAJ_ASSIGN_OR_RETURN(auto key, fields.RequiredString("key"));
  FALAJ_ASSIGN_OR_RETURN(auto value, fields.String("value"));
  FALAJ_RETURN_IF_ERROR(tracking.SetExperimentTag(Project(request), id, key, value.value_or("")));
  return Empty();
}

Result<nlohmann::json> CreateRun(tracking::TrackingStore& tracking, const Fields& fields,
                                 const HttpRequest& request) {
  tracking::NewRun run;
  FALAJ_ASSIGN_OR_RETURN(run.experiment_id, fields.RequiredString("experiment_id"));
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.String("run_name"));
  FALAJ_ASSIGN_OR_RETURN(run.start_time_ms, fields.Int("start_time"));
  FALAJ_ASSIGN_OR_RETURN(auto tags, fields.KeyValues("tags"));
  run.run_name = name.value_or("");
  run.tags = {tags.begin(), tags.end()};
  // The authenticated caller, not the client-supplied user name, owns the run.
  run.user_id = request.principal ? request.principal->subject : "";
  FALAJ_ASSIGN_OR_RETURN(auto created, tracking.CreateRun(Project(request), std::move(run)));
  return nlohmann::json{{"run", mlflow::RunJson(created)}};
}

Result<nlohmann::json> UpdateRun(tracking::TrackingStore& tracking, const Fields& fields,
                                 const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
  tracking::RunUpdate update;
  FALAJ_ASSIGN_OR_RETURN(update.status, fields.String("status"));
  FALAJ_ASSIGN_OR_RETURN(update.end_time_ms, fields.Int("end_time"));
  FALAJ_ASSIGN_OR_RETURN(update.run_name, fields.String("run_name"));
  FALAJ_ASSIGN_OR_RETURN(auto info, tracking.UpdateRun(Project(request), run_id, update));
  return nlohmann::json{{"run_info", mlflow::RunInfoJson(info)}};
}

Result<nlohmann::json> GetRun(tracking::TrackingStore& tracking, const Fields& fields,
                              const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
  FALAJ_ASSIGN_OR_RETURN(auto run, tracking.GetRun(Project(request), run_id));
  return nlohmann::json{{"run", mlflow::RunJson(run)}};
}

Body RunLifecycle(tracking::Lifecycle lifecycle) {
  return [lifecycle](tracking::TrackingStore& tracking, const Fields& fields,
                     const HttpRequest& request) -> Result<nlohmann::json> {
    FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
    FALAJ_RETURN_IF_ERROR(tracking.SetRunLifecycle(Project(request), run_id, lifecycle));
    return Empty();
  };
}

Result<nlohmann::json> SearchRuns(tracking::TrackingStore& tracking, const Fields& fields,
                                  const HttpRequest& request) {
  tracking::RunSearch search;
  FALAJ_ASSIGN_OR_RETURN(search.experiment_ids, fields.Strings("experiment_ids"));
  FALAJ_ASSIGN_OR_RETURN(auto filter, fields.String("filter"));
  FALAJ_ASSIGN_OR_RETURN(search.order_by, fields.Strings("order_by"));
  FALAJ_ASSIGN_OR_RETURN(auto view, fields.String("run_view_type"));
  FALAJ_ASSIGN_OR_RETURN(auto max_results, fields.Int("max_results"));
  FALAJ_ASSIGN_OR_RETURN(auto token, fields.String("page_token"));
  if (max_results && *max_results < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be at least 1");
  }
  search.filter = filter.value_or("");
  search.view = mlflow::ParseViewType(view.value_or(""));
  search.max_results = static_cast<size_t>(max_results.value_or(1000));
  search.page_token = token.value_or("");
  FALAJ_ASSIGN_OR_RETURN(auto page, tracking.SearchRuns(Project(request), search));
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : page.runs) runs.push_back(mlflow::RunJson(run));
  nlohmann::json answer = {{"runs", runs}};
  if (!page.next_page_token.empty()) answer["next_page_token"] = page.next_page_token;
  return answer;
}

Result<nlohmann::json> LogBatch(tracking::TrackingStore& tracking, const Fields& fields,
                                const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
  tracking::Batch batch;
  FALAJ_ASSIGN_OR_RETURN(batch.metrics, fields.Metrics("metrics"));
  FALAJ_ASSIGN_OR_RETURN(batch.params, fields.KeyValues("params"));
  FALAJ_ASSIGN_OR_RETURN(batch.tags, fields.KeyValues("tags"));
  FALAJ_RETURN_IF_ERROR(tracking.LogBatch(Project(request), run_id, batch));
  return Empty();
}

Result<nlohmann::json> LogMetric(tracking::TrackingStore& tracking, const Fields& fields,
                                 const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
  tracking::MetricPoint metric;
  FALAJ_ASSIGN_OR_RETURN(metric.key, fields.RequiredString("key"));
  FALAJ_ASSIGN_OR_RETURN(auto value, fields.Double("value"));
  FALAJ_ASSIGN_OR_RETURN(auto timestamp, fields.Int("timestamp"));
  FALAJ_ASSIGN_OR_RETURN(auto step, fields.Int("step"));
  if (!value || !timestamp) {
    return MakeError(ErrorCode::kInvalidArgument, "log-metric needs 'value' and 'timestamp'");
  }
  metric.value = *value;
  metric.timestamp_ms = *timestamp;
  metric.step = step.value_or(0);
  FALAJ_RETURN_IF_ERROR(tracking.LogBatch(Project(request), run_id, {{metric}, {}, {}}));
  return Empty();
}

// log-parameter and set-tag: one key and value, logged as a batch of one.
Body LogOne(bool param) {
  return [param](tracking::TrackingStore& tracking, const Fields& fields,
                 const HttpRequest& request) -> Result<nlohmann::json> {
    FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
    FALAJ_ASSIGN_OR_RETURN(auto key, fields.RequiredString("key"));
    FALAJ_ASSIGN_OR_RETURN(auto value, fields.String("value"));
    std::vector<std::pair<std::string, std::string>> entry{{key, value.value_or("")}};
    tracking::Batch batch;
    (param ? batch.params : batch.tags) = std::move(entry);
    FALAJ_RETURN_IF_ERROR(tracking.LogBatch(Project(request), run_id, batch));
    return Empty();
  };
}

Result<nlohmann::json> DeleteTag(tracking::TrackingStore& tracking, const Fields& fields,
                                 const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
  FALAJ_ASSIGN_OR_RETURN(auto key, fields.RequiredString("key"));
  FALAJ_RETURN_IF_ERROR(tracking.DeleteTag(Project(request), run_id, key));
  return Empty();
}

Result<nlohmann::json> MetricHistory(tracking::TrackingStore& tracking, const Fields& fields,
                                     const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
  FALAJ_ASSIGN_OR_RETURN(auto key, fields.RequiredString("metric_key"));
  FALAJ_ASSIGN_OR_RETURN(auto max_results, fields.Int("max_results"));
  FALAJ_ASSIGN_OR_RETURN(auto token, fields.String("page_token"));
  if (max_results && (*max_results < 1 || *max_results > 100000)) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be between 1 and 100000");
  }
  FALAJ_ASSIGN_OR_RETURN(auto page,
                         tracking.MetricHistory(Project(request), run_id, key,
                                                static_cast<size_t>(max_results.value_or(100000)),
                                                token.value_or("")));
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& metric : page.metrics) metrics.push_back(mlflow::MetricJson(metric));
  nlohmann::json answer = {{"metrics", metrics}};
  if (!page.next_page_token.empty()) answer["next_page_token"] = page.next_page_token;
  return answer;
}

}  // namespace

Status AddMlflowTrackingRoutes(Router& router, tracking::TrackingStore& tracking) {
  using tracking::Lifecycle;
  const std::vector<Endpoint> endpoints = {
      {"POST", "/experiments/create", true, CreateExperiment},
      {"GET", "/experiments/get", false, GetExperiment},
      {"GET", "/experiments/get-by-name", false, GetExperimentByName},
      {"POST", "/experiments/search", false, SearchExperiments},
      {"GET", "/experiments/search", false, SearchExperiments},
      {"POST", "/experiments/update", true, UpdateExperiment},
      {"POST", "/experiments/delete", true, ExperimentLifecycle(Lifecycle::kDeleted)},
      {"POST", "/experiments/restore", true, ExperimentLifecycle(Lifecycle::kActive)},
      {"POST", "/experiments/set-experiment-tag", true, SetExperimentTag},
      {"POST", "/runs/create", true, CreateRun},
      {"POST", "/runs/update", true, UpdateRun},
      {"GET", "/runs/get", false, GetRun},
      {"POST", "/runs/delete", true, RunLifecycle(Lifecycle::kDeleted)},
      {"POST", "/runs/restore", true, RunLifecycle(Lifecycle::kActive)},
      {"POST", "/runs/search", false, SearchRuns},
      {"POST", "/runs/log-batch", true, LogBatch},
      {"POST", "/runs/log-metric", true, LogMetric},
      {"POST", "/runs/log-parameter", true, LogOne(true)},
      {"POST", "/runs/set-tag", true, LogOne(false)},
      {"POST", "/runs/delete-tag", true, DeleteTag},
      {"GET", "/metrics/get-history", false, MetricHistory},
  };
  for (const auto& endpoint : endpoints) {
    FALAJ_RETURN_IF_ERROR(router.Add(MakeRoute(tracking, endpoint)));
  }
  return Ok();
}

}  // namespace falaj::api

namespace falaj::api {

Status AddMlflowEndpoints(Router& router, const MlflowServices& services,
                          const std::vector<MlflowEndpoint>& endpoints) {
  for (const auto& endpoint : endpoints) {
    FALAJ_RETURN_IF_ERROR(router.Add(mlflow::JsonRoute(
        endpoint.method, kMlflowPrefix + endpoint.path, endpoint.permission, endpoint.write,
        [services, body = endpoint.body](const mlflow::Fields& fields, HttpRequest& request) {
          return body(services, fields, request);
        })));
  }
  return Ok();
}

Status AddMlflowRoutes(Router& router, const MlflowServices& services) {
  FALAJ_RETURN_IF_ERROR(AddMlflowTrackingRoutes(router, services.tracking));
  FALAJ_RETURN_IF_ERROR(AddMlflowArtifactRoutes(router, services));
  FALAJ_RETURN_IF_ERROR(AddMlflowLoggedModelRoutes(router, services));
  return AddMlflowRegistryRoutes(router, services);
}

}  // namespace falaj::api
