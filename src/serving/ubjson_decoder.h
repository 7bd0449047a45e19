// Universal Binary JSON as XGBoost writes its .ubj models (big-endian numbers, optimised
// containers with `$type#count` or `#count`), decoded into nlohmann::json so JSON and UBJ models
// share one reader. Hardened for hostile input: every count is checked against the bytes left,
// nesting is bounded, and typed containers are accepted for numeric types only.
// Stateless; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"

namespace falaj::serving {

// The document, or INVALID_ARGUMENT saying what is wrong (truncation, an unknown marker,
// nesting deeper than `max_depth`, trailing bytes).
Result<nlohmann::json> DecodeUbjson(std::string_view bytes, int max_depth);

}  // namespace falaj::serving
