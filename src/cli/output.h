// Rendering of API answers for people (aligned tables) and for programs (JSON or YAML).
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace falaj::cli {

enum class OutputFormat { kTable, kJson, kYaml };

// Columns padded to their widest cell, with a header row in capitals.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

std::string RenderYaml(const nlohmann::json& value);

// `items` rendered in `format`; tables show `columns` (JSON member names) of each item.
std::string RenderItems(const nlohmann::json& items, const std::vector<std::string>& columns,
                        OutputFormat format);

// One object: aligned "name  value" lines for `fields` in order (table), or the whole object
// (JSON or YAML).
std::string RenderObject(const nlohmann::json& object, const std::vector<std::string>& fields,
                         OutputFormat format);

}  // namespace falaj::cli
