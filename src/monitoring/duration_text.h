// Durations as users write them in monitor windows and alert rules: "90s", "5m", "1h", "2d",
// fractions allowed ("0.5s"), or a plain number of seconds. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::monitoring {

// Milliseconds of `value` (a string as above or a JSON number of seconds), which must lie in
// [min_ms, max_ms]. INVALID_ARGUMENT naming `field` otherwise.
Result<int64_t> ParseDurationMs(const nlohmann::json& value, std::string_view field, int64_t min_ms,
                                int64_t max_ms);

// "1h", "90s", "1.5s": the shortest exact form of a duration, for answers.
std::string FormatDurationMs(int64_t ms);

}  // namespace falaj::monitoring
