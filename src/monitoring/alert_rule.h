// An alert rule: a condition on monitored values (monitored_values.h) — one name, or every name
// under a prefix written "prefix*" (each matching value is its own alert, as a PromQL vector) —
// compared with a threshold, how long it must hold before firing ("for"), how old a value may be
// and still count ("window"), labels and annotations, where to notify (a JSON webhook, an
// Alertmanager), and an optional trigger (a durable job submitted when the alert fires).
// Parsing is strict; pure values; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"

namespace falaj::monitoring {

enum class Comparison { kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual };

struct AlertTrigger {
  std::string kind;  // a job kind; "train" (a training spec) is the one documented
  nlohmann::json spec;
};

struct AlertRule {
  std::string name;
  std::string description;
  std::string value;  // "monitor.credit.drift_share" or "monitor.credit.drift.*"
  Comparison op = Comparison::kGreater;
  double threshold = 0;
  int64_t for_ms = 0;
  int64_t window_ms = 3'600'000;
  std::string severity = "warning";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string webhook_url;
  std::string alertmanager_url;  // base URL; alerts go to <url>/api/v2/alerts
  std::optional<AlertTrigger> trigger;

  bool is_prefix() const { return value.ends_with('*'); }
  std::string_view prefix() const {
    return std::string_view(value).substr(0, value.size() - (is_prefix() ? 1 : 0));
  }
};

// INVALID_ARGUMENT naming the field. URLs must be http:// to a loopback host (docs/alerts.md).
Result<AlertRule> ParseAlertRule(const nlohmann::json& body);
nlohmann::json AlertRuleToJson(const AlertRule& rule);

bool Compare(Comparison op, double value, double threshold);
std::string_view ComparisonText(Comparison op);

}  // namespace falaj::monitoring
