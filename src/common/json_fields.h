// Reading typed fields from JSON request bodies, with errors that name the offending field. Used
// by every control-plane handler so that bad input is reported the same way everywhere.
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::json {

// Parses `body` as a JSON object; INVALID_ARGUMENT naming the byte offset if it is not one.
Result<nlohmann::json> ParseObject(std::string_view body);

// INVALID_ARGUMENT naming the first member of `object` that is not in `allowed`.
Status RejectUnknownFields(const nlohmann::json& object,
                           std::initializer_list<std::string_view> allowed);

Result<std::string> RequiredString(const nlohmann::json& object, std::string_view field);
Result<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                  std::string_view field);
Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& object, std::string_view field);
Result<std::optional<bool>> OptionalBool(const nlohmann::json& object, std::string_view field);
// A JSON object whose values are all strings, such as labels.
Result<std::optional<std::map<std::string, std::string>>> OptionalStringMap(
    const nlohmann::json& object, std::string_view field);
// A JSON array of strings; empty when the field is absent or null.
Result<std::vector<std::string>> StringList(const nlohmann::json& object, std::string_view field);

}  // namespace falaj::json
