// Writing cell values as text for validation reports and column profiles: strings come out as
// valid UTF-8 (data read as utf8 is not always valid, and JSON output must be), optionally
// shortened; timestamps come out as ISO-8601 UTC. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace falaj::data {

// True if `text` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points
// above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD. Longer than `max_bytes`, it is cut
// at a character boundary at or below `max_bytes` and "..." is appended.
std::string SanitizeUtf8(std::string_view text, size_t max_bytes = SIZE_MAX);

// "2026-11-24T01:22:11.123Z": `value` counts units of 1/`units_per_second` s since the Unix epoch
// (1, 1000, 1000000 or 1000000000); the fraction has 0, 3, 6 or 9 digits to match the unit.
// Every int64 value has a text: years outside 0000-9999 take ISO 8601's expanded form ("+12345").
std::string FormatIsoTimestamp(int64_t value, int64_t units_per_second);

}  // namespace falaj::data
