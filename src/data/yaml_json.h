// Converts a YAML document to the equivalent nlohmann::json value, so that configuration written
// as YAML (a source's rules file) and the same structure arriving as JSON go through one strict
// parser. Plain scalars are typed by the YAML 1.2 core schema (null, true/false, integers in
// decimal, 0x or 0o, floats including .inf and .nan); quoted scalars and !!str stay strings.
// Text that is not valid UTF-8, duplicate mapping keys and other tags are rejected, and so are
// documents nested deeper than 64 levels or (through aliases) expanding to more than 100000 nodes.
// Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"

namespace falaj::data {

// The JSON value of the YAML document `text`; INVALID_ARGUMENT naming the line and column of a
// syntax error or of the node that cannot be converted. An empty document is JSON null.
Result<nlohmann::json> YamlToJson(std::string_view text);

}  // namespace falaj::data
