#include "features/feature_definitions.h"

#include <set>

#include "common/resource_names.h"
#include "data/validation_rules.h"

namespace falaj::features {
namespace {

constexpr size_t kMaxListLength = 1000;

Status RejectUnknown(const nlohmann::json& object, std::string_view what,
                     std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (auto name : allowed) known = known || key == name;
    if (!known) return MakeError(ErrorCode::kInvalidArgument, "{}: unknown field '{}'", what, key);
  }
  return Ok();
}

Result<std::string> Text(const nlohmann::json& object, std::string_view what,
                         std::string_view field, bool required) {
  auto found = object.find(field);
  if (found == object.end()) {
    if (required)
      return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' is required", what, field);
    return std::string();
  }
  if (!found->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' must be a string", what, field);
  }
  return found->get<std::string>();
}

// A non-empty list of distinct valid names.
Result<std::vector<std::string>> Names(const nlohmann::json& object, std::string_view what,
                                       std::string_view field) {
  auto found = object.find(field);
  if (found == object.end() || !found->is_array() || found->empty() ||
      found->size() > kMaxListLength) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' must be a non-empty list of names",
                     what, field);
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& item : *found) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' must list strings", what, field);
    }
    std::string name = item.get<std::string>();
    FALAJ_RETURN_IF_ERROR(ValidateName(std::string(what) + " " + std::string(field), name));
    if (!seen.insert(name).second) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' lists '{}' twice", what, field, name);
    }
    names.push_back(std::move(name));
  }
  return names;
}

Result<nlohmann::json> CanonicalEntity(const nlohmann::json& object, const std::string& what) {
  FALAJ_RETURN_IF_ERROR(RejectUnknown(object, what, {"kind", "name", "join_keys", "description"}));
  FALAJ_ASSIGN_OR_RETURN(auto keys, Names(object, what, "join_keys"));
  FALAJ_ASSIGN_OR_RETURN(auto description, Text(object, what, "description", false));
  return nlohmann::json{{"join_keys", keys}, {"description", description}};
}

Result<nlohmann::json> CanonicalFeatures(const nlohmann::json& object, const std::string& what) {
  auto features = object.find("features");
  if (features == object.end() || !features->is_array() || features->empty() ||
      features->size() > kMaxListLength) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: 'features' must be a non-empty list", what);
  }
  nlohmann::json canonical = nlohmann::json::array();
  std::set<std::string> seen;
  for (const auto& feature : *features) {
    if (!feature.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: each feature is {{name: …, type: …}}",
                       what);
    }
    FALAJ_RETURN_IF_ERROR(RejectUnknown(feature, what + " feature", {"name", "type"}));
    FALAJ_ASSIGN_OR_RETURN(auto name, Text(feature, what + " feature", "name", true));
    FALAJ_RETURN_IF_ERROR(ValidateName(what + " feature", name));
    FALAJ_ASSIGN_OR_RETURN(auto type_name, Text(feature, what + " feature " + name, "type", true));
    auto type = data::ParseColumnType(type_name);
    if (!type) {
      return MakeError(ErrorCode::kInvalidArgument, "{} feature '{}': {}", what, name,
                       type.error().message);
    }
    if (!seen.insert(name).second) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: feature '{}' appears twice", what, name);
    }
    canonical.push_back({{"name", name}, {"type", data::ColumnTypeName(*type)}});
  }
  return canonical;
}

Result<nlohmann::json> CanonicalFeatureView(const nlohmann::json& object, const std::string& what) {
  FALAJ_RETURN_IF_ERROR(
      RejectUnknown(object, what,
                    {"kind", "name", "entities", "source", "timestamp_field",
                     "created_timestamp_field", "ttl", "features", "online", "description"}));
  FALAJ_ASSIGN_OR_RETURN(auto entities, Names(object, what, "entities"));
  FALAJ_ASSIGN_OR_RETURN(auto source, Text(object, what, "source", true));
  FALAJ_RETURN_IF_ERROR(ValidateName(what + " source", source));
  FALAJ_ASSIGN_OR_RETURN(auto timestamp, Text(object, what, "timestamp_field", true));
  FALAJ_ASSIGN_OR_RETURN(auto created, Text(object, what, "created_timestamp_field", false));
  FALAJ_ASSIGN_OR_RETURN(auto ttl_text, Text(object, what, "ttl", false));
  int64_t ttl_seconds = 0;
  if (!ttl_text.empty()) {
    auto ttl = data::ParseDuration(ttl_text);
    if (!ttl)
      return MakeError(ErrorCode::kInvalidArgument, "{}: ttl: {}", what, ttl.error().message);
    ttl_seconds = ttl->count();
  }
  FALAJ_ASSIGN_OR_RETURN(auto features, CanonicalFeatures(object, what));
  bool online = true;
  if (auto found = object.find("online"); found != object.end()) {
    if (!found->is_boolean()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: 'online' must be a boolean", what);
    }
    online = found->get<bool>();
  }
  FALAJ_ASSIGN_OR_RETURN(auto description, Text(object, what, "description", false));
  return nlohmann::json{{"entities", entities},
                        {"source", source},
                        {"timestamp_field", timestamp},
                        {"created_timestamp_field", created},
                        {"ttl_seconds", ttl_seconds},
                        {"features", features},
                        {"online", online},
                        {"description", description}};
}

Result<nlohmann::json> CanonicalFeatureService(const nlohmann::json& object,
                                               const std::string& what) {
  FALAJ_RETURN_IF_ERROR(RejectUnknown(object, what, {"kind", "name", "features", "description"}));
  auto features = object.find("features");
  if (features == object.end() || !features->is_array() || features->empty() ||
      features->size() > kMaxListLength) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{}: 'features' must be a non-empty list of \"view:feature\"", what);
  }
  std::vector<std::string> references;
  std::set<std::string> seen;
  for (const auto& item : *features) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: features are \"view:feature\" strings",
                       what);
    }
    auto reference = ParseFeatureReference(item.get<std::string>());
    if (!reference) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: {}", what, reference.error().message);
    }
    if (!seen.insert(item.get<std::string>()).second) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' is listed twice", what,
                       item.get<std::string>());
    }
    references.push_back(item.get<std::string>());
  }
  FALAJ_ASSIGN_OR_RETURN(auto description, Text(object, what, "description", false));
  return nlohmann::json{{"features", references}, {"description", description}};
}

}  // namespace

Result<FeatureReference> ParseFeatureReference(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "feature '{}' must be written \"view:feature\"",
                     text.substr(0, 80));
  }
  FeatureReference reference{std::string(text.substr(0, colon)),
                             std::string(text.substr(colon + 1))};
  FALAJ_RETURN_IF_ERROR(ValidateName("feature view", reference.view));
  if (reference.feature != "*") FALAJ_RETURN_IF_ERROR(ValidateName("feature", reference.feature));
  return reference;
}

Result<Definition> ParseDefinition(const nlohmann::json& object) {
  if (!object.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "a definition must be an object");
  }
  FALAJ_ASSIGN_OR_RETURN(auto kind, Text(object, "definition", "kind", true));
  FALAJ_ASSIGN_OR_RETURN(auto name, Text(object, kind, "name", true));
  FALAJ_RETURN_IF_ERROR(ValidateName(kind + " name", name));
  const std::string what = kind + " '" + name + "'";
  Definition definition{kind, name, {}};
  if (kind == "entity") {
    FALAJ_ASSIGN_OR_RETURN(definition.spec, CanonicalEntity(object, what));
  } else if (kind == "feature_view") {
    FALAJ_ASSIGN_OR_RETURN(definition.spec, CanonicalFeatureView(object, what));
  } else if (kind == "feature_service") {
    FALAJ_ASSIGN_OR_RETURN(definition.spec, CanonicalFeatureService(object, what));
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "kind '{}' is not one of entity, feature_view, feature_service",
                     kind.substr(0, 40));
  }
  return definition;
}

Result<Entity> EntityFromSpec(const nlohmann::json& spec) {
  try {
    return Entity{"", spec.at("join_keys").get<std::vector<std::string>>(),
                  spec.at("description").get<std::string>()};
  } catch (const nlohmann::json::exception& error) {
    return MakeError(ErrorCode::kDataLoss, "stored entity is malformed: {}", error.what());
  }
}

Result<FeatureView> FeatureViewFromSpec(const nlohmann::json& spec) {
  try {
    FeatureView view;
    view.entities = spec.at("entities").get<std::vector<std::string>>();
    view.source = spec.at("source").get<std::string>();
    view.timestamp_field = spec.at("timestamp_field").get<std::string>();
    view.created_timestamp_field = spec.at("created_timestamp_field").get<std::string>();
    view.ttl = std::chrono::seconds(spec.at("ttl_seconds").get<int64_t>());
    for (const auto& feature : spec.at("features")) {
      FALAJ_ASSIGN_OR_RETURN(auto type,
                             data::ParseColumnType(feature.at("type").get<std::string>()));
      view.features.push_back({feature.at("name").get<std::string>(), type});
    }
    view.online = spec.at("online").get<bool>();
    view.description = spec.at("description").get<std::string>();
    return view;
  } catch (const nlohmann::json::exception& error) {
    return MakeError(ErrorCode::kDataLoss, "stored feature view is malformed: {}", error.what());
  }
}

Result<FeatureService> FeatureServiceFromSpec(const nlohmann::json& spec) {
  try {
    FeatureService service;
    for (const auto& text : spec.at("features")) {
      FALAJ_ASSIGN_OR_RETURN(auto reference, ParseFeatureReference(text.get<std::string>()));
      service.features.push_back(std::move(reference));
    }
    service.description = spec.at("description").get<std::string>();
    return service;
  } catch (const nlohmann::json::exception& error) {
    return MakeError(ErrorCode::kDataLoss, "stored feature service is malformed: {}", error.what());
  }
}

}  // namespace falaj::features
