#include "api/registry_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/residency_routes.h"
#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "registry/registry_names.h"

namespace falaj::api {
namespace {

const std::string kModels = "/api/v1/projects/{project}/models";
const std::string kVersion = kModels + "/{model}/versions/{version}";

nlohmann::json ModelJson(const registry::Model& model) {
  return {{"name", model.name},
          {"description", model.description},
          {"tags", model.tags},
          {"created_by", model.created_by},
          {"created_at", TimeOrNull(model.created_at_ms)},
          {"updated_at", TimeOrNull(model.updated_at_ms)}};
}

nlohmann::json VersionJson(const registry::ModelVersion& version) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& file : version.files) {
    files.push_back({{"path", file.path}, {"sha256", file.sha256}, {"size", file.size}});
  }
  return {{"model", version.model},
          {"version", version.version},
          {"format", version.format},
          {"status", version.status},
          {"files", files},
          {"signature", version.signature},
          {"metrics", version.metrics},
          {"tags", version.tags},
          {"lineage", version.lineage},
          {"aliases", version.aliases},
          {"manifest_signature", version.manifest_signature},
          {"signing_key_id", version.signing_key_id},
          {"created_by", version.created_by},
          {"created_at", TimeOrNull(version.created_at_ms)}};
}

// {version} is a version number or an alias of the model.
Result<int64_t> VersionParam(registry::ModelRegistry& registry, const HttpRequest& request) {
  const std::string& text = request.PathParam("version");
  if (registry::IsVersionNumber(text)) {
    int64_t version = 0;
    std::from_chars(text.data(), text.data() + text.size(), version);
    return version;
  }
  return registry.ResolveAlias(request.PathParam("project"), request.PathParam("model"), text);
}

Result<HttpResponse> UploadArtifact(registry::ArtifactStores& artifacts,
                                    const HttpRequest& request) {
  if (request.body.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the request body (the file) is empty");
  }
  FALAJ_ASSIGN_OR_RETURN(auto store, artifacts(request.PathParam("project")));
  FALAJ_ASSIGN_OR_RETURN(auto digest, store->Put(request.body));
  return HttpResponse::Json(201, {{"sha256", digest}, {"size", request.body.size()}});
}

Result<HttpResponse> CreateModel(registry::ModelRegistry& registry, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"name", "description", "tags"}));
  registry::Model model;
  model.project = request.PathParam("project");
  model.created_by = request.principal->subject;
  FALAJ_ASSIGN_OR_RETURN(model.name, json::RequiredString(body, "name"));
  FALAJ_ASSIGN_OR_RETURN(auto description, json::OptionalString(body, "description"));
  FALAJ_ASSIGN_OR_RETURN(auto tags, json::OptionalStringMap(body, "tags"));
  model.description = description.value_or("");
  model.tags = tags.value_or(std::map<std::string, std::string>());
  FALAJ_ASSIGN_OR_RETURN(auto created, registry.CreateModel(std::move(model)));
  return HttpResponse::Json(201, ModelJson(created));
}

Result<std::vector<registry::ArtifactFile>> FilesField(const nlohmann::json& body) {
  auto found = body.find("files");
  if (found == body.end() || !found->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'files' must be a list of {\"path\", \"sha256\"} objects");
  }
  std::vector<registry::ArtifactFile> files;
  for (const auto& item : *found) {
    if (!item.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "each entry of 'files' must be an object");
    }
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(item, {"path", "sha256"}));
    registry::ArtifactFile file;
    FALAJ_ASSIGN_OR_RETURN(file.path, json::RequiredString(item, "path"));
    FALAJ_ASSIGN_OR_RETURN(file.sha256, json::RequiredString(item, "sha256"));
    files.push_back(std::move(file));
  }
  return files;
}

Result<nlohmann::json> ObjectField(const nlohmann::json& body, std::string_view field) {
  auto found = body.find(field);
  if (found == body.end() || found->is_null()) return nlohmann::json::object();
  if (!found->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be an object", field);
  }
  return *found;
}

Result<std::map<std::string, double>> MetricsField(const nlohmann::json& body) {
  FALAJ_ASSIGN_OR_RETURN(auto metrics, ObjectField(body, "metrics"));
  std::map<std::string, double> values;
  for (const auto& [name, value] : metrics.items()) {
    if (!value.is_number()) {
      return MakeError(ErrorCode::kInvalidArgument, "metric '{}' must be a number", name);
    }
    values.emplace(name, value.get<double>());
  }
  return values;
}

Result<HttpResponse> RegisterVersion(registry::ModelRegistry& registry,
                                     const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"format", "files", "signature", "metrics", "tags", "lineage"}));
  registry::NewVersion version;
  version.created_by = request.principal->subject;
  FALAJ_ASSIGN_OR_RETURN(version.format, json::RequiredString(body, "format"));
  FALAJ_ASSIGN_OR_RETURN(version.files, FilesField(body));
  FALAJ_ASSIGN_OR_RETURN(version.signature, ObjectField(body, "signature"));
  FALAJ_ASSIGN_OR_RETURN(version.metrics, MetricsField(body));
  FALAJ_ASSIGN_OR_RETURN(auto tags, json::OptionalStringMap(body, "tags"));
  version.tags = tags.value_or(std::map<std::string, std::string>());
  FALAJ_RETURN_IF_ERROR(registry::ValidateTags(version.tags));
  FALAJ_ASSIGN_OR_RETURN(version.lineage, ObjectField(body, "lineage"));
  FALAJ_ASSIGN_OR_RETURN(auto created,
                         registry.RegisterVersion(request.PathParam("project"),
                                                  request.PathParam("model"), std::move(version)));
  return HttpResponse::Json(201, VersionJson(created));
}

Result<HttpResponse> DownloadFile(registry::ModelRegistry& registry, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(int64_t version, VersionParam(registry, request));
  FALAJ_ASSIGN_OR_RETURN(auto reader,
                         registry.OpenFile(request.PathParam("project"), request.PathParam("model"),
                                           version, request.PathParam("path")));
  std::string content;
  content.resize(reader->size());
  size_t filled = 0;
  while (true) {
    std::string chunk(64 * 1024, '\0');
    FALAJ_ASSIGN_OR_RETURN(size_t read, reader->Read(chunk.data(), chunk.size()));
    if (read == 0) break;
    if (filled + read > content.size()) content.resize(filled + read);
    std::copy_n(chunk.data(), read, content.data() + filled);
    filled += read;
  }
  content.resize(filled);
  return HttpResponse::Text(200, "application/octet-stream", std::move(content));
}

}  // namespace

Status AddRegistryRoutes(Router& router, registry::ModelRegistry& registry,
                         registry::ArtifactStores artifacts, ModelChanged on_change,
                         security::ResidencyService& residency,
                         projects::ProjectService& projects) {
  auto& r = registry;
  std::vector<Route> routes;
  routes.push_back(WorkerRoute(
      "POST", "/api/v1/projects/{project}/artifacts", "models.write",
      [artifacts](HttpRequest& request) mutable { return UploadArtifact(artifacts, request); }));
  routes.push_back(WorkerRoute(
      "GET", kModels, "models.read", [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto models, r.ListModels(request.PathParam("project")));
        nlohmann::json items = nlohmann::json::array();
        for (const auto& model : models) items.push_back(ModelJson(model));
        return HttpResponse::Json(200, {{"models", items}});
      }));
  routes.push_back(WorkerRoute("POST", kModels, "models.write",
                               [&r](HttpRequest& request) { return CreateModel(r, request); }));
  routes.push_back(WorkerRoute("GET", kModels + "/{model}", "models.read",
                               [&r](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(auto model,
                                                        r.GetModel(request.PathParam("project"),
                                                                   request.PathParam("model")));
                                 return HttpResponse::Json(200, ModelJson(model));
                               }));
  routes.push_back(WorkerRoute(
      "PATCH", kModels + "/{model}", "models.write",
      [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
        FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"description", "tags"}));
        FALAJ_ASSIGN_OR_RETURN(auto description, json::OptionalString(body, "description"));
        FALAJ_ASSIGN_OR_RETURN(auto tags, json::OptionalStringMap(body, "tags"));
        FALAJ_ASSIGN_OR_RETURN(
            auto model, r.UpdateModel(request.PathParam("project"), request.PathParam("model"),
                                      description, tags));
        return HttpResponse::Json(200, ModelJson(model));
      }));
  routes.push_back(WorkerRoute("DELETE", kModels + "/{model}", "models.write",
                               [&r](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_RETURN_IF_ERROR(r.DeleteModel(request.PathParam("project"),
                                                                     request.PathParam("model")));
                                 return NoContent();
                               }));
  routes.push_back(WorkerRoute("GET", kModels + "/{model}/versions", "models.read",
                               [&r](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(auto versions,
                                                        r.ListVersions(request.PathParam("project"),
                                                                       request.PathParam("model")));
                                 nlohmann::json items = nlohmann::json::array();
                                 for (const auto& version : versions)
                                   items.push_back(VersionJson(version));
                                 return HttpResponse::Json(200, {{"versions", items}});
                               }));
  routes.push_back(WorkerRoute("POST", kModels + "/{model}/versions", "models.write",
                               [&r](HttpRequest& request) { return RegisterVersion(r, request); }));
  routes.push_back(WorkerRoute(
      "GET", kVersion, "models.read", [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(int64_t number, VersionParam(r, request));
        FALAJ_ASSIGN_OR_RETURN(auto version, r.GetVersion(request.PathParam("project"),
                                                          request.PathParam("model"), number));
        return HttpResponse::Json(200, VersionJson(version));
      }));
  routes.push_back(WorkerRoute(
      "PATCH", kVersion, "models.write", [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
        FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"status"}));
        FALAJ_ASSIGN_OR_RETURN(auto status, json::RequiredString(body, "status"));
        FALAJ_ASSIGN_OR_RETURN(int64_t number, VersionParam(r, request));
        FALAJ_ASSIGN_OR_RETURN(
            auto version,
            r.SetStatus(request.PathParam("project"), request.PathParam("model"), number, status));
        return HttpResponse::Json(200, VersionJson(version));
      }));
  routes.push_back(WorkerRoute(
      "DELETE", kVersion, "models.write", [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(int64_t number, VersionParam(r, request));
        FALAJ_RETURN_IF_ERROR(
            r.DeleteVersion(request.PathParam("project"), request.PathParam("model"), number));
        return NoContent();
      }));
  // A model leaving the server is a transfer of the project's data: checked and audited.
  Route download =
      WorkerRoute("GET", kVersion + "/files/{path}", "models.read",
                  [&r, &residency, &projects](HttpRequest& request) -> Result<HttpResponse> {
                    FALAJ_RETURN_IF_ERROR(CheckOutboundTransfer(residency, projects, request,
                                                                request.PathParam("project"), {}));
                    return DownloadFile(r, request);
                  });
  download.audited = true;
  routes.push_back(std::move(download));
  routes.push_back(WorkerRoute(
      "GET", kVersion + "/verify", "models.read",
      [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(int64_t number, VersionParam(r, request));
        FALAJ_ASSIGN_OR_RETURN(auto report, r.Verify(request.PathParam("project"),
                                                     request.PathParam("model"), number));
        return HttpResponse::Json(
            200, {{"ok", report.ok}, {"version", number}, {"reason", report.reason}});
      }));
  const std::string alias = kModels + "/{model}/aliases/{alias}";
  routes.push_back(
      WorkerRoute("GET", alias, "models.read", [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(int64_t version, r.ResolveAlias(request.PathParam("project"),
                                                               request.PathParam("model"),
                                                               request.PathParam("alias")));
        return HttpResponse::Json(200,
                                  {{"alias", request.PathParam("alias")}, {"version", version}});
      }));
  routes.push_back(WorkerRoute(
      "PUT", alias, "models.promote", [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
        FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"version"}));
        FALAJ_ASSIGN_OR_RETURN(auto version, json::OptionalInt(body, "version"));
        if (!version) {
          return MakeError(ErrorCode::kInvalidArgument, "field 'version' is required");
        }
        FALAJ_RETURN_IF_ERROR(r.SetAlias(request.PathParam("project"), request.PathParam("model"),
                                         request.PathParam("alias"), *version));
        return HttpResponse::Json(200,
                                  {{"alias", request.PathParam("alias")}, {"version", *version}});
      }));
  routes.push_back(WorkerRoute(
      "DELETE", alias, "models.promote", [&r](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_RETURN_IF_ERROR(r.DeleteAlias(
            request.PathParam("project"), request.PathParam("model"), request.PathParam("alias")));
        return NoContent();
      }));
  for (auto& route : routes) {
    if (route.method != "GET" && route.pattern.find("{model}") != std::string::npos) {
      route.handler = [handler = std::move(route.handler), on_change](HttpRequest& request) {
        HttpResponse response = handler(request);
        if (response.status < 400) {
          on_change(request.PathParam("project"), request.PathParam("model"));
        }
        return response;
      };
    }
    FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  }
  return Ok();
}

}  // namespace falaj::api
