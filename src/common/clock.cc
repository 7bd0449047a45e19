#include "common/clock.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace falaj {

const SystemClock& SystemClock::Instance() {
  static const SystemClock instance;
  return instance;
}

std::string FormatRfc3339(std::chrono::system_clock::time_point time) {
  auto millis = std::chrono::time_point_cast<std::chrono::milliseconds>(time);
  auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(millis);
  auto fraction = (millis - seconds).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", seconds, fraction);
}

int64_t ToUnixMillis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::chrono::system_clock::time_point FromUnixMillis(int64_t millis) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(millis));
}

}  // namespace falaj
