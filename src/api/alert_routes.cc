#include "api/alert_routes.h"

#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

const std::string kAlerts = "/api/v1/projects/{project}/alerts";

nlohmann::json RuleJson(const monitoring::RuleRecord& record) {
  nlohmann::json body = monitoring::AlertRuleToJson(record.rule);
  body["project"] = record.project;
  body["revision"] = record.revision;
  body["created_by"] = record.created_by;
  body["created_at"] = TimeOrNull(record.created_at_ms);
  body["updated_at"] = TimeOrNull(record.updated_at_ms);
  return body;
}

nlohmann::json AlertJson(const monitoring::Alert& alert) {
  auto text_or_null = [](const std::string& text) {
    return text.empty() ? nlohmann::json() : nlohmann::json(text);
  };
  return {{"rule", alert.rule},
          {"series", alert.series},
          {"state", monitoring::AlertStateName(alert.state)},
          {"value", alert.value},
          {"active_since", TimeOrNull(alert.active_since_ms)},
          {"fired_at", TimeOrNull(alert.fired_at_ms)},
          {"resolved_at", TimeOrNull(alert.resolved_at_ms)},
          {"trigger", monitoring::TriggerStateName(alert.trigger)},
          {"trigger_job", text_or_null(alert.trigger_job)},
          {"trigger_error", text_or_null(alert.trigger_error)}};
}

Result<HttpResponse> Create(monitoring::AlertService& alerts, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_ASSIGN_OR_RETURN(auto record, alerts.CreateRule(request.PathParam("project"), body,
                                                        request.principal->subject));
  return HttpResponse::Json(201, RuleJson(record));
}

Result<HttpResponse> Replace(monitoring::AlertService& alerts, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_ASSIGN_OR_RETURN(auto record, alerts.ReplaceRule(request.PathParam("project"),
                                                         request.PathParam("rule"), body));
  return HttpResponse::Json(200, RuleJson(record));
}

Result<HttpResponse> List(monitoring::AlertService& alerts, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto found, alerts.ListRules(request.PathParam("project")));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& record : found) items.push_back(RuleJson(record));
  return HttpResponse::Json(200, {{"rules", items}});
}

Result<HttpResponse> Get(monitoring::AlertService& alerts, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto record,
                         alerts.GetRule(request.PathParam("project"), request.PathParam("rule")));
  return HttpResponse::Json(200, RuleJson(record));
}

Result<HttpResponse> Delete(monitoring::AlertService& alerts, const HttpRequest& request) {
  FALAJ_RETURN_IF_ERROR(alerts.DeleteRule(request.PathParam("project"), request.PathParam("rule")));
  return NoContent();
}

Result<HttpResponse> Current(monitoring::AlertService& alerts, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto state_text, request.QueryParam("state"));
  std::optional<monitoring::AlertState> state;
  if (state_text) {
    state = monitoring::ParseAlertState(*state_text);
    if (state == monitoring::AlertState::kInactive) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "state must be pending, firing or resolved, got '{}'",
                       state_text->substr(0, 32));
    }
  }
  nlohmann::json items = nlohmann::json::array();
  for (const auto& alert : alerts.ListAlerts(request.PathParam("project"), state)) {
    items.push_back(AlertJson(alert));
  }
  return HttpResponse::Json(200, {{"alerts", items}});
}

}  // namespace

Status AddAlertRoutes(Router& router, monitoring::AlertService& alerts) {
  auto bind = [&alerts](auto handler) {
    return [&alerts, handler](HttpRequest& request) { return handler(alerts, request); };
  };
  const std::string rules = kAlerts + "/rules";
  for (Route route : {
           WorkerRoute("GET", rules, "alerts.read", bind(List)),
           WorkerRoute("POST", rules, "alerts.write", bind(Create)),
           WorkerRoute("GET", rules + "/{rule}", "alerts.read", bind(Get)),
           WorkerRoute("PUT", rules + "/{rule}", "alerts.write", bind(Replace)),
           WorkerRoute("DELETE", rules + "/{rule}", "alerts.write", bind(Delete)),
           WorkerRoute("GET", kAlerts, "alerts.read", bind(Current)),
       }) {
    FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  }
  return Ok();
}

}  // namespace falaj::api
