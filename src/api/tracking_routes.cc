#include "api/tracking_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/mlflow_codec.h"
#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

const std::string kProject = "/api/v1/projects/{project}";

Result<tracking::ViewType> ViewParam(std::string_view text) {
  if (text.empty() || text == "active") return tracking::ViewType::kActiveOnly;
  if (text == "deleted") return tracking::ViewType::kDeletedOnly;
  if (text == "all") return tracking::ViewType::kAll;
  return MakeError(ErrorCode::kInvalidArgument, "view must be active, deleted or all");
}

nlohmann::json ExperimentJson(const tracking::Experiment& experiment) {
  return {{"id", experiment.experiment_id},
          {"name", experiment.name},
          {"lifecycle", tracking::LifecycleName(experiment.lifecycle)},
          {"tags", experiment.tags},
          {"created_at", TimeOrNull(experiment.creation_time_ms)},
          {"updated_at", TimeOrNull(experiment.last_update_time_ms)}};
}

nlohmann::json RunJson(const tracking::Run& run) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& metric : run.latest_metrics) {
    metrics[metric.key] = {{"value", mlflow::DoubleJson(metric.value)},
                           {"step", metric.step},
                           {"timestamp_ms", metric.timestamp_ms}};
  }
  const auto& info = run.info;
  return {{"id", info.run_id},
          {"experiment_id", info.experiment_id},
          {"name", info.run_name},
          {"status", info.status},
          {"user", info.user_id},
          {"lifecycle", tracking::LifecycleName(info.lifecycle)},
          {"parent_run_id",
           info.parent_run_id.empty() ? nlohmann::json() : nlohmann::json(info.parent_run_id)},
          {"start_time", TimeOrNull(info.start_time_ms)},
          {"end_time", info.end_time_ms ? TimeOrNull(*info.end_time_ms) : nlohmann::json()},
          {"params", run.params},
          {"tags", run.tags},
          {"metrics", metrics}};
}

Result<HttpResponse> ListExperiments(tracking::TrackingStore& tracking,
                                     const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto view_text, request.QueryParam("view"));
  FALAJ_ASSIGN_OR_RETURN(auto view, ViewParam(view_text.value_or("")));
  FALAJ_ASSIGN_OR_RETURN(auto experiments,
                         tracking.ListExperiments(request.PathParam("project"), view));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& experiment : experiments) list.push_back(ExperimentJson(experiment));
  return HttpResponse::Json(200, {{"experiments", list}});
}

Result<HttpResponse> CreateExperiment(tracking::TrackingStore& tracking,
                                      const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"name", "tags"}));
  FALAJ_ASSIGN_OR_RETURN(auto name, json::RequiredString(body, "name"));
  FALAJ_ASSIGN_OR_RETURN(auto tags, json::OptionalStringMap(body, "tags"));
  FALAJ_ASSIGN_OR_RETURN(auto experiment, tracking.CreateExperiment(
                                              request.PathParam("project"), name,
                                              tags.value_or(std::map<std::string, std::string>())));
  return HttpResponse::Json(201, ExperimentJson(experiment));
}

Result<HttpResponse> SearchRuns(tracking::TrackingStore& tracking, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"experiment_ids", "filter", "order_by", "view", "max_results", "page_token"}));
  tracking::RunSearch search;
  FALAJ_ASSIGN_OR_RETURN(search.experiment_ids, json::StringList(body, "experiment_ids"));
  FALAJ_ASSIGN_OR_RETURN(search.order_by, json::StringList(body, "order_by"));
  FALAJ_ASSIGN_OR_RETURN(auto filter, json::OptionalString(body, "filter"));
  FALAJ_ASSIGN_OR_RETURN(auto view, json::OptionalString(body, "view"));
  FALAJ_ASSIGN_OR_RETURN(auto max_results, json::OptionalInt(body, "max_results"));
  FALAJ_ASSIGN_OR_RETURN(auto token, json::OptionalString(body, "page_token"));
  FALAJ_ASSIGN_OR_RETURN(search.view, ViewParam(view.value_or("")));
  if (max_results && *max_results < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be at least 1");
  }
  search.filter = filter.value_or("");
  search.max_results = static_cast<size_t>(max_results.value_or(100));
  search.page_token = token.value_or("");
  FALAJ_ASSIGN_OR_RETURN(auto page, tracking.SearchRuns(request.PathParam("project"), search));
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : page.runs) runs.push_back(RunJson(run));
  return HttpResponse::Json(200, {{"runs", runs},
                                  {"next_page_token", page.next_page_token.empty()
                                                          ? nlohmann::json()
                                                          : nlohmann::json(page.next_page_token)}});
}

Result<HttpResponse> GetExperiment(tracking::TrackingStore& tracking, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto experiment, tracking.GetExperiment(request.PathParam("project"),
                                                                 request.PathParam("experiment")));
  return HttpResponse::Json(200, ExperimentJson(experiment));
}

// The page size of a metric history: 1 to kMaxHistoryPage points, kMaxHistoryPage by default.
constexpr int64_t kMaxHistoryPage = 25000;

Result<size_t> HistoryPageSize(const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto text, request.QueryParam("max_results"));
  if (!text) return static_cast<size_t>(kMaxHistoryPage);
  int64_t size = 0;
  const char* end = text->data() + text->size();
  auto parsed = std::from_chars(text->data(), end, size);
  if (parsed.ec != std::errc() || parsed.ptr != end || size < 1 || size > kMaxHistoryPage) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be an integer from 1 to {}",
                     kMaxHistoryPage);
  }
  return static_cast<size_t>(size);
}

Result<HttpResponse> MetricHistory(tracking::TrackingStore& tracking, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(size_t page_size, HistoryPageSize(request));
  FALAJ_ASSIGN_OR_RETURN(auto token, request.QueryParam("page_token"));
  const std::string& key = request.PathParam("metric");
  FALAJ_ASSIGN_OR_RETURN(
      auto page, tracking.MetricHistory(request.PathParam("project"), request.PathParam("run"), key,
                                        page_size, token.value_or("")));
  nlohmann::json points = nlohmann::json::array();
  for (const auto& point : page.metrics) {
    points.push_back({{"step", point.step},
                      {"timestamp_ms", point.timestamp_ms},
                      {"value", mlflow::DoubleJson(point.value)}});
  }
  return HttpResponse::Json(200, {{"run_id", request.PathParam("run")},
                                  {"key", key},
                                  {"points", points},
                                  {"next_page_token", page.next_page_token.empty()
                                                          ? nlohmann::json()
                                                          : nlohmann::json(page.next_page_token)}});
}

Result<HttpResponse> CompareRuns(tracking::TrackingStore& tracking, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"run_ids"}));
  FALAJ_ASSIGN_OR_RETURN(auto run_ids, json::StringList(body, "run_ids"));
  FALAJ_ASSIGN_OR_RETURN(auto comparison,
                         tracking.CompareRuns(request.PathParam("project"), run_ids));
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& info : comparison.runs) {
    runs.push_back({{"id", info.run_id},
                    {"name", info.run_name},
                    {"experiment_id", info.experiment_id},
                    {"status", info.status},
                    {"start_time", TimeOrNull(info.start_time_ms)}});
  }
  nlohmann::json params = nlohmann::json::array();
  for (const auto& row : comparison.params) {
    nlohmann::json values = nlohmann::json::array();
    for (const auto& value : row.values) values.push_back(value ? nlohmann::json(*value) : nullptr);
    params.push_back({{"key", row.key}, {"values", values}, {"differs", row.differs}});
  }
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& row : comparison.metrics) {
    nlohmann::json values = nlohmann::json::array();
    for (const auto& point : row.latest) {
      values.push_back(point ? mlflow::DoubleJson(point->value) : nlohmann::json());
    }
    metrics.push_back({{"key", row.key}, {"values", values}, {"differs", row.differs}});
  }
  return HttpResponse::Json(200, {{"runs", runs}, {"params", params}, {"metrics", metrics}});
}

Result<HttpResponse> GetRun(tracking::TrackingStore& tracking, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run,
                         tracking.GetRun(request.PathParam("project"), request.PathParam("run")));
  return HttpResponse::Json(200, RunJson(run));
}

}  // namespace

Status AddTrackingRoutes(Router& router, tracking::TrackingStore& tracking) {
  auto bind = [&tracking](auto handler) {
    return [&tracking, handler](HttpRequest& request) { return handler(tracking, request); };
  };
  FALAJ_RETURN_IF_ERROR(router.Add(
      WorkerRoute("GET", kProject + "/experiments", "runs.read", bind(ListExperiments))));
  FALAJ_RETURN_IF_ERROR(router.Add(
      WorkerRoute("POST", kProject + "/experiments", "runs.write", bind(CreateExperiment))));
  FALAJ_RETURN_IF_ERROR(router.Add(WorkerRoute("GET", kProject + "/experiments/{experiment}",
                                               "runs.read", bind(GetExperiment))));
  FALAJ_RETURN_IF_ERROR(router.Add(WorkerRoute("GET", kProject + "/runs/{run}/metrics/{metric}",
                                               "runs.read", bind(MetricHistory))));
  Route compare = WorkerRoute("POST", kProject + "/runs/compare", "runs.read", bind(CompareRuns));
  compare.audit_exempt = true;  // a read that takes a body
  FALAJ_RETURN_IF_ERROR(router.Add(std::move(compare)));
  Route search = WorkerRoute("POST", kProject + "/runs/search", "runs.read", bind(SearchRuns));
  search.audit_exempt = true;  // a read that takes a body
  FALAJ_RETURN_IF_ERROR(router.Add(std::move(search)));
  return router.Add(WorkerRoute("GET", kProject + "/runs/{run}", "runs.read", bind(GetRun)));
}

}  // namespace falaj::api
