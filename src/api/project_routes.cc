#include "api/project_routes.h"

#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

nlohmann::json ProjectJson(const projects::Project& project) {
  return {{"name", project.name},
          {"description", project.description},
          {"region", project.region},
          {"labels", project.labels},
          {"created_at", TimeOrNull(project.created_at_ms)},
          {"updated_at", TimeOrNull(project.updated_at_ms)}};
}

Result<HttpResponse> CreateProject(projects::ProjectService& service, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(
      json::RejectUnknownFields(body, {"name", "description", "region", "labels"}));
  projects::Project project;
  FALAJ_ASSIGN_OR_RETURN(project.name, json::RequiredString(body, "name"));
  FALAJ_ASSIGN_OR_RETURN(project.region, json::RequiredString(body, "region"));
  FALAJ_ASSIGN_OR_RETURN(auto description, json::OptionalString(body, "description"));
  FALAJ_ASSIGN_OR_RETURN(auto labels, json::OptionalStringMap(body, "labels"));
  project.description = description.value_or("");
  project.labels = labels.value_or(std::map<std::string, std::string>());
  FALAJ_ASSIGN_OR_RETURN(auto created, service.Create(std::move(project)));
  HttpResponse response = HttpResponse::Json(201, ProjectJson(created));
  response.headers.emplace_back("Location", "/api/v1/projects/" + created.name);
  return response;
}

Result<HttpResponse> UpdateProject(projects::ProjectService& service, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  if (body.contains("name") || body.contains("region")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "fields 'name' and 'region' cannot be changed after creation");
  }
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"description", "labels"}));
  projects::ProjectUpdate update;
  FALAJ_ASSIGN_OR_RETURN(update.description, json::OptionalString(body, "description"));
  FALAJ_ASSIGN_OR_RETURN(update.labels, json::OptionalStringMap(body, "labels"));
  FALAJ_ASSIGN_OR_RETURN(auto updated, service.Update(request.PathParam("project"), update));
  return HttpResponse::Json(200, ProjectJson(updated));
}

Result<HttpResponse> ListProjects(projects::ProjectService& service,
                                  security::Authorizer& authorizer, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto listed, service.List());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& project : listed) {
    FALAJ_ASSIGN_OR_RETURN(bool visible,
                           authorizer.IsAllowed(*request.principal, "projects.read", project.name));
    if (visible) items.push_back(ProjectJson(project));
  }
  return HttpResponse::Json(200, {{"projects", items}});
}

}  // namespace

Status AddProjectRoutes(Router& router, projects::ProjectService& service,
                        security::Authorizer& authorizer) {
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/api/v1/projects", "projects.list", Execution::kWorker,
                                    false, [&service, &authorizer](HttpRequest& request) {
                                      return Answer(request, [&] {
                                        return ListProjects(service, authorizer, request);
                                      });
                                    }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"POST", "/api/v1/projects", "projects.create",
                                    Execution::kWorker, true, [&service](HttpRequest& request) {
                                      return Answer(
                                          request, [&] { return CreateProject(service, request); });
                                    }}));
  FALAJ_RETURN_IF_ERROR(router.Add(
      {"GET", "/api/v1/projects/{project}", "projects.read", Execution::kWorker, false,
       [&service](HttpRequest& request) {
         return Answer(request, [&]() -> Result<HttpResponse> {
           FALAJ_ASSIGN_OR_RETURN(auto project, service.Get(request.PathParam("project")));
           return HttpResponse::Json(200, ProjectJson(project));
         });
       }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"PATCH", "/api/v1/projects/{project}", "projects.write",
                                    Execution::kWorker, true, [&service](HttpRequest& request) {
                                      return Answer(
                                          request, [&] { return UpdateProject(service, request); });
                                    }}));
  return router.Add({"DELETE", "/api/v1/projects/{project}", "projects.delete", Execution::kWorker,
                     true, [&service](HttpRequest& request) {
                       return Answer(request, [&]() -> Result<HttpResponse> {
                         FALAJ_RETURN_IF_ERROR(service.Delete(request.PathParam("project")));
                         return NoContent();
                       });
                     }});
}

}  // namespace falaj::api
