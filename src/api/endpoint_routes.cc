#include "api/endpoint_routes.h"

#include <nlohmann/json.hpp>

#include "api/residency_routes.h"
#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "serving/endpoint_traffic.h"

namespace falaj::api {
namespace {

const std::string kEndpoints = "/api/v1/projects/{project}/endpoints";
const std::string kEndpoint = kEndpoints + "/{endpoint}";

nlohmann::json Described(const serving::Endpoint& endpoint) {
  nlohmann::json json = serving::EndpointToJson(endpoint);
  json["created_at"] = TimeOrNull(endpoint.created_at_ms);
  json["updated_at"] = TimeOrNull(endpoint.updated_at_ms);
  json.erase("created_at_ms");
  json.erase("updated_at_ms");
  return json;
}

nlohmann::json StatusJson(const serving::LoadStatus& status) {
  return {{"model", status.spec.model},
          {"version", status.spec.version},
          {"state", serving::ModelStateName(status.state)},
          {"reason", status.reason},
          {"runtime", status.runtime},
          {"loaded_at", TimeOrNull(status.loaded_at_ms)},
          {"last_used_at", TimeOrNull(status.last_used_ms)}};
}

// Starts loading every target of a changed endpoint so that traffic moves to new versions as
// soon as they are ready; its arms' weight gauges move at once, before any traffic.
void Preload(serving::Predictor& predictor, serving::ModelManager& models,
             const serving::Endpoint& endpoint) {
  predictor.arm_stats().Publish(endpoint);
  predictor.Forget(endpoint.project);
  auto specs = predictor.TargetSpecs(endpoint.project, endpoint.name);
  if (!specs) return;
  for (const auto& spec : *specs) models.LoadInBackground(spec);
}

// The endpoint described by the body, once its models may be loaded on this node.
Result<serving::Endpoint> EndpointFromBody(const EndpointRouteServices& services,
                                           const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(
      CheckDeployment(services.residency, services.projects, request, services.node_region));
  FALAJ_ASSIGN_OR_RETURN(auto endpoint, serving::EndpointFromJson(body));
  endpoint.project = request.PathParam("project");
  endpoint.created_by = request.principal ? request.principal->subject : "";
  return endpoint;
}

// Arms with their current weights and this server's counters, the policy and the canary's state.
Result<HttpResponse> TrafficView(serving::EndpointStore& endpoints, serving::Predictor& predictor,
                                 const std::string& project, const std::string& name) {
  FALAJ_ASSIGN_OR_RETURN(auto endpoint, endpoints.Get(project, name));
  const std::vector<int64_t> weights = serving::EffectiveWeights(endpoint);
  const auto stats = predictor.arm_stats().Snapshot(project, name, serving::ArmNames(endpoint));
  nlohmann::json arms = nlohmann::json::array();
  for (size_t i = 0; i < endpoint.targets.size(); ++i) {
    const serving::EndpointTarget& target = endpoint.targets[i];
    const serving::ArmSnapshot& counted = stats[i];
    nlohmann::json arm = {{"arm", target.name},
                          {"model", target.model},
                          {"weight", weights[i]},
                          {"requests", counted.requests},
                          {"errors", counted.errors},
                          {"step_requests", counted.step_requests},
                          {"step_errors", counted.step_errors},
                          {"step_p99_ms", counted.step_p99_ms},
                          {"shadow_requests", counted.shadow_requests},
                          {"shadow_errors", counted.shadow_errors},
                          {"shadow_dropped", counted.shadow_dropped}};
    if (target.version) arm["version"] = *target.version;
    if (!target.alias.empty()) arm["alias"] = target.alias;
    arms.push_back(std::move(arm));
  }
  return HttpResponse::Json(200, {{"endpoint", name},
                                  {"arms", std::move(arms)},
                                  {"policy", serving::TrafficPolicyToJson(endpoint.traffic)}});
}

// The arm a promotion or rollback names: the body's "arm", else (rollback only) the ramping
// canary's baseline.
Result<std::string> DecisionArm(serving::EndpointStore& endpoints, const HttpRequest& request,
                                bool rollback) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body.empty() ? "{}" : request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"arm"}));
  FALAJ_ASSIGN_OR_RETURN(auto arm, json::OptionalString(body, "arm"));
  if (arm) return std::move(*arm);
  if (rollback) {
    FALAJ_ASSIGN_OR_RETURN(
        auto endpoint, endpoints.Get(request.PathParam("project"), request.PathParam("endpoint")));
    const auto& traffic = endpoint.traffic;
    if (traffic.canary && traffic.canary_state && traffic.canary_state->ramping()) {
      return traffic.canary->baseline;
    }
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   rollback ? "name the 'arm' to roll back to (no canary is ramping)"
                            : "name the 'arm' to promote");
}

}  // namespace

Status AddEndpointRoutes(Router& router, const EndpointRouteServices& services) {
  // The handlers outlive `services` (often a temporary): they copy it, and keep references only
  // to the long-lived services it names.
  serving::EndpointStore& endpoints = services.endpoints;
  serving::Predictor& predictor = services.predictor;
  serving::ModelManager& models = services.models;
  std::vector<Route> routes;
  routes.push_back(WorkerRoute("GET", kEndpoints, "endpoints.read",
                               [&endpoints](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(
                                     auto listed, endpoints.List(request.PathParam("project")));
                                 nlohmann::json items = nlohmann::json::array();
                                 for (const auto& endpoint : listed)
                                   items.push_back(Described(endpoint));
                                 return HttpResponse::Json(200, {{"endpoints", items}});
                               }));
  routes.push_back(
      WorkerRoute("POST", kEndpoints, "endpoints.write",
                  [&, services](HttpRequest& request) -> Result<HttpResponse> {
                    FALAJ_ASSIGN_OR_RETURN(auto endpoint, EndpointFromBody(services, request));
                    FALAJ_ASSIGN_OR_RETURN(auto created, endpoints.Create(std::move(endpoint)));
                    Preload(predictor, models, created);
                    return HttpResponse::Json(201, Described(created));
                  }));
  routes.push_back(WorkerRoute("GET", kEndpoint, "endpoints.read",
                               [&endpoints](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(
                                     auto endpoint, endpoints.Get(request.PathParam("project"),
                                                                  request.PathParam("endpoint")));
                                 return HttpResponse::Json(200, Described(endpoint));
                               }));
  routes.push_back(
      WorkerRoute("PUT", kEndpoint, "endpoints.write",
                  [&, services](HttpRequest& request) -> Result<HttpResponse> {
                    FALAJ_ASSIGN_OR_RETURN(auto endpoint, EndpointFromBody(services, request));
                    if (!endpoint.name.empty() && endpoint.name != request.PathParam("endpoint")) {
                      return MakeError(ErrorCode::kInvalidArgument,
                                       "'name' does not match the path; endpoints "
                                       "cannot be renamed");
                    }
                    endpoint.name = request.PathParam("endpoint");
                    FALAJ_ASSIGN_OR_RETURN(auto updated, endpoints.Update(std::move(endpoint)));
                    Preload(predictor, models, updated);
                    return HttpResponse::Json(200, Described(updated));
                  }));
  routes.push_back(WorkerRoute(
      "DELETE", kEndpoint, "endpoints.write", [&](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_RETURN_IF_ERROR(
            endpoints.Delete(request.PathParam("project"), request.PathParam("endpoint")));
        predictor.Forget(request.PathParam("project"));
        return NoContent();
      }));
  routes.push_back(WorkerRoute(
      "GET", kEndpoint + "/status", "endpoints.read",
      [&](HttpRequest& request) -> Result<HttpResponse> {
        const std::string& project = request.PathParam("project");
        const std::string& name = request.PathParam("endpoint");
        FALAJ_ASSIGN_OR_RETURN(auto specs, predictor.TargetSpecs(project, name));
        nlohmann::json targets = nlohmann::json::array();
        bool ready = true;
        for (const auto& spec : specs) {
          serving::LoadStatus status = models.StatusOf(spec);
          ready = ready && status.state == serving::ModelState::kReady;
          targets.push_back(StatusJson(status));
        }
        nlohmann::json loaded = nlohmann::json::array();
        for (const auto& status : models.Statuses(project)) {
          if (status.spec.endpoint == name) loaded.push_back(StatusJson(status));
        }
        return HttpResponse::Json(
            200, {{"name", name}, {"ready", ready}, {"targets", targets}, {"loads", loaded}});
      }));
  routes.push_back(WorkerRoute("GET", kEndpoint + "/traffic", "endpoints.read",
                               [&](HttpRequest& request) -> Result<HttpResponse> {
                                 return TrafficView(endpoints, predictor,
                                                    request.PathParam("project"),
                                                    request.PathParam("endpoint"));
                               }));
  // Stateless over the store and predictor: the handlers share one for their lifetime.
  auto traffic = std::make_shared<serving::EndpointTraffic>(endpoints, predictor);
  for (const bool rollback : {true, false}) {
    const std::string action = rollback ? "rollback" : "promote";
    routes.push_back(
        WorkerRoute("POST", kEndpoint + "/traffic/" + action, "endpoints.write",
                    [&, traffic, rollback, action](HttpRequest& request) -> Result<HttpResponse> {
                      const std::string& project = request.PathParam("project");
                      const std::string& name = request.PathParam("endpoint");
                      FALAJ_ASSIGN_OR_RETURN(auto arm, DecisionArm(endpoints, request, rollback));
                      const std::string principal =
                          request.principal ? request.principal->subject : "anonymous";
                      FALAJ_RETURN_IF_ERROR(traffic->RouteAllTo(
                          project, name, arm, principal,
                          fmt::format("manual {} to '{}' by {}", action, arm, principal)));
                      return TrafficView(endpoints, predictor, project, name);
                    }));
  }
  for (auto& route : routes) FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  return Ok();
}

}  // namespace falaj::api
