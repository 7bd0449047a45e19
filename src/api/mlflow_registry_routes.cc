// MLflow's model registry API mapped onto Falaj's ModelRegistry (no second registry): registered
// models are Falaj models, MLflow version numbers are Falaj version numbers and MLflow aliases
// are Falaj aliases, so an alias set through MLflow moves what Falaj endpoints serve. Creating a
// version resolves its source to uploaded artifacts (mlflow_model_source.h) and registers them
// as a signed Falaj version; its files are also frozen under _registry/<model>/<version> in the
// artifact index, which is what get-download-uri (and so models:/name@alias) answers.
// Not mapped: stages (deprecated by MLflow; use aliases), renames, and changing a version's
// description or tags after registration (Falaj versions are immutable).
#include "api/mlflow_codec.h"
#include "api/mlflow_model_source.h"
#include "api/mlflow_routes.h"
#include "tracking/tracking_validation.h"

namespace falaj::api {
namespace {

using mlflow::Fields;
using Services = MlflowServices;

constexpr size_t kMaxSearchResults = 1000;

const std::string& Project(const HttpRequest& request) { return request.PathParam("project"); }

std::string LineageText(const registry::ModelVersion& version, std::string_view key) {
  auto mlflow = version.lineage.find("mlflow");
  if (mlflow == version.lineage.end() || !mlflow->is_object()) return "";
  auto found = mlflow->find(key);
  return found != mlflow->end() && found->is_string() ? found->get<std::string>() : "";
}

nlohmann::json VersionJson(const registry::ModelVersion& version) {
  nlohmann::json json = {{"name", version.model},
                         {"version", std::to_string(version.version)},
                         {"creation_timestamp", version.created_at_ms},
                         {"last_updated_timestamp", version.created_at_ms},
                         {"user_id", version.created_by},
                         {"current_stage", "None"},
                         {"description", ""},
                         {"source", LineageText(version, "source")},
                         {"run_id", LineageText(version, "run_id")},
                         {"status", "READY"},
                         {"tags", mlflow::KeyValuesJson(version.tags)},
                         {"aliases", version.aliases}};
  if (auto model_id = LineageText(version, "model_id"); !model_id.empty()) {
    json["model_id"] = model_id;
  }
  return json;
}

Result<nlohmann::json> ModelJson(const Services& s, const registry::Model& model) {
  FALAJ_ASSIGN_OR_RETURN(auto versions, s.registry.ListVersions(model.project, model.name));
  nlohmann::json aliases = nlohmann::json::array();
  for (const auto& version : versions) {
    for (const auto& alias : version.aliases) {
      aliases.push_back({{"alias", alias}, {"version", std::to_string(version.version)}});
    }
  }
  nlohmann::json json = {{"name", model.name},
                         {"creation_timestamp", model.created_at_ms},
                         {"last_updated_timestamp", model.updated_at_ms},
                         {"user_id", model.created_by},
                         {"description", model.description},
                         {"tags", mlflow::KeyValuesJson(model.tags)},
                         {"aliases", aliases}};
  if (!versions.empty()) {
    auto latest =
        std::max_element(versions.begin(), versions.end(),
                         [](const auto& a, const auto& b) { return a.version < b.version; });
    json["latest_versions"] = nlohmann::json::array({VersionJson(*latest)});
  }
  return json;
}

// Index entries only: the blobs stay, as a version of another model may share them.
Status DropFrozenFiles(const Services& s, std::string_view project, const std::string& directory) {
  auto deleted = s.artifact_index.Delete(project, directory);
  if (!deleted) return std::unexpected(deleted.error());
  return Ok();
}

Result<int64_t> VersionField(const Fields& fields) {
  FALAJ_ASSIGN_OR_RETURN(auto version, fields.Int("version"));
  if (!version || *version < 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'version' must be a version number of 1 or more");
  }
  return *version;
}

std::unexpected<Error> NotMapped(std::string_view what, std::string_view instead) {
  return MakeError(ErrorCode::kUnimplemented, "{} is not supported by Falaj: {}", what, instead);
}

Result<nlohmann::json> CreateModel(const Services& s, const Fields& fields, HttpRequest& request) {
  registry::Model model;
  model.project = Project(request);
  FALAJ_ASSIGN_OR_RETURN(model.name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto description, fields.String("description"));
  FALAJ_ASSIGN_OR_RETURN(auto tags, fields.KeyValues("tags"));
  model.description = description.value_or("");
  model.tags = {tags.begin(), tags.end()};
  model.created_by = request.principal ? request.principal->subject : "";
  FALAJ_ASSIGN_OR_RETURN(auto created, s.registry.CreateModel(std::move(model)));
  FALAJ_ASSIGN_OR_RETURN(auto json, ModelJson(s, created));
  return nlohmann::json{{"registered_model", json}};
}

Result<nlohmann::json> GetModel(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto model, s.registry.GetModel(Project(request), name));
  FALAJ_ASSIGN_OR_RETURN(auto json, ModelJson(s, model));
  return nlohmann::json{{"registered_model", json}};
}

Result<nlohmann::json> UpdateModel(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto description, fields.String("description"));
  FALAJ_ASSIGN_OR_RETURN(auto model,
                         s.registry.UpdateModel(Project(request), name, description, std::nullopt));
  FALAJ_ASSIGN_OR_RETURN(auto json, ModelJson(s, model));
  return nlohmann::json{{"registered_model", json}};
}

// MLflow deletes a registered model with its versions and aliases; Falaj still refuses when an
// endpoint serves one of the versions.
Result<nlohmann::json> DeleteModel(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  const std::string& project = Project(request);
  FALAJ_ASSIGN_OR_RETURN(auto versions, s.registry.ListVersions(project, name));
  for (const auto& version : versions) {
    for (const auto& alias : version.aliases) {
      FALAJ_RETURN_IF_ERROR(s.registry.DeleteAlias(project, name, alias));
    }
    FALAJ_RETURN_IF_ERROR(s.registry.DeleteVersion(project, name, version.version));
  }
  FALAJ_RETURN_IF_ERROR(s.registry.DeleteModel(project, name));
  // The frozen files go too, so that a model created later under this name starts clean.
  FALAJ_RETURN_IF_ERROR(DropFrozenFiles(s, project, mlflow::RegistryDirectory(name)));
  return nlohmann::json::object();
}

Result<nlohmann::json> SearchModels(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto filter, fields.String("filter"));
  FALAJ_ASSIGN_OR_RETURN(auto paging, mlflow::ReadPaging(fields, 100, kMaxSearchResults));
  FALAJ_ASSIGN_OR_RETURN(auto wanted, mlflow::ParseEqualityFilter(filter.value_or(""), {"name"}));
  FALAJ_ASSIGN_OR_RETURN(auto models, s.registry.ListModels(Project(request)));
  std::erase_if(models, [&](const auto& model) {
    return wanted.contains("name") && model.name != wanted["name"];
  });
  return mlflow::PageJson(models, paging, "registered_models",
                          [&s](const registry::Model& model) { return ModelJson(s, model); });
}

// Stages are gone in MLflow 3; every version is in stage "None", so the latest is the newest.
Result<nlohmann::json> LatestVersions(const Services& s, const Fields& fields,
                                      HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto stages, fields.Strings("stages"));
  FALAJ_ASSIGN_OR_RETURN(auto versions, s.registry.ListVersions(Project(request), name));
  nlohmann::json list = nlohmann::json::array();
  bool none_wanted = stages.empty() || std::find_if(stages.begin(), stages.end(), [](auto& x) {
                                         return x == "None" || x == "none";
                                       }) != stages.end();
  if (!versions.empty() && none_wanted) {
    list.push_back(VersionJson(
        *std::max_element(versions.begin(), versions.end(),
                          [](const auto& a, const auto& b) { return a.version < b.version; })));
  }
  return nlohmann::json{{"model_versions", list}};
}

// Registered-model tags: set-tag adds or replaces one, delete-tag removes one.
Result<nlohmann::json> ChangeModelTag(const Services& s, const Fields& fields, HttpRequest& request,
                                      bool set) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto key, fields.RequiredString("key"));
  FALAJ_ASSIGN_OR_RETURN(auto value, fields.String("value"));
  FALAJ_ASSIGN_OR_RETURN(auto model, s.registry.GetModel(Project(request), name));
  if (set) {
    model.tags[key] = value.value_or("");
  } else if (model.tags.erase(key) == 0) {
    return MakeError(ErrorCode::kNotFound, "registered model '{}' has no tag '{}'", name, key);
  }
  auto updated = s.registry.UpdateModel(Project(request), name, std::nullopt, model.tags);
  if (!updated) return std::unexpected(updated.error());
  return nlohmann::json::object();
}

Result<nlohmann::json> SetModelTag(const Services& s, const Fields& fields, HttpRequest& request) {
  return ChangeModelTag(s, fields, request, true);
}

Result<nlohmann::json> DeleteModelTag(const Services& s, const Fields& fields,
                                      HttpRequest& request) {
  return ChangeModelTag(s, fields, request, false);
}

Result<nlohmann::json> CreateVersion(const Services& s, const Fields& fields,
                                     HttpRequest& request) {
  const std::string& project = Project(request);
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto source, fields.RequiredString("source"));
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.String("run_id"));
  FALAJ_ASSIGN_OR_RETURN(auto model_id, fields.String("model_id"));
  FALAJ_ASSIGN_OR_RETURN(auto tags, fields.KeyValues("tags"));
  FALAJ_ASSIGN_OR_RETURN(auto description, fields.String("description"));
  if (description && !description->empty()) {
    return NotMapped("a model version description",
                     "versions are immutable; describe the registered model instead");
  }
  // Checked first so that an unknown model is RESOURCE_DOES_NOT_EXIST, not a source error.
  FALAJ_ASSIGN_OR_RETURN(auto model, s.registry.GetModel(project, name));
  FALAJ_ASSIGN_OR_RETURN(
      auto resolved,
      mlflow::ResolveModelSource(s, project, source, run_id.value_or(""), model_id.value_or("")));
  registry::NewVersion version;
  version.format = resolved.format;
  version.files = resolved.files;
  version.tags = {tags.begin(), tags.end()};
  version.created_by = request.principal ? request.principal->subject : "";
  version.lineage = {{"mlflow", {{"source", source}, {"run_id", resolved.run_id}}}};
  if (!resolved.model_id.empty()) version.lineage["mlflow"]["model_id"] = resolved.model_id;
  // Serving loads this one file of the version.
  if (!resolved.model_file.empty()) version.lineage["mlflow"]["model_file"] = resolved.model_file;
  if (!resolved.run_id.empty()) version.lineage["run_id"] = resolved.run_id;
  FALAJ_ASSIGN_OR_RETURN(auto created,
                         s.registry.RegisterVersion(project, name, std::move(version)));
  // The registered files, frozen where downloads of this version read them.
  std::string frozen = mlflow::RegistryDirectory(name, created.version);
  FALAJ_RETURN_IF_ERROR(DropFrozenFiles(s, project, frozen));
  for (const auto& file : created.files) {
    FALAJ_RETURN_IF_ERROR(
        s.artifact_index.Put(project, frozen + "/" + file.path, file.sha256, file.size));
  }
  return nlohmann::json{{"model_version", VersionJson(created)}};
}

Result<nlohmann::json> GetVersion(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto number, VersionField(fields));
  FALAJ_ASSIGN_OR_RETURN(auto version, s.registry.GetVersion(Project(request), name, number));
  return nlohmann::json{{"model_version", VersionJson(version)}};
}

Result<nlohmann::json> UpdateVersion(const Services& s, const Fields& fields,
                                     HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto number, VersionField(fields));
  FALAJ_ASSIGN_OR_RETURN(auto description, fields.String("description"));
  FALAJ_ASSIGN_OR_RETURN(auto version, s.registry.GetVersion(Project(request), name, number));
  if (description && !description->empty()) {
    return NotMapped("changing a model version's description", "versions are immutable");
  }
  return nlohmann::json{{"model_version", VersionJson(version)}};
}

Result<nlohmann::json> DeleteVersion(const Services& s, const Fields& fields,
                                     HttpRequest& request) {
  const std::string& project = Project(request);
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto number, VersionField(fields));
  FALAJ_ASSIGN_OR_RETURN(auto version, s.registry.GetVersion(project, name, number));
  // MLflow drops a deleted version's aliases with it.
  for (const auto& alias : version.aliases) {
    FALAJ_RETURN_IF_ERROR(s.registry.DeleteAlias(project, name, alias));
  }
  FALAJ_RETURN_IF_ERROR(s.registry.DeleteVersion(project, name, number));
  FALAJ_RETURN_IF_ERROR(DropFrozenFiles(s, project, mlflow::RegistryDirectory(name, number)));
  return nlohmann::json::object();
}

Result<nlohmann::json> SearchVersions(const Services& s, const Fields& fields,
                                      HttpRequest& request) {
  const std::string& project = Project(request);
  FALAJ_ASSIGN_OR_RETURN(auto filter, fields.String("filter"));
  FALAJ_ASSIGN_OR_RETURN(auto paging, mlflow::ReadPaging(fields, 1000, kMaxSearchResults));
  FALAJ_ASSIGN_OR_RETURN(auto wanted,
                         mlflow::ParseEqualityFilter(filter.value_or(""), {"name", "run_id"}));
  std::vector<std::string> names;
  if (wanted.contains("name")) {
    names.push_back(wanted["name"]);
  } else {
    FALAJ_ASSIGN_OR_RETURN(auto models, s.registry.ListModels(project));
    for (const auto& model : models) names.push_back(model.name);
  }
  std::vector<registry::ModelVersion> found;
  for (const auto& name : names) {
    auto versions = s.registry.ListVersions(project, name);
    if (!versions && versions.error().code == ErrorCode::kNotFound) continue;
    if (!versions) return std::unexpected(versions.error());
    for (auto& version : *versions) {
      if (wanted.contains("run_id") && LineageText(version, "run_id") != wanted["run_id"]) continue;
      found.push_back(std::move(version));
    }
  }
  return mlflow::PageJson(found, paging, "model_versions",
                          [](const registry::ModelVersion& version) -> Result<nlohmann::json> {
                            return VersionJson(version);
                          });
}

Result<nlohmann::json> DownloadUri(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto number, VersionField(fields));
  FALAJ_ASSIGN_OR_RETURN(auto version, s.registry.GetVersion(Project(request), name, number));
  return nlohmann::json{
      {"artifact_uri", "mlflow-artifacts:/" + mlflow::RegistryDirectory(name, version.version)}};
}

Result<nlohmann::json> SetAlias(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto alias, fields.RequiredString("alias"));
  FALAJ_ASSIGN_OR_RETURN(auto number, VersionField(fields));
  FALAJ_RETURN_IF_ERROR(s.registry.SetAlias(Project(request), name, alias, number));
  return nlohmann::json::object();
}

Result<nlohmann::json> DeleteAlias(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto alias, fields.RequiredString("alias"));
  FALAJ_RETURN_IF_ERROR(s.registry.DeleteAlias(Project(request), name, alias));
  return nlohmann::json::object();
}

Result<nlohmann::json> GetByAlias(const Services& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.RequiredString("name"));
  FALAJ_ASSIGN_OR_RETURN(auto alias, fields.RequiredString("alias"));
  FALAJ_ASSIGN_OR_RETURN(auto number, s.registry.ResolveAlias(Project(request), name, alias));
  FALAJ_ASSIGN_OR_RETURN(auto version, s.registry.GetVersion(Project(request), name, number));
  return nlohmann::json{{"model_version", VersionJson(version)}};
}

Result<nlohmann::json> Rename(const Services&, const Fields&, HttpRequest&) {
  return NotMapped("renaming a registered model",
                   "endpoints refer to models by name; register under the new name instead");
}

Result<nlohmann::json> TransitionStage(const Services&, const Fields&, HttpRequest&) {
  return NotMapped("model version stages", "MLflow deprecated them; use aliases");
}

Result<nlohmann::json> VersionTag(const Services&, const Fields&, HttpRequest&) {
  return NotMapped("changing a model version's tags",
                   "versions are immutable; pass tags when creating the version");
}

}  // namespace

Status AddMlflowRegistryRoutes(Router& router, const MlflowServices& services) {
  const std::string models = "/registered-models";
  const std::string versions = "/model-versions";
  const std::vector<MlflowEndpoint> entries = {
      {"POST", models + "/create", "models.write", true, CreateModel},
      {"GET", models + "/get", "models.read", false, GetModel},
      {"PATCH", models + "/update", "models.write", true, UpdateModel},
      {"POST", models + "/rename", "models.write", true, Rename},
      {"DELETE", models + "/delete", "models.write", true, DeleteModel},
      {"GET", models + "/search", "models.read", false, SearchModels},
      {"POST", models + "/get-latest-versions", "models.read", false, LatestVersions},
      {"GET", models + "/get-latest-versions", "models.read", false, LatestVersions},
      {"POST", models + "/set-tag", "models.write", true, SetModelTag},
      {"DELETE", models + "/delete-tag", "models.write", true, DeleteModelTag},
      {"POST", models + "/alias", "models.promote", true, SetAlias},
      {"DELETE", models + "/alias", "models.promote", true, DeleteAlias},
      {"GET", models + "/alias", "models.read", false, GetByAlias},
      {"POST", versions + "/create", "models.write", true, CreateVersion},
      {"GET", versions + "/get", "models.read", false, GetVersion},
      {"PATCH", versions + "/update", "models.write", true, UpdateVersion},
      {"DELETE", versions + "/delete", "models.write", true, DeleteVersion},
      {"GET", versions + "/search", "models.read", false, SearchVersions},
      {"GET", versions + "/get-download-uri", "models.read", false, DownloadUri},
      {"POST", versions + "/transition-stage", "models.write", true, TransitionStage},
      {"POST", versions + "/set-tag", "models.write", true, VersionTag},
      {"DELETE", versions + "/delete-tag", "models.write", true, VersionTag},
  };
  return AddMlflowEndpoints(router, services, entries);
}

}  // namespace falaj::api
