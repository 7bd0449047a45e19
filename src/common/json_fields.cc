#include "common/json_fields.h"

namespace falaj::json {
namespace {

std::string_view TypeName(const nlohmann::json& value) { return value.type_name(); }

}  // namespace

Result<nlohmann::json> ParseObject(std::string_view body) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& error) {
    return MakeError(ErrorCode::kInvalidArgument, "request body is not valid JSON (byte {})",
                     error.byte);
  } catch (const nlohmann::json::exception& error) {
    // e.g. a number too large for a double: valid JSON syntax, but not a value we can hold.
    return MakeError(ErrorCode::kInvalidArgument, "request body holds an unusable value: {}",
                     error.what());
  }
  if (!parsed.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "request body must be a JSON object, not {}",
                     TypeName(parsed));
  }
  return parsed;
}

Status RejectUnknownFields(const nlohmann::json& object,
                           std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (auto name : allowed) known = known || key == name;
    if (!known) return MakeError(ErrorCode::kInvalidArgument, "unknown field '{}'", key);
  }
  return Ok();
}

Result<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                  std::string_view field) {
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return std::optional<std::string>();
  if (!found->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be a string, not {}", field,
                     TypeName(*found));
  }
  return std::optional<std::string>(found->get<std::string>());
}

Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& object, std::string_view field) {
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return std::optional<int64_t>();
  if (!found->is_number_integer()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be an integer, not {}", field,
                     TypeName(*found));
  }
  if (found->is_number_unsigned() && found->get<uint64_t>() > uint64_t{INT64_MAX}) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' is out of range", field);
  }
  return std::optional<int64_t>(found->get<int64_t>());
}

Result<std::optional<bool>> OptionalBool(const nlohmann::json& object, std::string_view field) {
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return std::optional<bool>();
  if (!found->is_boolean()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be true or false, not {}", field,
                     TypeName(*found));
  }
  return std::optional<bool>(found->get<bool>());
}

Result<std::string> RequiredString(const nlohmann::json& object, std::string_view field) {
  auto value = OptionalString(object, field);
  if (!value) return std::unexpected(value.error());
  if (!value->has_value()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' is required", field);
  }
  return std::move(**value);
}

Result<std::optional<std::map<std::string, std::string>>> OptionalStringMap(
    const nlohmann::json& object, std::string_view field) {
  using Map = std::map<std::string, std::string>;
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return std::optional<Map>();
  if (!found->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be an object, not {}", field,
                     TypeName(*found));
  }
  Map map;
  for (const auto& [key, value] : found->items()) {
    if (!value.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "field '{}.{}' must be a string, not {}", field,
                       key, TypeName(value));
    }
    map.emplace(key, value.get<std::string>());
  }
  return std::optional<Map>(std::move(map));
}

Result<std::vector<std::string>> StringList(const nlohmann::json& object, std::string_view field) {
  std::vector<std::string> values;
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return values;
  if (!found->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be a list of strings", field);
  }
  for (const auto& item : *found) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be a list of strings", field);
    }
    values.push_back(item.get<std::string>());
  }
  return values;
}

}  // namespace falaj::json
