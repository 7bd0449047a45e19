#include "api/monitor_routes.h"

#include <charconv>

#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "common/resource_names.h"

namespace falaj::api {
namespace {

const std::string kMonitors = "/api/v1/projects/{project}/monitors";

nlohmann::json MonitorJson(const monitoring::MonitorRecord& record,
                           std::optional<monitoring::MonitorService::WindowStatus> window = {}) {
  nlohmann::json body = monitoring::MonitorSpecToJson(record.spec);
  body["project"] = record.project;
  body["reference_source"] = record.reference.at("source");
  body["revision"] = record.revision;
  body["created_by"] = record.created_by;
  body["created_at"] = TimeOrNull(record.created_at_ms);
  body["updated_at"] = TimeOrNull(record.updated_at_ms);
  if (window) {
    body["open_window"] = {{"start", TimeOrNull(window->start_ms)},
                           {"rows", window->rows},
                           {"labels", window->labels}};
  }
  return body;
}

nlohmann::json ReportSummary(const monitoring::ReportRecord& report) {
  const nlohmann::json& body = report.body;
  return {{"id", report.id},
          {"kind", report.kind},
          {"window_start", TimeOrNull(report.window_start_ms)},
          {"window_end", TimeOrNull(report.window_end_ms)},
          {"rows", body.value("rows", 0)},
          {"drift_share", body.value("drift_share", 0.0)},
          {"dataset_drift", body.value("dataset_drift", false)},
          {"drifted_features", body.value("drifted_features", nlohmann::json::array())},
          {"dataset", body.value("dataset", nlohmann::json())}};
}

nlohmann::json ReportJson(const monitoring::ReportRecord& report) {
  nlohmann::json body = report.body;
  body["window_start"] = TimeOrNull(report.window_start_ms);
  body["window_end"] = TimeOrNull(report.window_end_ms);
  body["created_at"] = TimeOrNull(report.created_at_ms);
  return body;
}

Result<HttpResponse> Create(monitoring::MonitorService& monitors, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_ASSIGN_OR_RETURN(
      auto record, monitors.Create(request.PathParam("project"), body, request.principal->subject));
  return HttpResponse::Json(201, MonitorJson(record));
}

Result<HttpResponse> List(monitoring::MonitorService& monitors, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto found, monitors.List(request.PathParam("project")));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& record : found) items.push_back(MonitorJson(record));
  return HttpResponse::Json(200, {{"monitors", items}});
}

Result<HttpResponse> Get(monitoring::MonitorService& monitors, const HttpRequest& request) {
  const std::string& project = request.PathParam("project");
  const std::string& name = request.PathParam("monitor");
  FALAJ_ASSIGN_OR_RETURN(auto record, monitors.Get(project, name));
  return HttpResponse::Json(200, MonitorJson(record, monitors.OpenWindow(project, name)));
}

Result<HttpResponse> Update(monitoring::MonitorService& monitors, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_ASSIGN_OR_RETURN(auto record, monitors.Update(request.PathParam("project"),
                                                      request.PathParam("monitor"), body));
  return HttpResponse::Json(200, MonitorJson(record));
}

Result<HttpResponse> Delete(monitoring::MonitorService& monitors, const HttpRequest& request) {
  FALAJ_RETURN_IF_ERROR(
      monitors.Delete(request.PathParam("project"), request.PathParam("monitor")));
  return NoContent();
}

Result<HttpResponse> ListReports(monitoring::MonitorService& monitors, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto limit_text, request.QueryParam("limit"));
  int64_t limit = 50;
  if (limit_text) {
    auto [end, error] =
        std::from_chars(limit_text->data(), limit_text->data() + limit_text->size(), limit);
    if (error != std::errc() || end != limit_text->data() + limit_text->size() || limit < 1 ||
        limit > 500) {
      return MakeError(ErrorCode::kInvalidArgument, "limit must be an integer from 1 to 500");
    }
  }
  FALAJ_ASSIGN_OR_RETURN(
      auto reports, monitors.ListReports(request.PathParam("project"), request.PathParam("monitor"),
                                         static_cast<size_t>(limit)));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& report : reports) items.push_back(ReportSummary(report));
  return HttpResponse::Json(200, {{"reports", items}});
}

Result<HttpResponse> GetReport(monitoring::MonitorService& monitors, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(
      auto report, monitors.GetReport(request.PathParam("project"), request.PathParam("monitor"),
                                      request.PathParam("report")));
  return HttpResponse::Json(200, ReportJson(report));
}

Result<HttpResponse> CreateReport(monitoring::MonitorService& monitors,
                                  const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"dataset", "version"}));
  FALAJ_ASSIGN_OR_RETURN(auto dataset, json::RequiredString(body, "dataset"));
  FALAJ_RETURN_IF_ERROR(ValidateName("dataset", dataset));
  FALAJ_ASSIGN_OR_RETURN(auto version, json::OptionalInt(body, "version"));
  if (version && *version < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "version must be >= 0 (0: the latest)");
  }
  FALAJ_ASSIGN_OR_RETURN(
      auto report, monitors.BatchReport(request.PathParam("project"), request.PathParam("monitor"),
                                        dataset, version.value_or(0)));
  return HttpResponse::Json(201, ReportJson(report));
}

Result<HttpResponse> CloseWindow(monitoring::MonitorService& monitors, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto report, monitors.CloseWindow(request.PathParam("project"),
                                                           request.PathParam("monitor")));
  return HttpResponse::Json(201, ReportJson(report));
}

}  // namespace

Status AddMonitorRoutes(Router& router, monitoring::MonitorService& monitors) {
  auto bind = [&monitors](auto handler) {
    return [&monitors, handler](HttpRequest& request) { return handler(monitors, request); };
  };
  const std::string one = kMonitors + "/{monitor}";
  for (Route route : {
           WorkerRoute("GET", kMonitors, "monitors.read", bind(List)),
           WorkerRoute("POST", kMonitors, "monitors.write", bind(Create)),
           WorkerRoute("GET", one, "monitors.read", bind(Get)),
           WorkerRoute("PATCH", one, "monitors.write", bind(Update)),
           WorkerRoute("DELETE", one, "monitors.write", bind(Delete)),
           WorkerRoute("GET", one + "/reports", "monitors.read", bind(ListReports)),
           WorkerRoute("POST", one + "/reports", "monitors.write", bind(CreateReport)),
           WorkerRoute("GET", one + "/reports/{report}", "monitors.read", bind(GetReport)),
           WorkerRoute("POST", one + "/windows/close", "monitors.write", bind(CloseWindow)),
       }) {
    FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  }
  return Ok();
}

}  // namespace falaj::api
