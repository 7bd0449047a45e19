#include "api/project_routes.h"

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

nlohmann::json ProjectJson(const projects::Project& project) {
  return {{"name", project.name},
          {"description", project.description},
          {"region", project.region},
          {"labels", project.labels},
          {"created_at", FormatRfc3339(FromUnixMillis(project.created_at_ms))},
          {"updated_at", FormatRfc3339(FromUnixMillis(project.updated_at_ms))}};
}

// Runs `body`, answering its error (if any) as a JSON error response.
template <typename Body>
HttpResponse Answer(const HttpRequest& request, Body&& body) {
  Result<HttpResponse> response = body();
  if (!response) return HttpResponse::FromError(response.error(), request.request_id);
  return std::move(*response);
}

Result<HttpResponse> CreateProject(projects::ProjectService& service, const HttpRequest& request) {
  auto body = json::ParseObject(request.body);
  if (!body) return std::unexpected(body.error());
  FALAJ_RETURN_IF_ERROR(
      json::RejectUnknownFields(*body, {"name", "description", "region", "labels"}));
  projects::Project project;
  auto name = json::RequiredString(*body, "name");
  if (!name) return std::unexpected(name.error());
  auto region = json::RequiredString(*body, "region");
  if (!region) return std::unexpected(region.error());
  auto description = json::OptionalString(*body, "description");
  if (!description) return std::unexpected(description.error());
  auto labels = json::OptionalStringMap(*body, "labels");
  if (!labels) return std::unexpected(labels.error());
  project.name = std::move(*name);
  project.region = std::move(*region);
  project.description = description->value_or("");
  project.labels = labels->value_or(std::map<std::string, std::string>());
  auto created = service.Create(std::move(project));
  if (!created) return std::unexpected(created.error());
  HttpResponse response = HttpResponse::Json(201, ProjectJson(*created));
  response.headers.emplace_back("Location", "/api/v1/projects/" + created->name);
  return response;
}

Result<HttpResponse> UpdateProject(projects::ProjectService& service, const HttpRequest& request) {
  auto body = json::ParseObject(request.body);
  if (!body) return std::unexpected(body.error());
  if (body->contains("name") || body->contains("region")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "fields 'name' and 'region' cannot be changed after creation");
  }
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(*body, {"description", "labels"}));
  projects::ProjectUpdate update;
  auto description = json::OptionalString(*body, "description");
  if (!description) return std::unexpected(description.error());
  auto labels = json::OptionalStringMap(*body, "labels");
  if (!labels) return std::unexpected(labels.error());
  update.description = std::move(*description);
  update.labels = std::move(*labels);
  auto updated = service.Update(request.PathParam("project"), update);
  if (!updated) return std::unexpected(updated.error());
  return HttpResponse::Json(200, ProjectJson(*updated));
}

}  // namespace

Status AddProjectRoutes(Router& router, projects::ProjectService& service) {
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/api/v1/projects", "projects.read", Execution::kWorker,
                                    false, [&service](HttpRequest& request) {
                                      return Answer(request, [&]() -> Result<HttpResponse> {
                                        auto listed = service.List();
                                        if (!listed) return std::unexpected(listed.error());
                                        nlohmann::json items = nlohmann::json::array();
                                        for (const auto& project : *listed)
                                          items.push_back(ProjectJson(project));
                                        return HttpResponse::Json(200, {{"projects", items}});
                                      });
                                    }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"POST", "/api/v1/projects", "projects.write",
                                    Execution::kWorker, true, [&service](HttpRequest& request) {
                                      return Answer(
                                          request, [&] { return CreateProject(service, request); });
                                    }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/api/v1/projects/{project}", "projects.read",
                                    Execution::kWorker, false, [&service](HttpRequest& request) {
                                      return Answer(request, [&]() -> Result<HttpResponse> {
                                        auto project = service.Get(request.PathParam("project"));
                                        if (!project) return std::unexpected(project.error());
                                        return HttpResponse::Json(200, ProjectJson(*project));
                                      });
                                    }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"PATCH", "/api/v1/projects/{project}", "projects.write",
                                    Execution::kWorker, true, [&service](HttpRequest& request) {
                                      return Answer(
                                          request, [&] { return UpdateProject(service, request); });
                                    }}));
  return router.Add({"DELETE", "/api/v1/projects/{project}", "projects.write", Execution::kWorker,
                     true, [&service](HttpRequest& request) {
                       return Answer(request, [&]() -> Result<HttpResponse> {
                         FALAJ_RETURN_IF_ERROR(service.Delete(request.PathParam("project")));
                         return HttpResponse::Text(204, "application/json", "");
                       });
                     }});
}

}  // namespace falaj::api
