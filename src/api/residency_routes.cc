#include "api/residency_routes.h"

#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "common/logging.h"

namespace falaj::api {
namespace {

const std::string kBase = "/api/v1/projects/{project}";

nlohmann::json PolicyJson(const security::TransferPolicy& policy) {
  return {{"to_region", policy.to_region},
          {"legal_basis", policy.legal_basis},
          {"data_classes", policy.data_classes},
          {"created_by", policy.created_by},
          {"created_at", TimeOrNull(policy.created_at_ms)}};
}

Result<HttpResponse> SetPolicy(security::ResidencyService& residency,
                               projects::ProjectService& projects, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"legal_basis", "data_classes"}));
  security::TransferPolicy policy;
  policy.project = request.PathParam("project");
  policy.to_region = request.PathParam("region");
  policy.created_by = request.principal->subject;
  FALAJ_ASSIGN_OR_RETURN(policy.legal_basis, json::RequiredString(body, "legal_basis"));
  FALAJ_ASSIGN_OR_RETURN(policy.data_classes, json::StringList(body, "data_classes"));
  FALAJ_ASSIGN_OR_RETURN(auto project, projects.Get(policy.project));
  FALAJ_ASSIGN_OR_RETURN(auto stored, residency.SetPolicy(policy, project.region));
  return HttpResponse::Json(200, PolicyJson(stored));
}

Result<HttpResponse> CheckTransfer(security::ResidencyService& residency,
                                   projects::ProjectService& projects, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"to_region", "data_class"}));
  FALAJ_ASSIGN_OR_RETURN(auto to_region, json::RequiredString(body, "to_region"));
  FALAJ_ASSIGN_OR_RETURN(auto data_class, json::OptionalString(body, "data_class"));
  FALAJ_ASSIGN_OR_RETURN(auto project, projects.Get(request.PathParam("project")));
  FALAJ_ASSIGN_OR_RETURN(
      auto decision,
      residency.CheckTransfer(project.name, project.region, to_region, data_class.value_or("")));
  // A denial is a 403, so the audit trail records it as "denied" like any refused request.
  if (!decision.allowed) return MakeError(ErrorCode::kPermissionDenied, "{}", decision.reason);
  return HttpResponse::Json(200, {{"allowed", true},
                                  {"from_region", project.region},
                                  {"to_region", to_region},
                                  {"legal_basis", decision.legal_basis},
                                  {"reason", decision.reason}});
}

}  // namespace

Status CheckOutboundTransfer(security::ResidencyService& residency,
                             projects::ProjectService& projects, const HttpRequest& request,
                             std::string_view project, std::vector<std::string> classes) {
  FALAJ_ASSIGN_OR_RETURN(auto to_region, request.QueryParam("to_region"));
  FALAJ_ASSIGN_OR_RETURN(auto found, projects.Get(project));
  const std::string destination = to_region.value_or(found.region);
  classes.insert(classes.begin(), "");
  for (const auto& data_class : classes) {
    FALAJ_ASSIGN_OR_RETURN(
        auto decision, residency.CheckTransfer(found.name, found.region, destination, data_class));
    if (!decision.allowed) return MakeError(ErrorCode::kPermissionDenied, "{}", decision.reason);
  }
  return Ok();
}

Result<security::TransferDecision> CheckNodeRegion(security::ResidencyService& residency,
                                                   projects::ProjectService& projects,
                                                   std::string_view project,
                                                   std::string_view node_region) {
  FALAJ_ASSIGN_OR_RETURN(auto found, projects.Get(project));
  if (node_region.empty()) return security::TransferDecision{true, "", "no node region declared"};
  FALAJ_ASSIGN_OR_RETURN(auto decision,
                         residency.CheckTransfer(found.name, found.region, node_region, ""));
  if (!decision.allowed) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "project '{}' is pinned to region '{}' and this serving node is in region "
                     "'{}': {}",
                     found.name, found.region, node_region, decision.reason);
  }
  return decision;
}

Result<std::string> CheckDeployment(security::ResidencyService& residency,
                                    projects::ProjectService& projects, const HttpRequest& request,
                                    std::string_view node_region) {
  const std::string project(request.PathParam("project"));
  FALAJ_ASSIGN_OR_RETURN(auto decision, CheckNodeRegion(residency, projects, project, node_region));
  if (decision.legal_basis != "same-region" && !decision.legal_basis.empty()) {
    log::Info("cross-region deployment allowed", {{"request_id", request.request_id},
                                                  {"project", project},
                                                  {"to_region", node_region},
                                                  {"legal_basis", decision.legal_basis}});
  }
  return decision.legal_basis;
}

Status AddResidencyRoutes(Router& router, security::ResidencyService& residency,
                          projects::ProjectService& projects) {
  FALAJ_RETURN_IF_ERROR(
      router.Add({"GET", kBase + "/transfer-policies", "policies.read", Execution::kWorker, false,
                  [&residency](HttpRequest& request) {
                    return Answer(request, [&]() -> Result<HttpResponse> {
                      FALAJ_ASSIGN_OR_RETURN(auto listed,
                                             residency.ListPolicies(request.PathParam("project")));
                      nlohmann::json items = nlohmann::json::array();
                      for (const auto& policy : listed) items.push_back(PolicyJson(policy));
                      return HttpResponse::Json(200, {{"transfer_policies", items}});
                    });
                  }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"PUT", kBase + "/transfer-policies/{region}", "policies.admin",
                  Execution::kWorker, true, [&residency, &projects](HttpRequest& request) {
                    return Answer(request, [&] { return SetPolicy(residency, projects, request); });
                  }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"DELETE", kBase + "/transfer-policies/{region}", "policies.admin",
                  Execution::kWorker, true, [&residency](HttpRequest& request) {
                    return Answer(request, [&]() -> Result<HttpResponse> {
                      FALAJ_RETURN_IF_ERROR(residency.RemovePolicy(request.PathParam("project"),
                                                                   request.PathParam("region")));
                      return NoContent();
                    });
                  }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"GET", kBase + "/restricted-classes", "policies.read", Execution::kWorker, false,
                  [&residency](HttpRequest& request) {
                    return Answer(request, [&]() -> Result<HttpResponse> {
                      FALAJ_ASSIGN_OR_RETURN(
                          auto classes, residency.RestrictedClasses(request.PathParam("project")));
                      return HttpResponse::Json(200, {{"classes", classes}});
                    });
                  }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"PUT", kBase + "/restricted-classes", "policies.admin", Execution::kWorker, true,
                  [&residency](HttpRequest& request) {
                    return Answer(request, [&]() -> Result<HttpResponse> {
                      FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
                      FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"classes"}));
                      FALAJ_ASSIGN_OR_RETURN(auto classes, json::StringList(body, "classes"));
                      FALAJ_RETURN_IF_ERROR(
                          residency.SetRestrictedClasses(request.PathParam("project"), classes));
                      return HttpResponse::Json(200, {{"classes", classes}});
                    });
                  }}));
  return router.Add({"POST", kBase + "/transfer-checks", "policies.read", Execution::kWorker, true,
                     [&residency, &projects](HttpRequest& request) {
                       return Answer(request,
                                     [&] { return CheckTransfer(residency, projects, request); });
                     }});
}

}  // namespace falaj::api
