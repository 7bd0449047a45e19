#include "monitoring/alert_rule.h"

#include <array>
#include <cmath>
#include <utility>

#include "common/json_fields.h"
#include "common/resource_names.h"
#include "monitoring/alert_http.h"
#include "monitoring/duration_text.h"

namespace falaj::monitoring {
namespace {

constexpr std::array<std::pair<std::string_view, Comparison>, 6> kComparisons = {{
    {">", Comparison::kGreater},
    {">=", Comparison::kGreaterEqual},
    {"<", Comparison::kLess},
    {"<=", Comparison::kLessEqual},
    {"==", Comparison::kEqual},
    {"!=", Comparison::kNotEqual},
}};
constexpr int64_t kMaxDurationMs = 30LL * 86'400'000;
constexpr size_t kMaxLabels = 32;

Result<std::map<std::string, std::string>> SmallMap(const nlohmann::json& body,
                                                    std::string_view field) {
  FALAJ_ASSIGN_OR_RETURN(auto map, json::OptionalStringMap(body, field));
  if (!map) return std::map<std::string, std::string>{};
  if (map->size() > kMaxLabels) {
    return MakeError(ErrorCode::kInvalidArgument, "{} has more than {} entries", field, kMaxLabels);
  }
  for (const auto& [key, value] : *map) {
    FALAJ_RETURN_IF_ERROR(ValidateName(fmt::format("{} key", field), key));
    if (value.size() > 1024) {
      return MakeError(ErrorCode::kInvalidArgument, "{}.{} is longer than 1024 bytes", field, key);
    }
  }
  return *map;
}

Status ValidateValueSelector(const std::string& value) {
  std::string_view name = value;
  if (name.ends_with('*')) name.remove_suffix(1);
  if (name.empty() || value.size() > 512) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "value must name a monitored value (e.g. monitor.credit.drift_share) or a "
                     "prefix ending in '*', at most 512 characters");
  }
  for (char c : name) {
    if (!IsNameCharacter(c)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "value may contain only A-Z a-z 0-9 . _ - and a final '*'");
    }
  }
  return Ok();
}

}  // namespace

bool Compare(Comparison op, double value, double threshold) {
  switch (op) {
    case Comparison::kGreater:
      return value > threshold;
    case Comparison::kGreaterEqual:
      return value >= threshold;
    case Comparison::kLess:
      return value < threshold;
    case Comparison::kLessEqual:
      return value <= threshold;
    case Comparison::kEqual:
      return value == threshold;
    case Comparison::kNotEqual:
      return value != threshold;
  }
  return false;
}

std::string_view ComparisonText(Comparison op) {
  for (const auto& [text, comparison] : kComparisons) {
    if (comparison == op) return text;
  }
  return "?";
}

Result<AlertRule> ParseAlertRule(const nlohmann::json& body) {
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"name", "description", "value", "op", "threshold", "for", "window", "severity",
             "labels", "annotations", "webhook_url", "alertmanager_url", "trigger", "revision"}));
  AlertRule rule;
  FALAJ_ASSIGN_OR_RETURN(rule.name, json::RequiredString(body, "name"));
  FALAJ_RETURN_IF_ERROR(ValidateName("name", rule.name));
  FALAJ_ASSIGN_OR_RETURN(auto description, json::OptionalString(body, "description"));
  rule.description = description.value_or("");
  if (rule.description.size() > 4096) {
    return MakeError(ErrorCode::kInvalidArgument, "description is longer than 4096 bytes");
  }
  FALAJ_ASSIGN_OR_RETURN(rule.value, json::RequiredString(body, "value"));
  FALAJ_RETURN_IF_ERROR(ValidateValueSelector(rule.value));
  FALAJ_ASSIGN_OR_RETURN(auto op, json::RequiredString(body, "op"));
  bool known = false;
  for (const auto& [text, comparison] : kComparisons) {
    if (text == op) {
      rule.op = comparison;
      known = true;
    }
  }
  if (!known) {
    return MakeError(ErrorCode::kInvalidArgument, "op must be one of > >= < <= == !=, got '{}'",
                     op.substr(0, 16));
  }
  auto threshold = body.find("threshold");
  if (threshold == body.end() || !threshold->is_number() ||
      !std::isfinite(threshold->get<double>())) {
    return MakeError(ErrorCode::kInvalidArgument, "threshold must be a finite number");
  }
  rule.threshold = threshold->get<double>();
  if (auto duration = body.find("for"); duration != body.end()) {
    FALAJ_ASSIGN_OR_RETURN(rule.for_ms, ParseDurationMs(*duration, "for", 0, kMaxDurationMs));
  }
  if (auto window = body.find("window"); window != body.end()) {
    FALAJ_ASSIGN_OR_RETURN(rule.window_ms,
                           ParseDurationMs(*window, "window", 1000, kMaxDurationMs));
  }
  FALAJ_ASSIGN_OR_RETURN(auto severity, json::OptionalString(body, "severity"));
  if (severity) {
    FALAJ_RETURN_IF_ERROR(ValidateName("severity", *severity));
    rule.severity = *severity;
  }
  FALAJ_ASSIGN_OR_RETURN(rule.labels, SmallMap(body, "labels"));
  FALAJ_ASSIGN_OR_RETURN(rule.annotations, SmallMap(body, "annotations"));
  FALAJ_ASSIGN_OR_RETURN(auto webhook, json::OptionalString(body, "webhook_url"));
  FALAJ_ASSIGN_OR_RETURN(auto alertmanager, json::OptionalString(body, "alertmanager_url"));
  rule.webhook_url = webhook.value_or("");
  rule.alertmanager_url = alertmanager.value_or("");
  if (!rule.webhook_url.empty())
    FALAJ_RETURN_IF_ERROR(ParseHttpUrl(rule.webhook_url, "webhook_url"));
  if (!rule.alertmanager_url.empty()) {
    FALAJ_RETURN_IF_ERROR(ParseHttpUrl(rule.alertmanager_url, "alertmanager_url"));
  }
  if (auto trigger = body.find("trigger"); trigger != body.end() && !trigger->is_null()) {
    if (!trigger->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "trigger must be an object {kind, spec}");
    }
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(*trigger, {"kind", "spec"}));
    AlertTrigger parsed;
    FALAJ_ASSIGN_OR_RETURN(parsed.kind, json::RequiredString(*trigger, "kind"));
    if (parsed.kind != "train") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "trigger.kind must be \"train\" (retraining), got '{}'",
                       parsed.kind.substr(0, 32));
    }
    auto spec = trigger->find("spec");
    if (spec == trigger->end() || !spec->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "trigger.spec must be a training spec object");
    }
    parsed.spec = *spec;
    rule.trigger = std::move(parsed);
  }
  return rule;
}

nlohmann::json AlertRuleToJson(const AlertRule& rule) {
  nlohmann::json trigger;
  if (rule.trigger) trigger = {{"kind", rule.trigger->kind}, {"spec", rule.trigger->spec}};
  return {{"name", rule.name},
          {"description", rule.description},
          {"value", rule.value},
          {"op", ComparisonText(rule.op)},
          {"threshold", rule.threshold},
          {"for", FormatDurationMs(rule.for_ms)},
          {"window", FormatDurationMs(rule.window_ms)},
          {"severity", rule.severity},
          {"labels", rule.labels},
          {"annotations", rule.annotations},
          {"webhook_url", rule.webhook_url},
          {"alertmanager_url", rule.alertmanager_url},
          {"trigger", trigger}};
}

}  // namespace falaj::monitoring
