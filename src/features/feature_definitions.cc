#include "features/feature_definitions.h"

#include <set>

#include "common/resource_names.h"
#include "data/validation_rules.h"
#include "features/row_expression.h"

namespace falaj::features {
namespace {

constexpr size_t kMaxListLength = 1000;
constexpr size_t kMaxWindows = 20;
constexpr int64_t kDefaultIntervalSeconds = 60;

constexpr std::pair<AggregateFunction, std::string_view> kFunctions[] = {
    {AggregateFunction::kCount, "count"},
    {AggregateFunction::kSum, "sum"},
    {AggregateFunction::kMean, "mean"},
    {AggregateFunction::kMin, "min"},
    {AggregateFunction::kMax, "max"}};

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

// A list field's items, each an object; an absent field is an empty list.
Result<std::vector<nlohmann::json>> Objects(const nlohmann::json& object, std::string_view what,
                                            std::string_view field, std::string_view shape) {
  auto found = object.find(field);
  if (found == object.end()) return std::vector<nlohmann::json>{};
  if (!found->is_array() || found->empty() || found->size() > kMaxListLength) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' must be a non-empty list", what, field);
  }
  for (const auto& item : *found) {
    if (!item.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: each of '{}' is {}", what, field, shape);
    }
  }
  return found->get<std::vector<nlohmann::json>>();
}

// [{name, type, expr}]; the expression's syntax is checked here, its types against the source
// when the view is applied.
Result<nlohmann::json> CanonicalTransformations(const nlohmann::json& object,
                                                const std::string& what) {
  FALAJ_ASSIGN_OR_RETURN(auto items,
                         Objects(object, what, "transformations", "{name: …, type: …, expr: …}"));
  nlohmann::json canonical = nlohmann::json::array();
  std::set<std::string> seen;
  for (const auto& item : items) {
    const std::string where = what + " transformation";
    FALAJ_RETURN_IF_ERROR(RejectUnknown(item, where, {"name", "type", "expr"}));
    FALAJ_ASSIGN_OR_RETURN(auto name, Text(item, where, "name", true));
    FALAJ_RETURN_IF_ERROR(ValidateName(where, name));
    FALAJ_ASSIGN_OR_RETURN(auto type_name, Text(item, where + " " + name, "type", true));
    auto type = data::ParseColumnType(type_name);
    if (!type) {
      return MakeError(ErrorCode::kInvalidArgument, "{} '{}': {}", where, name,
                       type.error().message);
    }
    FALAJ_ASSIGN_OR_RETURN(auto expr, Text(item, where + " " + name, "expr", true));
    if (auto parsed = RowExpression::Parse(expr); !parsed) {
      return MakeError(ErrorCode::kInvalidArgument, "{} '{}': {}", where, name,
                       parsed.error().message);
    }
    if (!seen.insert(name).second) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: transformation '{}' appears twice", what,
                       name);
    }
    canonical.push_back({{"name", name}, {"type", data::ColumnTypeName(*type)}, {"expr", expr}});
  }
  return canonical;
}

Result<AggregateFunction> ParseFunction(std::string_view where, std::string_view name) {
  for (auto [function, text] : kFunctions) {
    if (text == name) return function;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "{}: function '{}' is not one of count, sum, mean, min, max", where,
                   name.substr(0, 40));
}

// [{column, function, windows, name}]: windows are durations, each a multiple of the interval.
Result<nlohmann::json> CanonicalAggregations(const nlohmann::json& object, const std::string& what,
                                             int64_t interval_seconds) {
  FALAJ_ASSIGN_OR_RETURN(
      auto items, Objects(object, what, "aggregations", "{column: …, function: …, windows: […]}"));
  nlohmann::json canonical = nlohmann::json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    const std::string where = fmt::format("{} aggregations[{}]", what, i);
    FALAJ_RETURN_IF_ERROR(RejectUnknown(item, where, {"column", "function", "windows", "name"}));
    FALAJ_ASSIGN_OR_RETURN(auto function_name, Text(item, where, "function", true));
    FALAJ_ASSIGN_OR_RETURN(auto function, ParseFunction(where, function_name));
    FALAJ_ASSIGN_OR_RETURN(auto column, Text(item, where, "column", false));
    if (column.empty() && function != AggregateFunction::kCount) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: {} needs a 'column'", where,
                       function_name);
    }
    if (!column.empty()) FALAJ_RETURN_IF_ERROR(ValidateName(where + " column", column));
    FALAJ_ASSIGN_OR_RETURN(auto name, Text(item, where, "name", false));
    if (!name.empty()) FALAJ_RETURN_IF_ERROR(ValidateName(where + " name", name));
    auto windows = item.find("windows");
    if (windows == item.end() || !windows->is_array() || windows->empty() ||
        windows->size() > kMaxWindows) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{}: 'windows' must be a list of 1 to {} durations, as [1h, 24h, 7d]", where,
                       kMaxWindows);
    }
    std::set<int64_t> seen;
    for (const auto& window : *windows) {
      if (!window.is_string()) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: windows are durations such as \"1h\"",
                         where);
      }
      auto seconds = data::ParseDuration(window.get<std::string>());
      if (!seconds) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: window {}", where,
                         seconds.error().message);
      }
      if (seconds->count() % interval_seconds != 0) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "{}: window '{}' is not a multiple of the aggregation_interval ({})",
                         where, window.get<std::string>(),
                         data::FormatDuration(std::chrono::seconds(interval_seconds)));
      }
      if (!seen.insert(seconds->count()).second) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: window '{}' appears twice", where,
                         window.get<std::string>());
      }
    }
    if (!name.empty() && windows->size() != 1) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{}: 'name' is only allowed with a single window", where);
    }
    canonical.push_back(
        {{"column", column}, {"function", function_name}, {"windows", *windows}, {"name", name}});
  }
  return canonical;
}

// Aggregation views derive their features; the rest of the view must not contradict that.
Status CheckAggregationView(const nlohmann::json& object, const std::string& what,
                            nlohmann::json& spec) {
  for (std::string_view field : {"features", "ttl", "created_timestamp_field"}) {
    if (object.contains(field)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{}: a view with aggregations takes no '{}' (its features are derived from "
                       "the aggregations and their windows bound how far back they look)",
                       what, field);
    }
  }
  FALAJ_ASSIGN_OR_RETURN(auto view, FeatureViewFromSpec(spec));
  std::set<std::string> names;
  for (const auto& feature : AggregateFeatures(view)) {
    if (!names.insert(feature.name).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{}: two aggregations are both named '{}'; give one a 'name'", what,
                       feature.name);
    }
    FALAJ_RETURN_IF_ERROR(ValidateName(what + " feature", feature.name));
  }
  // Typed by the registry, which knows the source's column types.
  spec["features"] = nlohmann::json::array();
  return Ok();
}

Result<nlohmann::json> CanonicalFeatureView(const nlohmann::json& object, const std::string& what) {
  FALAJ_RETURN_IF_ERROR(
      RejectUnknown(object, what,
                    {"kind", "name", "entities", "source", "timestamp_field",
                     "created_timestamp_field", "ttl", "features", "online", "description",
                     "transformations", "aggregation_interval", "aggregations"}));
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
  const bool aggregated = object.contains("aggregations");
  nlohmann::json features = nlohmann::json::array();
  if (!aggregated) {
    FALAJ_ASSIGN_OR_RETURN(features, CanonicalFeatures(object, what));
  }
  bool online = true;
  if (auto found = object.find("online"); found != object.end()) {
    if (!found->is_boolean()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: 'online' must be a boolean", what);
    }
    online = found->get<bool>();
  }
  FALAJ_ASSIGN_OR_RETURN(auto description, Text(object, what, "description", false));
  nlohmann::json spec{{"entities", entities},
                      {"source", source},
                      {"timestamp_field", timestamp},
                      {"created_timestamp_field", created},
                      {"ttl_seconds", ttl_seconds},
                      {"features", features},
                      {"online", online},
                      {"description", description}};
  // Only present when used, so views defined before these existed keep their canonical form.
  FALAJ_ASSIGN_OR_RETURN(auto transformations, CanonicalTransformations(object, what));
  if (!transformations.empty()) spec["transformations"] = transformations;
  FALAJ_ASSIGN_OR_RETURN(auto interval_text, Text(object, what, "aggregation_interval", false));
  if (!interval_text.empty() && !aggregated) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{}: 'aggregation_interval' is only meaningful with 'aggregations'", what);
  }
  if (aggregated) {
    int64_t interval = kDefaultIntervalSeconds;
    if (!interval_text.empty()) {
      auto parsed = data::ParseDuration(interval_text);
      if (!parsed) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: aggregation_interval: {}", what,
                         parsed.error().message);
      }
      interval = parsed->count();
    }
    spec["aggregation_interval_seconds"] = interval;
    FALAJ_ASSIGN_OR_RETURN(spec["aggregations"], CanonicalAggregations(object, what, interval));
    FALAJ_RETURN_IF_ERROR(CheckAggregationView(object, what, spec));
  }
  return spec;
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
    for (const auto& item : spec.value("transformations", nlohmann::json::array())) {
      FALAJ_ASSIGN_OR_RETURN(auto type, data::ParseColumnType(item.at("type").get<std::string>()));
      view.transformations.push_back(
          {item.at("name").get<std::string>(), type, item.at("expr").get<std::string>()});
    }
    view.aggregation_interval =
        std::chrono::seconds(spec.value("aggregation_interval_seconds", int64_t{0}));
    for (const auto& item : spec.value("aggregations", nlohmann::json::array())) {
      FALAJ_ASSIGN_OR_RETURN(auto function,
                             ParseFunction("aggregation", item.at("function").get<std::string>()));
      view.aggregations.push_back({item.at("column").get<std::string>(), function,
                                   item.at("windows").get<std::vector<std::string>>(),
                                   item.at("name").get<std::string>()});
    }
    return view;
  } catch (const nlohmann::json::exception& error) {
    return MakeError(ErrorCode::kDataLoss, "stored feature view is malformed: {}", error.what());
  }
}

std::string_view AggregateFunctionName(AggregateFunction function) {
  for (auto [known, text] : kFunctions) {
    if (known == function) return text;
  }
  return "count";
}

std::vector<AggregateFeature> AggregateFeatures(const FeatureView& view) {
  std::vector<AggregateFeature> features;
  for (size_t a = 0; a < view.aggregations.size(); ++a) {
    const Aggregation& aggregation = view.aggregations[a];
    for (const auto& window : aggregation.windows) {
      std::string name = aggregation.name;
      if (name.empty()) {
        name = aggregation.column.empty()
                   ? fmt::format("count_{}", window)
                   : fmt::format("{}_{}_{}", aggregation.column,
                                 AggregateFunctionName(aggregation.function), window);
      }
      auto seconds = data::ParseDuration(window);
      features.push_back({std::move(name), a, seconds ? *seconds : std::chrono::seconds(0)});
    }
  }
  return features;
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
