// Parsing one text value into a column type, as CSV cells and JSON string fields arrive:
// integers, floating point (including nan/inf), booleans (true/false/1/0, any case) and
// timestamps (ISO 8601: a date, or a date and time with optional fraction and a Z or ±hh:mm
// offset; no offset means UTC). Each parser rejects trailing garbage and out-of-range values
// rather than guessing. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace falaj::data {

std::optional<int64_t> ParseInt64(std::string_view text);
std::optional<double> ParseFloat64(std::string_view text);
std::optional<bool> ParseBool(std::string_view text);
// Microseconds since the Unix epoch (UTC).
std::optional<int64_t> ParseTimestampMicros(std::string_view text);

}  // namespace falaj::data
