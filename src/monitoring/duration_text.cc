#include "monitoring/duration_text.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <utility>

namespace falaj::monitoring {

Result<int64_t> ParseDurationMs(const nlohmann::json& value, std::string_view field, int64_t min_ms,
                                int64_t max_ms) {
  double seconds = 0;
  if (value.is_number()) {
    seconds = value.get<double>();
  } else if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    double unit = 1;
    std::string_view digits = text;
    constexpr std::pair<char, double> kUnits[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    for (const auto& [suffix, seconds_per_unit] : kUnits) {
      if (digits.ends_with(suffix)) {
        unit = seconds_per_unit;
        digits.remove_suffix(1);
        break;
      }
    }
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{} must be a duration such as \"30s\", \"5m\" or \"1h\", got \"{}\"", field,
                       text.substr(0, 32));
    }
    seconds *= unit;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{} must be a duration string (\"5m\") or a number of seconds", field);
  }
  if (!std::isfinite(seconds) || seconds * 1000 < static_cast<double>(min_ms) ||
      seconds * 1000 > static_cast<double>(max_ms)) {
    return MakeError(ErrorCode::kInvalidArgument, "{} must be between {} and {}", field,
                     FormatDurationMs(min_ms), FormatDurationMs(max_ms));
  }
  return static_cast<int64_t>(std::llround(seconds * 1000));
}

std::string FormatDurationMs(int64_t ms) {
  constexpr std::pair<int64_t, char> kUnits[] = {
      {86'400'000, 'd'}, {3'600'000, 'h'}, {60'000, 'm'}};
  for (const auto& [unit_ms, suffix] : kUnits) {
    if (ms > 0 && ms % unit_ms == 0) return fmt::format("{}{}", ms / unit_ms, suffix);
  }
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}s", static_cast<double>(ms) / 1000.0);
}

}  // namespace falaj::monitoring
