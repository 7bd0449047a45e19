// Reading a resource spec (a monitor, an alert rule) from a local YAML or JSON file as a JSON
// object, for commands that send it as a request body. Single-threaded like the CLI.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace falaj::cli {

// INVALID_ARGUMENT naming the file when it is unreadable, not YAML/JSON, or not a mapping.
Result<nlohmann::json> ReadSpecFile(const std::string& path, std::string_view what);

}  // namespace falaj::cli
