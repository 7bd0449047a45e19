#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace falaj::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

spdlog::logger& Sink() {
  // spdlog serialises writes from many threads; the line is already fully formatted.
  static auto logger = [] {
    auto created = spdlog::stderr_logger_mt("falaj");
    created->set_pattern("%v");
    created->set_level(spdlog::level::trace);
    created->flush_on(spdlog::level::trace);
    return created;
  }();
  return *logger;
}

}  // namespace

bool ParseLevel(std::string_view text, Level* level) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (text == kLevelNames[i]) {
      *level = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void SetLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }

bool Enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void Write(Level level, std::string_view message, const nlohmann::json& fields) {
  if (!Enabled(level)) return;
  nlohmann::ordered_json line;
  line["ts"] = FormatRfc3339(SystemClock::Instance().Now());
  line["level"] = kLevelNames[static_cast<int>(level)];
  line["msg"] = message;
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) line[key] = value;
  }
  // Replace invalid UTF-8 rather than throw: a log line must never take the server down.
  Sink().info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Write(Level level, std::string_view message) { Write(level, message, nlohmann::json()); }

}  // namespace falaj::log
