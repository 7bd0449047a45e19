// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-24T01:22:11.123Z","level":"info","msg":"request","request_id":"…",…}
// Request-scoped lines carry "request_id" in their fields. All functions are thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace falaj::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Parses "debug", "info", "warn" or "error"; false for anything else.
bool ParseLevel(std::string_view text, Level* level);
void SetLevel(Level level);
bool Enabled(Level level);

// `fields` must be a JSON object (or null); its members are merged into the line.
void Write(Level level, std::string_view message, const nlohmann::json& fields);
void Write(Level level, std::string_view message);

inline void Debug(std::string_view message) { Write(Level::kDebug, message); }
inline void Info(std::string_view message) { Write(Level::kInfo, message); }
inline void Warn(std::string_view message) { Write(Level::kWarn, message); }
inline void Error(std::string_view message) { Write(Level::kError, message); }
inline void Debug(std::string_view message, const nlohmann::json& fields) {
  Write(Level::kDebug, message, fields);
}
inline void Info(std::string_view message, const nlohmann::json& fields) {
  Write(Level::kInfo, message, fields);
}
inline void Warn(std::string_view message, const nlohmann::json& fields) {
  Write(Level::kWarn, message, fields);
}
inline void Error(std::string_view message, const nlohmann::json& fields) {
  Write(Level::kError, message, fields);
}

}  // namespace falaj::log
