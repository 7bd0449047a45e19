#include "monitoring/alert_payloads.h"

#include <fmt/format.h>

#include "common/clock.h"

namespace falaj::monitoring {
namespace {

nlohmann::json Time(int64_t ms) {
  if (ms == 0) return nullptr;
  return FormatRfc3339(FromUnixMillis(ms));
}

}  // namespace

nlohmann::json WebhookPayload(const AlertRule& rule, const Alert& alert,
                              const std::string& generator_url) {
  return {{"version", "1"},
          {"project", alert.project},
          {"rule", rule.name},
          {"series", alert.series},
          {"state", AlertStateName(alert.state)},
          {"value", alert.value},
          {"op", ComparisonText(rule.op)},
          {"threshold", rule.threshold},
          {"severity", rule.severity},
          {"labels", rule.labels},
          {"annotations", rule.annotations},
          {"active_since", Time(alert.active_since_ms)},
          {"fired_at", Time(alert.fired_at_ms)},
          {"resolved_at", Time(alert.resolved_at_ms)},
          {"trigger_job",
           alert.trigger_job.empty() ? nlohmann::json() : nlohmann::json(alert.trigger_job)},
          {"generator_url", generator_url}};
}

nlohmann::json AlertmanagerPayload(const AlertRule& rule, const Alert& alert,
                                   const std::string& generator_url) {
  nlohmann::json labels = rule.labels;
  labels["alertname"] = rule.name;
  labels["project"] = alert.project;
  labels["series"] = alert.series;
  labels["severity"] = rule.severity;
  nlohmann::json annotations = rule.annotations;
  annotations["value"] = fmt::format("{}", alert.value);
  if (!annotations.contains("description")) {
    annotations["description"] = fmt::format("{} = {} {} {}", alert.series, alert.value,
                                             ComparisonText(rule.op), rule.threshold);
  }
  nlohmann::json postable = {{"labels", labels},
                             {"annotations", annotations},
                             {"startsAt", Time(alert.fired_at_ms)},
                             {"generatorURL", generator_url}};
  // Alertmanager resolves an alert whose endsAt has passed; a firing one has none.
  if (alert.state == AlertState::kResolved) postable["endsAt"] = Time(alert.resolved_at_ms);
  return nlohmann::json::array({postable});
}

std::string AlertmanagerAlertsUrl(const std::string& base) {
  std::string url = base;
  while (url.ends_with('/')) url.pop_back();
  return url + "/api/v2/alerts";
}

}  // namespace falaj::monitoring
