#include "api/feature_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "data/value_text.h"

namespace falaj::api {
namespace {

const std::string kProject = "/api/v1/projects/{project}";
const std::string kDefinitions = kProject + "/feature-definitions";
constexpr size_t kMaxDefinitions = 1000;
constexpr size_t kMaxEntities = 10000;

nlohmann::json DefinitionJson(const features::DefinitionVersion& version) {
  return {{"kind", version.kind},
          {"name", version.name},
          {"version", version.version},
          {"spec", version.spec},
          {"created_by", version.created_by},
          {"created_at", TimeOrNull(version.created_at_ms)}};
}

Result<HttpResponse> Apply(features::FeatureRegistry& registry, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"objects", "dry_run"}));
  FALAJ_ASSIGN_OR_RETURN(auto dry_run, json::OptionalBool(body, "dry_run"));
  auto objects = body.find("objects");
  if (objects == body.end() || !objects->is_array() || objects->empty() ||
      objects->size() > kMaxDefinitions) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'objects' must be a list of 1 to {} definitions", kMaxDefinitions);
  }
  std::vector<features::Definition> definitions;
  for (size_t i = 0; i < objects->size(); ++i) {
    auto definition = features::ParseDefinition((*objects)[i]);
    if (!definition) {
      return MakeError(ErrorCode::kInvalidArgument, "objects[{}]: {}", i,
                       definition.error().message);
    }
    definitions.push_back(std::move(*definition));
  }
  FALAJ_ASSIGN_OR_RETURN(auto changes,
                         registry.Apply(request.PathParam("project"), definitions,
                                        request.principal->subject, dry_run.value_or(false)));
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = 0; i < changes.size(); ++i) {
    items.push_back({{"kind", changes[i].kind},
                     {"name", changes[i].name},
                     {"action", changes[i].action},
                     {"version", changes[i].version},
                     {"spec", definitions[i].spec},
                     {"previous", changes[i].previous}});
  }
  return HttpResponse::Json(200, {{"dry_run", dry_run.value_or(false)}, {"changes", items}});
}

Result<std::vector<features::FeatureReference>> References(const nlohmann::json& body) {
  std::vector<features::FeatureReference> references;
  auto list = body.find("features");
  if (list == body.end()) return references;
  if (!list->is_array() || list->size() > kMaxDefinitions) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'features' must be a list of \"view:feature\" strings");
  }
  for (const auto& item : *list) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'features' must list strings");
    }
    FALAJ_ASSIGN_OR_RETURN(auto reference,
                           features::ParseFeatureReference(item.get<std::string>()));
    references.push_back(std::move(reference));
  }
  return references;
}

Result<HttpResponse> BuildTrainingSet(features::TrainingSetBuilder& builder,
                                      const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"name", "feature_service", "features", "entities", "full_feature_names"}));
  features::TrainingSetRequest build;
  build.project = request.PathParam("project");
  build.principal = request.principal->subject;
  FALAJ_ASSIGN_OR_RETURN(build.output, json::RequiredString(body, "name"));
  FALAJ_ASSIGN_OR_RETURN(auto service, json::OptionalString(body, "feature_service"));
  build.feature_service = service.value_or("");
  FALAJ_ASSIGN_OR_RETURN(build.features, References(body));
  FALAJ_ASSIGN_OR_RETURN(auto full_names, json::OptionalBool(body, "full_feature_names"));
  build.full_feature_names = full_names.value_or(false);
  auto entities = body.find("entities");
  if (entities == body.end() || !entities->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'entities' must be {\"dataset\": …, \"version\": …, "
                     "\"timestamp_column\": …}");
  }
  FALAJ_RETURN_IF_ERROR(
      json::RejectUnknownFields(*entities, {"dataset", "version", "timestamp_column"}));
  FALAJ_ASSIGN_OR_RETURN(build.entity_dataset, json::RequiredString(*entities, "dataset"));
  FALAJ_ASSIGN_OR_RETURN(auto version, json::OptionalInt(*entities, "version"));
  build.entity_version = version.value_or(0);
  FALAJ_ASSIGN_OR_RETURN(auto column, json::OptionalString(*entities, "timestamp_column"));
  if (column) build.entity_timestamp_column = *column;
  FALAJ_ASSIGN_OR_RETURN(auto built, builder.Build(build));
  return HttpResponse::Json(201, {{"dataset", built.dataset},
                                  {"version", built.version},
                                  {"rows", built.rows},
                                  {"sha256", built.sha256},
                                  {"lineage", built.lineage}});
}

Result<HttpResponse> Materialize(features::Materializer& materializer, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body.empty() ? "{}" : request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"feature_views", "incremental"}));
  std::vector<std::string> views;
  if (auto list = body.find("feature_views"); list != body.end()) {
    if (!list->is_array()) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'feature_views' must list names");
    }
    for (const auto& item : *list) {
      if (!item.is_string()) {
        return MakeError(ErrorCode::kInvalidArgument, "field 'feature_views' must list names");
      }
      views.push_back(item.get<std::string>());
    }
  }
  FALAJ_ASSIGN_OR_RETURN(auto incremental, json::OptionalBool(body, "incremental"));
  FALAJ_ASSIGN_OR_RETURN(
      auto runs, materializer.Run(request.PathParam("project"), views, incremental.value_or(true)));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& run : runs) {
    items.push_back({{"feature_view", run.view},
                     {"mode", run.mode},
                     {"from_dataset_version", run.from_dataset_version},
                     {"to_dataset_version", run.to_dataset_version},
                     {"rows_read", run.rows_read},
                     {"entities_written", run.entities_written}});
  }
  return HttpResponse::Json(200, {{"runs", items}});
}

nlohmann::json ValueJson(const features::OnlineValue& value, data::ColumnType type) {
  if (const auto* integer = std::get_if<int64_t>(&value)) {
    if (type == data::ColumnType::kTimestamp) return data::FormatIsoTimestamp(*integer, 1000000);
    return *integer;
  }
  if (const auto* real = std::get_if<double>(&value)) return *real;
  if (const auto* flag = std::get_if<bool>(&value)) return *flag;
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  return nullptr;
}

Result<std::vector<features::EntityKeyColumn>> EntityKeys(const nlohmann::json& body) {
  auto entities = body.find("entities");
  if (entities == body.end() || !entities->is_object() || entities->empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'entities' must map each join key to a list of values");
  }
  std::vector<features::EntityKeyColumn> columns;
  for (const auto& [name, values] : entities->items()) {
    if (!values.is_array() || values.size() > kMaxEntities) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "entity key '{}' must be a list of at most {} values", name, kMaxEntities);
    }
    features::EntityKeyColumn column{name, {}};
    column.values.reserve(values.size());
    for (const auto& value : values) {
      if (value.is_number_integer()) {
        column.values.emplace_back(value.get<int64_t>());
      } else if (value.is_string()) {
        column.values.emplace_back(value.get<std::string>());
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         "entity key '{}' values must be integers or strings", name);
      }
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

Result<HttpResponse> ReadOnline(features::OnlineFeatures& online, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"feature_service", "features", "entities", "full_feature_names"}));
  features::OnlineRequest read;
  read.project = request.PathParam("project");
  FALAJ_ASSIGN_OR_RETURN(auto service, json::OptionalString(body, "feature_service"));
  read.feature_service = service.value_or("");
  FALAJ_ASSIGN_OR_RETURN(read.features, References(body));
  FALAJ_ASSIGN_OR_RETURN(auto full_names, json::OptionalBool(body, "full_feature_names"));
  read.full_feature_names = full_names.value_or(false);
  FALAJ_ASSIGN_OR_RETURN(read.entities, EntityKeys(body));
  std::vector<features::OnlineFeatureColumn> columns;
  FALAJ_RETURN_IF_ERROR(online.Get(read, columns));
  nlohmann::json names = nlohmann::json::array();
  nlohmann::json results = nlohmann::json::array();
  const std::string epoch = data::FormatIsoTimestamp(0, 1);
  for (const auto& key : read.entities) {
    names.push_back(key.name);
    nlohmann::json values = nlohmann::json::array();
    for (const auto& value : key.values)
      values.push_back(ValueJson(value, data::ColumnType::kString));
    results.push_back({{"values", values},
                       {"statuses", std::vector<std::string>(key.values.size(), "PRESENT")},
                       {"event_timestamps", std::vector<std::string>(key.values.size(), epoch)}});
  }
  for (const auto& column : columns) {
    names.push_back(column.name);
    nlohmann::json values = nlohmann::json::array(), statuses = nlohmann::json::array(),
                   times = nlohmann::json::array();
    for (size_t i = 0; i < column.values.size(); ++i) {
      values.push_back(ValueJson(column.values[i], column.type));
      statuses.push_back(features::FeatureStatusName(column.statuses[i]));
      times.push_back(data::FormatIsoTimestamp(column.event_micros[i], 1000000));
    }
    results.push_back({{"values", values}, {"statuses", statuses}, {"event_timestamps", times}});
  }
  return HttpResponse::Json(200, {{"metadata", {{"feature_names", names}}}, {"results", results}});
}

// {version} query parameter: absent means the latest.
Result<int64_t> VersionQuery(const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto text, request.QueryParam("version"));
  if (!text) return 0;
  int64_t version = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), version);
  if (error != std::errc() || end != text->data() + text->size() || version < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "version must be a positive number");
  }
  return version;
}

}  // namespace

Status AddFeatureRoutes(Router& router, const FeatureRouteServices& services) {
  auto& registry = services.registry;
  std::vector<Route> routes;
  routes.push_back(WorkerRoute("GET", kDefinitions, "features.read",
                               [&registry](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(
                                     auto listed, registry.List(request.PathParam("project")));
                                 nlohmann::json items = nlohmann::json::array();
                                 for (const auto& item : listed)
                                   items.push_back(DefinitionJson(item));
                                 return HttpResponse::Json(200, {{"definitions", items}});
                               }));
  routes.push_back(
      WorkerRoute("POST", kDefinitions, "features.write",
                  [&registry](HttpRequest& request) { return Apply(registry, request); }));
  routes.push_back(WorkerRoute("GET", kDefinitions + "/{kind}/{name}", "features.read",
                               [&registry](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(int64_t version, VersionQuery(request));
                                 FALAJ_ASSIGN_OR_RETURN(
                                     auto found, registry.Get(request.PathParam("project"),
                                                              request.PathParam("kind"),
                                                              request.PathParam("name"), version));
                                 return HttpResponse::Json(200, DefinitionJson(found));
                               }));
  routes.push_back(WorkerRoute("GET", kDefinitions + "/{kind}/{name}/versions", "features.read",
                               [&registry](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(
                                     auto versions, registry.Versions(request.PathParam("project"),
                                                                      request.PathParam("kind"),
                                                                      request.PathParam("name")));
                                 nlohmann::json items = nlohmann::json::array();
                                 for (const auto& item : versions)
                                   items.push_back(DefinitionJson(item));
                                 return HttpResponse::Json(200, {{"versions", items}});
                               }));
  auto& builder = services.training_sets;
  routes.push_back(
      WorkerRoute("POST", kProject + "/training-sets", "features.write",
                  [&builder](HttpRequest& request) { return BuildTrainingSet(builder, request); }));
  auto& materializer = services.materializer;
  routes.push_back(WorkerRoute(
      "POST", kProject + "/features/materialize", "features.write",
      [&materializer](HttpRequest& request) { return Materialize(materializer, request); }));
  auto& online = services.online;
  // A read sent as POST (the entity keys are the body): not a state change, so not audited
  // request by request, like predictions.
  Route online_read =
      WorkerRoute("POST", kProject + "/features/online", "features.read",
                  [&online](HttpRequest& request) { return ReadOnline(online, request); });
  online_read.audit_exempt = true;
  routes.push_back(std::move(online_read));
  for (auto& route : routes) FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  return Ok();
}

}  // namespace falaj::api
