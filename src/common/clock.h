// Time for the whole program: an injectable Clock (so tests can fix time) and RFC 3339 formatting.
// SystemClock is stateless and thread-safe; a test clock must document its own thread-safety.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace falaj {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps that users see and that are stored.
  virtual std::chrono::system_clock::time_point Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  // A process-wide instance; it holds no state.
  static const SystemClock& Instance();
};

// "2026-11-24T01:22:11.123Z" (UTC, milliseconds).
std::string FormatRfc3339(std::chrono::system_clock::time_point time);

// Milliseconds since the Unix epoch.
int64_t ToUnixMillis(std::chrono::system_clock::time_point time);
std::chrono::system_clock::time_point FromUnixMillis(int64_t millis);

}  // namespace falaj
