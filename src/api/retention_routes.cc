#include "api/retention_routes.h"

#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

const std::string kRetention = "/api/v1/projects/{project}/retention";

Result<HttpResponse> Describe(data::RetentionService& retention, const HttpRequest& request) {
  const std::string& project = request.PathParam("project");
  FALAJ_ASSIGN_OR_RETURN(auto policy, retention.GetPolicy(project));
  FALAJ_ASSIGN_OR_RETURN(auto last_run, retention.LastRun(project));
  return HttpResponse::Json(
      200, {{"policy", policy ? data::RetentionPolicyJson(*policy) : nlohmann::json(nullptr)},
            {"last_run", last_run.value_or(nullptr)}});
}

Result<HttpResponse> SetPolicy(data::RetentionService& retention, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_ASSIGN_OR_RETURN(auto policy, data::ParseRetentionPolicy(body));
  policy.updated_by = request.principal->subject;
  FALAJ_ASSIGN_OR_RETURN(auto stored,
                         retention.SetPolicy(request.PathParam("project"), std::move(policy)));
  return HttpResponse::Json(200, {{"policy", data::RetentionPolicyJson(stored)}});
}

}  // namespace

Status AddRetentionRoutes(Router& router, data::RetentionService& retention) {
  std::vector<Route> routes;
  routes.push_back(WorkerRoute("GET", kRetention, "policies.read",
                               [&](HttpRequest& request) { return Describe(retention, request); }));
  routes.push_back(WorkerRoute("PUT", kRetention, "policies.admin", [&](HttpRequest& request) {
    return SetPolicy(retention, request);
  }));
  routes.push_back(WorkerRoute(
      "DELETE", kRetention, "policies.admin", [&](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_RETURN_IF_ERROR(retention.RemovePolicy(request.PathParam("project")));
        return NoContent();
      }));
  routes.push_back(WorkerRoute(
      "POST", kRetention + "/run", "policies.admin",
      [&](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto report, retention.Run(request.PathParam("project"),
                                                          request.principal->subject, "manual"));
        return HttpResponse::Json(200, report);
      }));
  for (auto& route : routes) FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  return Ok();
}

}  // namespace falaj::api
