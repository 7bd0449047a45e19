// The latest value of everything monitored — drift scores, data-quality rates, label metrics,
// serving error rates and latencies per arm — by project and name (dotted, e.g.
// "monitor.credit.drift.age.score"). Producers set values; alert rules and canary guardrails
// read them. In memory: producers set them again after a restart as their windows close.
//
// Thread-safe: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace falaj::monitoring {

struct MonitoredValue {
  double value = 0;
  int64_t at_ms = 0;  // when it was measured (the end of its window)
};

class MonitoredValues {
 public:
  void Set(std::string_view project, std::string_view name, MonitoredValue value);
  std::optional<MonitoredValue> Get(std::string_view project, std::string_view name) const;
  // Every value of the project whose name starts with `prefix`, by name.
  std::vector<std::pair<std::string, MonitoredValue>> List(std::string_view project,
                                                           std::string_view prefix = "") const;
  // Forgets the project's values whose name starts with `prefix` (a deleted monitor or endpoint).
  void Erase(std::string_view project, std::string_view prefix);

 private:
  static std::string Key(std::string_view project, std::string_view name);

  mutable std::mutex mutex_;
  std::map<std::string, MonitoredValue, std::less<>> values_;  // "<project>\n<name>"
};

}  // namespace falaj::monitoring
