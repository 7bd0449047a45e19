#include "monitoring/duration_text.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

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
    if (!digits.empty()) {
      switch (digits.back()) {
        case 's':
          unit = 1;
          digits.remove_suffix(1);
          break;
        case 'm':
          unit = 60;
          digits.remove_suffix(1);
          break;
        case 'h':
          unit = 3600;
          digits.remove_suffix(1);
          break;
        case 'd':
          unit = 86400;
          digits.remove_suffix(1);
          break;
        default:
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
  if (ms % 86'400'000 == 0 && ms > 0) return fmt::format("{}d", ms / 86'400'000);
  if (ms % 3'600'000 == 0 && ms > 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0 && ms > 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}s", static_cast<double>(ms) / 1000.0);
}

}  // namespace falaj::monitoring
