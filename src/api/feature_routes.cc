#include "api/feature_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/online_read_codec.h"
#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

const std::string kProject = "/api/v1/projects/{project}";
const std::string kDefinitions = kProject + "/feature-definitions";
constexpr size_t kMaxDefinitions = 1000;

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

// Reads on the I/O thread stay small: a bigger batch is left to the worker pool, where its
// decoding and rendering do not hold up the other connections of the thread.
constexpr size_t kMaxInlineEntities = 256;

// The online read. `without_blocking`: answers only from memory (a cached plan, a store that
// answers from its caches), and nullopt when the request needs the worker pool — including every
// refusal, so that the blocking path words and counts them exactly as before.
Result<std::optional<HttpResponse>> ReadOnline(features::OnlineFeatures& online,
                                               const HttpRequest& request, bool without_blocking) {
  thread_local features::OnlineReadResult found;
  FALAJ_ASSIGN_OR_RETURN(OnlineReadRequest read,
                         ParseOnlineRead(request.body, request.PathParam("project")));
  std::shared_ptr<const features::PreparedRead> plan;
  if (without_blocking) {
    plan = online.PreparedFromMemory(read.query);
    if (!plan || read.key_values.front().size() > kMaxInlineEntities) return std::nullopt;
  } else {
    FALAJ_ASSIGN_OR_RETURN(plan, online.Prepare(read.query));
  }
  FALAJ_ASSIGN_OR_RETURN(auto keys, PlanKeys(*plan, read));
  FALAJ_ASSIGN_OR_RETURN(bool answered, online.Read(*plan, keys, read.key_values.front().size(),
                                                    without_blocking, found));
  if (!answered) return std::nullopt;
  return HttpResponse::Text(200, "application/json", RenderOnlineRead(*plan, read, found));
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
                  [&online](HttpRequest& request) -> Result<HttpResponse> {
                    FALAJ_ASSIGN_OR_RETURN(auto answer, ReadOnline(online, request, false));
                    if (!answer)
                      return MakeError(ErrorCode::kInternal, "online read was not answered");
                    return std::move(*answer);
                  });
  online_read.audit_exempt = true;
  // Tried on the I/O thread first (decision 0004): a small read of cached views from a store
  // that answers from memory (RocksDB's memtables and caches) never blocks; anything else, a
  // refusal included, and every read of a remote (Redis) store, takes the worker pool.
  online_read.fast_handler = [&online](HttpRequest& request) -> std::optional<HttpResponse> {
    auto answer = ReadOnline(online, request, true);
    if (!answer) return std::nullopt;
    return std::move(*answer);
  };
  routes.push_back(std::move(online_read));
  for (auto& route : routes) FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  return Ok();
}

}  // namespace falaj::api
